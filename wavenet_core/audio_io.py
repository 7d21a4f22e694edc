"""Read any audio file to mono float32 at a chosen rate; write WAV atomically.

Every bad-input error about an audio file is raised here, once, as ``AudioError`` with a
one-line message that says what is wrong and what to do.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

MAX_FILE_BYTES = 200 * 1024 * 1024     # refuse before decoding anything bigger
MAX_SECONDS = 600.0                    # refuse longer recordings unless the caller raises the limit


class AudioError(ValueError):
    """A user-supplied audio file or array cannot be used; the message says why and what to do."""


def _decode(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return data, sr
    except Exception as sf_error:  # noqa: BLE001 - libsndfile reports many kinds; fall back to audioread
        try:
            import librosa  # mp3 and other codecs through audioread/ffmpeg where installed
            y, sr = librosa.load(str(path), sr=None, mono=False)
            y = np.atleast_2d(y).T.astype(np.float32)
            return y, int(sr)
        except Exception:  # noqa: BLE001
            reason = str(sf_error).split("\n")[0].strip() or type(sf_error).__name__
            raise AudioError(f"{path.name}: not a readable audio file ({reason}); use WAV, FLAC or OGG.") from None


def check_audio(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Validate a mono float array: non-empty, finite. Returns float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise AudioError(f"{name}: expected mono audio (1-D array), got shape {audio.shape}; mix down first.")
    if audio.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples); give a clip with sound in it.")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{name}: the audio contains NaN or infinite samples; re-export it from your editor.")
    return audio


def load_audio(path: str | os.PathLike, sample_rate: int, max_seconds: float | None = MAX_SECONDS,
               truncate: bool = False) -> np.ndarray:
    """Any file → mono float32 at ``sample_rate``, in [-1, 1].

    Longer than ``max_seconds``: refused, or cut to that length with ``truncate=True``.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file; check the path.")
    size = path.stat().st_size
    if size == 0:
        raise AudioError(f"{path.name}: the file is empty (0 bytes); choose a real recording.")
    if size > MAX_FILE_BYTES:
        raise AudioError(f"{path.name}: the file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit; trim it first.")
    if max_seconds is not None and not truncate:
        try:
            info = sf.info(str(path))
            if info.frames / info.samplerate > max_seconds:
                raise AudioError(f"{path.name}: {info.frames / info.samplerate:.0f} s is longer than the "
                                 f"{max_seconds:.0f} s limit; trim it or pass a shorter clip.")
        except AudioError:
            raise
        except Exception:  # noqa: BLE001 - unreadable headers are reported by _decode below
            pass
    data, sr = _decode(path)
    if data.shape[0] == 0:
        raise AudioError(f"{path.name}: the file holds no audio samples; choose a recording with sound in it.")
    if max_seconds is not None and data.shape[0] / sr > max_seconds:
        if not truncate:
            raise AudioError(f"{path.name}: {data.shape[0] / sr:.0f} s is longer than the {max_seconds:.0f} s limit; "
                             "trim it or pass a shorter clip.")
        data = data[: int(max_seconds * sr)]
    mono = check_audio(data.mean(axis=1), path.name)
    if sr != sample_rate:
        import librosa
        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq").astype(np.float32)
    return np.clip(mono, -1.0, 1.0)


def atomic_write_bytes(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` then rename over ``path``: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono float audio as 16-bit WAV, atomically."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return atomic_write_bytes(path, lambda tmp: sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV"))


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float [-1, 1] → int16 (what Gradio plays without re-normalising)."""
    return (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767).astype(np.int16)
