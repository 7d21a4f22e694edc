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


def receptive_field_figure(config, notes_midi: tuple[int, ...] = (48, 60, 72)) -> Figure:
    """How far back one prediction sees: cumulative receptive field per layer (left), and that
    window compared with musical time scales — note periods, one conditioning frame (right).

    ``config`` is a ``WaveNetConfig`` (or anything with ``dilations``, ``sample_rate``,
    ``hop_length``, ``local_dim``, ``context_layers``, ``context_hop``).
    """
    sr = config.sample_rate
    dil = list(config.dilations)
    cum = 1 + np.cumsum(dil)  # the one-sample input shift plus each kernel-2 layer's dilation
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax_l, ax_r = fig.subplots(1, 2, width_ratios=[1.2, 1])
    layers = np.arange(1, len(dil) + 1)
    ax_l.step(layers, cum, where="mid", color="#1f77b4")
    ax_l.bar(layers, dil, color="#ff7f0e", alpha=0.5, label="dilation")
    ax_l.set_xlabel("layer")
    ax_l.set_ylabel("samples")
    ax_l.set_title(f"receptive field: {cum[-1]} samples = {1000 * cum[-1] / sr:.1f} ms")
    ax_l.legend(["receptive field", "dilation"], loc="upper left", fontsize=8)
    ax_l.grid(alpha=0.3)
    ms = ax_l.secondary_yaxis("right", functions=(lambda s: 1000 * s / sr, lambda m: m * sr / 1000))
    ms.set_ylabel("ms")

    spans = [("receptive field", 1000 * cum[-1] / sr, "#1f77b4")]
    if getattr(config, "local_dim", 0):
        spans.append(("conditioning frame", 1000 * config.hop_length / sr, "#2ca02c"))
    if getattr(config, "context_layers", 0):
        spans.append(("context stack", 1000 * config.context_hop * 2 ** config.context_layers / sr, "#9467bd"))
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    for m in notes_midi:
        spans.append((f"period of {names[m % 12]}{m // 12 - 1}", 1000 / (440 * 2 ** ((m - 69) / 12)), "#7f7f7f"))
    y = np.arange(len(spans))
    ax_r.barh(y, [s[1] for s in spans], color=[s[2] for s in spans])
    ax_r.set_yticks(y, [s[0] for s in spans], fontsize=8)
    ax_r.invert_yaxis()
    ax_r.set_xscale("log")
    ax_r.set_xlabel("ms (log)")
    ax_r.set_title("compared with musical time")
    ax_r.grid(alpha=0.3, axis="x")
    return fig
