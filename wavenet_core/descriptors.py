"""Audio descriptors shared by the corpus labels, evaluation, sampling and plots.

Numpy/librosa only: nothing here knows about the model.
"""
from __future__ import annotations

import numpy as np

LOUDNESS_FLOOR_DB = -80.0


def frame_loudness_db(audio: np.ndarray, hop_length: int) -> np.ndarray:
    """RMS level in dB FS per frame of ``hop_length`` samples (window 2·hop centred on the frame).

    Frame f covers samples [f·hop, (f+1)·hop), matching the model's local-conditioning frames;
    a full-scale sine measures -3 dB. Floor: -80 dB.
    """
    audio = np.asarray(audio, dtype=np.float64)
    n_frames = max(1, -(-len(audio) // hop_length))
    padded = np.pad(audio, (hop_length // 2, 2 * hop_length))
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop_length)[::hop_length][:n_frames]
    rms = np.sqrt(np.mean(windows ** 2, axis=1))
    return np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), LOUDNESS_FLOOR_DB).astype(np.float32)


def f0_contour(audio: np.ndarray, sample_rate: int, hop_length: int, fmin: float = 50.0, fmax: float = 1600.0,
               silence_db: float = -60.0) -> np.ndarray:
    """Per-frame f0 in Hz by pYIN (0 where unvoiced or silent), aligned with ``frame_loudness_db``."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    n_frames = max(1, -(-len(audio) // hop_length))
    frame_length = 1 << int(np.ceil(np.log2(max(2 * sample_rate / fmin, 4 * hop_length))))
    padded = np.pad(audio, (hop_length // 2, hop_length + frame_length))
    f0, voiced, _ = librosa.pyin(padded, fmin=fmin, fmax=min(fmax, sample_rate / 2 - 1), sr=sample_rate,
                                 frame_length=frame_length, hop_length=hop_length, center=True)
    f0 = np.where(voiced & np.isfinite(f0), f0, 0.0)[:n_frames]
    f0 = np.pad(f0, (0, n_frames - len(f0)))
    loud = frame_loudness_db(audio, hop_length)
    return np.where(loud > silence_db, f0, 0.0).astype(np.float32)
