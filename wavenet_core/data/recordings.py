"""Real monophonic recordings shipped in ``assets/recordings/`` (timbre transfer: evaluation, tests, demos).

Nothing is downloaded and no third-party package is needed at run time: each recording is a short
16 kHz mono FLAC cut from an openly licensed source by the script beside it
(``assets/recordings/README.md`` records source, licence and the exact command).

| name | file | what | source | licence |
|---|---|---|---|---|
| ``melody`` | ``assets/recordings/melody.flac`` | 5.0 s, 16 kHz mono: a real recording of a monophonic melody (pYIN: C4 D4 E4 F4 G4 A4, voiced on ~93 % of its frames) | music21 10.5.1's ``audioSearch/test_audio.wav`` (2.6–7.6 s) | BSD-3-Clause |
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RECORDINGS_DIR = Path(__file__).resolve().parents[2] / "assets" / "recordings"


@dataclass(frozen=True)
class Recording:
    name: str
    filename: str         # inside assets/recordings/
    description: str
    source: str
    licence: str


RECORDINGS: dict[str, Recording] = {
    "melody": Recording("melody", "melody.flac",
                        "5 s, 16 kHz mono recording of a monophonic melody (stepwise from C4 to A4)",
                        "music21 10.5.1 (PyPI), music21/audioSearch/test_audio.wav, 2.6–7.6 s", "BSD-3-Clause"),
}


class RecordingError(FileNotFoundError):
    """A shipped recording is missing (a FileNotFoundError: the CLI prints it as one line)."""


def recording_path(name: str = "melody") -> Path:
    """Path of a shipped recording (a 16 kHz mono FLAC; ``load_recording`` decodes it)."""
    if name not in RECORDINGS:
        raise ValueError(f"unknown recording {name!r}; choose from: {', '.join(RECORDINGS)}")
    path = RECORDINGS_DIR / RECORDINGS[name].filename
    if not path.is_file():
        raise RecordingError(f"recording {name!r}: {path} is missing; restore it from git "
                             f"(assets/recordings/README.md says how it was made)")
    return path


def recording_paths() -> dict[str, Path]:
    """Every shipped recording that is present, name → path (empty if none is)."""
    out = {}
    for name in RECORDINGS:
        try:
            out[name] = recording_path(name)
        except RecordingError:
            pass
    return out


def load_recording(name: str = "melody", sample_rate: int = 16000) -> np.ndarray:
    """A shipped recording as mono float32 (samples,) in [-1, 1] at ``sample_rate`` Hz."""
    from ..audio_io import load_audio

    return load_audio(recording_path(name), sample_rate)
