"""Read any audio file to mono float32 at a chosen rate; write WAV atomically.

Every bad-input error about an audio file is raised here, once, as ``AudioError`` with a
one-line message that says what is wrong and what to do.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

MAX_FILE_BYTES = 200 * 1024 * 1024     # refuse before decoding anything bigger
MAX_SECONDS = 600.0                    # refuse longer recordings unless the caller raises the limit


class AudioError(ValueError):
    """A user-supplied audio file or array cannot be used; the message says why and what to do."""


MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 768_000   # what real recordings use; anything else is a broken header
_UNKNOWN_FRAMES = 2 ** 62                          # libsndfile's "length unknown" (e.g. a streamed FLAC)
_BLOCK_VALUES = 1 << 20                            # decode in blocks of about this many samples


def _check_rate(path: Path, sr: int) -> None:
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(f"{path.name}: sample rate {sr} Hz is not a real audio rate ({MIN_SAMPLE_RATE}–"
                         f"{MAX_SAMPLE_RATE} Hz); the header is broken, re-export the file.")


def _too_long(path: Path, seconds: float | None, max_seconds: float) -> AudioError:
    length = f"{seconds:.0f} s is" if seconds is not None else "the audio is"
    return AudioError(f"{path.name}: {length} longer than the {max_seconds:.0f} s limit; trim it or pass a shorter clip.")


def _decode(path: Path, max_seconds: float | None, truncate: bool) -> tuple[np.ndarray, int]:
    """Decode to mono at most ``max_seconds`` (+1 frame, to tell "longer") in bounded blocks.

    The header's length is only trusted to refuse early; memory follows the samples actually
    decoded, mixed down block by block, so a header claiming hours, an unknown length or
    hundreds of channels costs no more than ``max_seconds`` of mono audio.
    """
    try:
        f = sf.SoundFile(str(path))
    except Exception as sf_error:  # noqa: BLE001 - libsndfile reports many kinds; try another decoder
        return _decode_other(path, sf_error, max_seconds)
    with f:
        sr, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
        _check_rate(path, sr)
        if max_seconds is not None and not truncate and frames < _UNKNOWN_FRAMES and frames > max_seconds * sr:
            raise _too_long(path, frames / sr, max_seconds)   # refused from the header, before decoding
        limit = None if max_seconds is None else int(max_seconds * sr) + 1
        block = max(1024, _BLOCK_VALUES // channels)
        blocks, n = [], 0
        try:
            while limit is None or n < limit:
                want = block if limit is None else min(block, limit - n)
                b = f.read(want, dtype="float32", always_2d=True)
                if len(b):
                    with np.errstate(invalid="ignore", over="ignore"):   # inf - inf: NaN, refused below
                        blocks.append(b.mean(axis=1))
                    n += len(b)
                if len(b) < want:
                    break
        except Exception as e:  # noqa: BLE001 - a corrupt stream part-way through
            reason = str(e).split("\n")[0].strip() or type(e).__name__
            raise AudioError(f"{path.name}: the audio data is damaged ({reason}); re-export the file.") from None
    return (np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)), sr


def _decode_other(path: Path, sf_error: Exception, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Formats libsndfile cannot open (AAC, WMA, …) through audioread, when it has a real decoder
    (ffmpeg, GStreamer, Core Audio); its pure-Python fallback reads nothing libsndfile cannot."""
    reason = str(sf_error).split("\n")[0].strip() or type(sf_error).__name__
    # libsndfile says "Error opening '/full/path': Format not recognised." — keep the reason, not the
    # path (the file is named at the start; on a server the path is its private temp folder).
    reason = re.sub(r"^Error opening .*?: ", "", reason).rstrip(".") or "unknown format"
    refused = AudioError(f"{path.name}: not a readable audio file ({reason}); use WAV, FLAC, OGG or MP3.")
    try:
        import audioread
        decoders = [b for b in audioread.available_backends() if b.__name__ != "RawAudioFile"]
    except Exception:  # noqa: BLE001
        decoders = []
    if not decoders:
        raise refused from None
    try:
        import warnings

        import librosa
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y, sr = librosa.load(str(path), sr=None, mono=False,
                                 duration=None if max_seconds is None else max_seconds + 1.0)
    except Exception:  # noqa: BLE001
        raise refused from None
    _check_rate(path, int(sr))
    return np.atleast_2d(y).mean(axis=0).astype(np.float32), int(sr)


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
        raise AudioError(f"{path.name}: the file is {size / 2**20:.0f} MB, over the {MAX_FILE_BYTES / 2**20:.0f} MB limit; "
                         "trim it first.")
    data, sr = _decode(path, max_seconds, truncate)     # mono
    if data.shape[0] == 0:
        raise AudioError(f"{path.name}: the file holds no audio samples; choose a recording with sound in it.")
    if max_seconds is not None and data.shape[0] > max_seconds * sr:
        if not truncate:
            raise _too_long(path, None, max_seconds)
        data = data[: int(max_seconds * sr)]
    mono = check_audio(data, path.name)
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
    # mkstemp makes the file private (0600); the result should read like any other file written
    # there: keep the mode of the file it replaces, else the usual 0644.
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        write(tmp)
        os.chmod(tmp, mode)
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


AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono float audio as 16-bit WAV or FLAC, chosen by the file's suffix, atomically.

    Both hold the same 16-bit samples, ``to_int16(audio)`` (FLAC is lossless, about half the size)."""
    path = Path(path)
    kind = AUDIO_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path.name}: write .wav or .flac (got {path.suffix or 'no suffix'!r}).")
    fmt, subtype = kind
    pcm = to_int16(audio)       # one rounding for both formats (and the studio's player): identical samples
    return atomic_write_bytes(path, lambda tmp: sf.write(tmp, pcm, sample_rate, subtype=subtype, format=fmt))


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float [-1, 1] → int16 (what Gradio plays without re-normalising)."""
    return (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767).astype(np.int16)
