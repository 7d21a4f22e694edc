"""Figures shared by the app, the notebooks and training logs.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so a server can
draw from many threads without shared global state.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def training_curves_figure(rows: list[dict]) -> Figure:
    """Loss and accuracy curves from training log rows (dicts with step, *_loss, *_acc)."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    steps = [r["step"] for r in rows]
    for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
        for split in ("train", "val"):
            ax.plot(steps, [r[f"{split}_{key}"] for r in rows], label=split, marker="." if len(rows) < 30 else None)
        ax.set_xlabel("step")
        ax.set_title("cross-entropy (nats)" if key == "loss" else "next-sample accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def waveform_figure(audio: np.ndarray, sample_rate: int, title: str = "waveform") -> Figure:
    fig = Figure(figsize=(8, 2.2), layout="constrained")
    ax = fig.subplots()
    t = np.arange(len(audio)) / sample_rate
    ax.plot(t, audio, lw=0.5, color="#1f77b4")
    ax.set_xlim(0, max(t[-1] if len(t) else 0, 1e-3))
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def spectrogram_figure(audio: np.ndarray, sample_rate: int, title: str = "spectrogram") -> Figure:
    """Log-frequency spectrogram in dB (librosa specshow) with a colour bar."""
    import librosa
    import librosa.display

    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.subplots()
    n_fft = 1024 if len(audio) >= 1024 else max(32, 1 << int(np.log2(max(len(audio), 32))))
    spec = np.abs(librosa.stft(np.asarray(audio, dtype=np.float32), n_fft=n_fft, hop_length=n_fft // 4))
    db = librosa.amplitude_to_db(spec, ref=1.0, top_db=90)
    img = librosa.display.specshow(db, sr=sample_rate, hop_length=n_fft // 4, x_axis="time", y_axis="log", ax=ax,
                                   vmin=-90, vmax=max(0.0, float(db.max())), cmap="magma")
    fig.colorbar(img, ax=ax, format="%+2.0f dB")
    ax.set_title(title)
    return fig
