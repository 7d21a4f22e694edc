"""Train on a folder of the user's own audio files.

Files are found recursively, decoded to mono at the model rate, and their frame features
(f0 by pYIN, loudness) computed once and cached on disk, keyed by a hash of the file's bytes.
Unusable files are skipped and named in a report; finding nothing usable is an error.
If the folder has two or more sub-folders holding audio, each sub-folder is an instrument.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio_io import AudioError, atomic_write_bytes, load_audio
from ..measure.descriptors import frame_loudness_db, pitch_track
from .corpus import Example

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
DEFAULT_CACHE = Path(os.environ.get("WAVENET_CACHE", Path.home() / ".cache" / "wavenet_core"))


@dataclass
class FolderReport:
    used: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)   # file → reason
    instruments: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"{len(self.used)} file(s) used ({self.seconds:.1f} s of audio), {len(self.skipped)} skipped."]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def _features(audio: np.ndarray, sr: int, hop: int, key: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    # v2: f0 by pitch_track (refined, aligned with the loudness frames); v1 entries were plain pYIN a frame late
    cache = cache_dir / f"{key}-{sr}-{hop}-v2.npz"
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return z["f0"], z["loudness"]
        except Exception:  # noqa: BLE001 - a damaged cache entry is just recomputed
            pass
    f0, loud = pitch_track(audio, sr, hop), frame_loudness_db(audio, hop)

    def write(tmp):
        with open(tmp, "wb") as f:      # closed before the rename; a file object: np.savez would add ".npz" to a path
            np.savez(f, f0=f0, loudness=loud)
    atomic_write_bytes(cache, write)
    return f0, loud


def load_folder(folder: str | os.PathLike, sample_rate: int, hop_length: int, min_samples: int,
                cache_dir: str | os.PathLike | None = None, max_seconds: float = 600.0) -> tuple[list[Example], FolderReport]:
    """All usable audio under ``folder`` as labelled Examples, plus a report of what was skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; point --data at a folder of audio files.")
    cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE / "features"
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    subdirs = sorted({p.relative_to(folder).parts[0] for p in files if len(p.relative_to(folder).parts) > 1})
    report = FolderReport(instruments=subdirs if len(subdirs) >= 2 else [])
    examples: list[Example] = []
    for path in files:
        rel = str(path.relative_to(folder))
        try:
            audio = load_audio(path, sample_rate, max_seconds=max_seconds)
        except AudioError as e:
            report.skipped[rel] = str(e).split(": ", 1)[-1]
            continue
        if len(audio) < min_samples:
            report.skipped[rel] = f"too short ({len(audio)} samples at {sample_rate} Hz; one training window is {min_samples})"
            continue
        if np.max(np.abs(audio)) < 1e-4:
            report.skipped[rel] = "silent (peak below -80 dB)"
            continue
        key = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
        f0, loud = _features(audio, sample_rate, hop_length, key, cache_dir)
        parts = path.relative_to(folder).parts
        inst = report.instruments.index(parts[0]) if report.instruments and len(parts) > 1 else -1
        examples.append(Example(audio, sample_rate, hop_length, inst, f0, loud, name=rel))
        report.used.append(rel)
        report.seconds += len(audio) / sample_rate
    if not examples:
        found = f"{len(files)} audio file(s)" if files else "no audio files (.wav, .flac, .ogg, .mp3)"
        raise ValueError(f"{folder}: nothing to train on — found {found}, none usable"
                         + (f" ({'; '.join(f'{k}: {v}' for k, v in list(report.skipped.items())[:3])})" if report.skipped else "")
                         + ". Add recordings longer than one training window.")
    return examples, report
