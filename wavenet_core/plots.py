"""Figures shared by the app, the notebooks and training logs.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so a server can
draw from many threads without shared global state.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .measure.descriptors import midi_to_hz


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
    from matplotlib.ticker import MaxNLocator
    ax_l.xaxis.set_major_locator(MaxNLocator(integer=True))
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
        spans.append((f"period of {names[m % 12]}{m // 12 - 1}", 1000 / float(midi_to_hz(m)), "#7f7f7f"))
    y = np.arange(len(spans))
    ax_r.barh(y, [s[1] for s in spans], color=[s[2] for s in spans])
    ax_r.set_yticks(y, [s[0] for s in spans], fontsize=8)
    ax_r.invert_yaxis()
    ax_r.set_xscale("log")
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
    ax_r.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax_r.xaxis.set_major_formatter(ScalarFormatter())
    ax_r.xaxis.set_minor_formatter(NullFormatter())
    ax_r.set_xlabel("ms (log)")
    ax_r.set_title("compared with musical time")
    ax_r.grid(alpha=0.3, axis="x")
    return fig


# ---- quick figures for a server: every result in the studio draws these two ----------------------
# Fixed margins instead of constrained layout (which lays out every tick label twice per save), and a
# min/max envelope per pixel column instead of a line through every sample: together about twice
# as fast to render as the figures above, with the same look.
def waveform_figure(audio: np.ndarray, sample_rate: int, title: str = "waveform", columns: int = 1600,
                    loudness: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None) -> Figure:
    """Waveform as a per-column min/max envelope (exact for short clips, which are drawn as a line).
    ``loudness``: (frame times s, requested dB or None, measured dB), drawn on a dB axis at the right —
    asked vs measured level over the sound."""
    audio = np.asarray(audio, dtype=np.float32)
    fig = Figure(figsize=(8, 2.2))
    fig.subplots_adjust(left=0.07, right=0.92 if loudness is not None else 0.99, bottom=0.22, top=0.87)
    ax = fig.subplots()
    if loudness is not None:
        times, asked_db, measured_db = loudness
        ax_db = ax.twinx()
        ax_db.plot(times, measured_db, color="#d62728", lw=1.4, label="measured level")
        if asked_db is not None:
            ax_db.plot(times[: len(asked_db)], asked_db, color="#2ca02c", lw=2.2, ls="--", label="asked level")
        ax_db.set_ylim(-80, 0)
        ax_db.set_ylabel("dB FS")
        ax_db.legend(loc="lower right", fontsize=8, framealpha=0.8)
    seconds = len(audio) / sample_rate
    per = len(audio) // columns
    if per >= 2:
        x = audio[: per * columns].reshape(columns, per)
        t = (np.arange(columns) + 0.5) * per / sample_rate
        ax.fill_between(t, x.min(axis=1), x.max(axis=1), lw=0.6, color="#1f77b4", edgecolor="#1f77b4")
    else:
        ax.plot(np.arange(len(audio)) / sample_rate, audio, lw=0.6, color="#1f77b4")
    ax.set_xlim(0, max(seconds, 1e-3))
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def spectrogram_figure(audio: np.ndarray, sample_rate: int, title: str = "spectrogram",
                       pitch: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None) -> Figure:
    """Log-frequency spectrogram (librosa specshow) in dB relative to a full-scale sine, with a colour bar.
    ``pitch``: (frame times s, requested f0 Hz or None, measured f0 Hz), 0 = unvoiced, drawn over it —
    the asked contour and what was heard."""
    import librosa
    import librosa.display

    audio = np.asarray(audio, dtype=np.float32)
    fig = Figure(figsize=(8, 3))
    ax = fig.add_axes((0.09, 0.16, 0.79, 0.74))
    cax = fig.add_axes((0.90, 0.16, 0.015, 0.74))
    n_fft = 1024 if len(audio) >= 1024 else max(32, 1 << int(np.log2(max(len(audio), 32))))
    spec = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=n_fft // 4))
    # A full-scale sine peaks at n_fft/4 with a Hann window: that is 0 dB here.
    db = librosa.amplitude_to_db(spec, ref=n_fft / 4, amin=1e-6, top_db=None)
    img = librosa.display.specshow(np.maximum(db, -100), sr=sample_rate, hop_length=n_fft // 4, x_axis="time",
                                   y_axis="log", ax=ax, vmin=-100, vmax=0, cmap="magma")
    fig.colorbar(img, cax=cax, format="%+2.0f dB")
    if pitch is not None:
        times, asked_hz, measured_hz = pitch
        if asked_hz is not None:
            asked = np.where(np.asarray(asked_hz) > 0, asked_hz, np.nan)
            ax.plot(times[: len(asked)], asked, color="#ffffff", lw=2.4, ls="--", label="asked pitch")
        heard = np.where(np.asarray(measured_hz) > 0, measured_hz, np.nan)
        ax.plot(times[: len(heard)], heard, color="#17becf", lw=1.6, label="measured pitch")
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set_title(title)
    return fig


# ---- teaching figures (notebooks) ---------------------------------------------------------------
def mu_law_figure(mu: int = 255) -> Figure:
    """μ-law companding: the curve with its 256 output levels (left), and the signal-to-noise
    ratio of 8-bit μ-law vs 8-bit linear quantisation of a sine at falling levels (right)."""
    from .model.mulaw import mu_law_decode, mu_law_encode

    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax_c, ax_s = fig.subplots(1, 2)
    x = np.linspace(-1, 1, 2001)
    ax_c.plot(x, np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu), color="#1f77b4", label=f"μ-law (μ = {mu})")
    ax_c.plot(x, x, color="#7f7f7f", ls="--", label="linear")
    levels = mu_law_decode(np.arange(mu + 1))
    ax_c.plot(levels, np.full_like(levels, -1.08), "|", color="#1f77b4", ms=6, alpha=0.6)
    ax_c.set_xlabel("input amplitude")
    ax_c.set_ylabel("companded value")
    ax_c.set_title("the 256 μ-law levels crowd near zero (ticks)")
    ax_c.legend(fontsize=8)
    ax_c.grid(alpha=0.3)

    t = np.arange(16000) / 16000
    sine = np.sin(2 * np.pi * 220 * t)
    db = np.arange(0, -61, -3)
    snr_mu, snr_lin = [], []
    for level in db:
        s = sine * 10 ** (level / 20)
        e_mu = s - mu_law_decode(mu_law_encode(s))
        e_lin = s - linear_quantize(s, 8)
        snr_mu.append(10 * np.log10(np.mean(s ** 2) / max(np.mean(e_mu ** 2), 1e-20)))
        snr_lin.append(10 * np.log10(np.mean(s ** 2) / max(np.mean(e_lin ** 2), 1e-20)))
    ax_s.plot(db, snr_mu, marker=".", label="8-bit μ-law")
    ax_s.plot(db, snr_lin, marker=".", label="8-bit linear")
    ax_s.set_xlabel("sine level (dB FS)")
    ax_s.set_ylabel("SNR (dB)")
    ax_s.set_title("quantisation: signal-to-noise ratio")
    ax_s.invert_xaxis()
    ax_s.legend(fontsize=8)
    ax_s.grid(alpha=0.3)
    return fig


def linear_quantize(audio: np.ndarray, bits: int = 8) -> np.ndarray:
    """Uniform quantisation of [-1, 1] audio to 2**bits levels, as signed integers (8 bits: -128..127)
    with an exact zero."""
    half = 2 ** (bits - 1)
    q = np.clip(np.round(np.asarray(audio, dtype=np.float64) * half), -half, half - 1)
    return (q / half).astype(np.float32)


def dilation_figure(n_layers: int = 4) -> Figure:
    """Which inputs one output sees: a stack of kernel-2 causal convolutions without dilation
    (left) and with dilations 1, 2, 4, … (middle), and receptive field vs depth (right)."""
    fig = Figure(figsize=(11, 3.4), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[1.3, 1.3, 1])
    width = 2 ** n_layers + 2
    for ax, dilated in ((axes[0], False), (axes[1], True)):
        dil = [2 ** i if dilated else 1 for i in range(n_layers)]
        out_t = width - 1
        # walk back from the last output: the set of positions each layer's units read
        active = {n_layers: {out_t}}
        for layer in range(n_layers, 0, -1):
            d = dil[layer - 1]
            active[layer - 1] = {p for t in active[layer] for p in (t, t - d) if p >= 0}
        for layer in range(n_layers + 1):
            xs = np.arange(width)
            on = np.isin(xs, sorted(active[layer]))
            ax.scatter(xs[~on], np.full((~on).sum(), layer), s=14, color="#d0d0d0", zorder=2)
            ax.scatter(xs[on], np.full(on.sum(), layer), s=22, color="#1f77b4" if layer else "#ff7f0e", zorder=3)
            if layer:
                d = dil[layer - 1]
                for t in active[layer]:
                    for p in (t, t - d):
                        if p >= 0:
                            ax.plot([p, t], [layer - 1, layer], color="#1f77b4", lw=0.8, alpha=0.7, zorder=1)
        seen = len(active[0])
        ax.set_yticks(range(n_layers + 1), ["input"] + [f"layer {i + 1} (d={dil[i]})" for i in range(n_layers)],
                      fontsize=8)
        ax.set_xticks([])
        ax.set_xlabel("time →")
        ax.set_title(f"{'dilated' if dilated else 'plain causal'}: one output sees {seen} inputs", fontsize=10)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    depth = np.arange(1, 31)
    axes[2].plot(depth, depth + 1, label="plain causal: L + 1")
    rf_dil = np.array([sum(2 ** (i % 10) for i in range(L)) + 1 for L in depth])
    axes[2].plot(depth, rf_dil, label="dilated, cycles of 1…512")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("layers")
    axes[2].set_ylabel("receptive field (samples)")
    axes[2].set_title("receptive field vs depth", fontsize=10)
    axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    return fig


def gated_unit_figure() -> Figure:
    """The gated activation z = tanh(f)·σ(g): the two curves (left) and z over (f, g) (right)."""
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax_l, ax_r = fig.subplots(1, 2)
    x = np.linspace(-4, 4, 401)
    ax_l.plot(x, np.tanh(x), label="tanh(f): the filter, -1…1")
    ax_l.plot(x, 1 / (1 + np.exp(-x)), label="σ(g): the gate, 0…1")
    ax_l.set_xlabel("pre-activation")
    ax_l.legend(fontsize=8)
    ax_l.grid(alpha=0.3)
    f, g = np.meshgrid(x, x)
    img = ax_r.imshow(np.tanh(f) / (1 + np.exp(-g)), origin="lower", extent=(-4, 4, -4, 4), cmap="RdBu_r",
                      vmin=-1, vmax=1, aspect="auto")
    ax_r.set_xlabel("filter input f")
    ax_r.set_ylabel("gate input g")
    ax_r.set_title("z = tanh(f)·σ(g): the gate opens or shuts the filter", fontsize=9)
    fig.colorbar(img, ax=ax_r)
    return fig


def distribution_figure(probs: np.ndarray, target: np.ndarray | None, sample_rate: int,
                        title: str = "predicted distribution over the 256 μ-law classes") -> Figure:
    """Heatmap of a (256, T) next-sample distribution over time (log probability), with the
    classes that actually came next drawn on top."""
    probs = np.asarray(probs, dtype=np.float64)
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.subplots()
    t_ms = 1000 * np.arange(probs.shape[1]) / sample_rate
    extent = (t_ms[0], t_ms[-1] if len(t_ms) > 1 else 1.0, -0.5, probs.shape[0] - 0.5)
    img = ax.imshow(np.log10(np.maximum(probs, 1e-6)), origin="lower", aspect="auto", extent=extent,
                    cmap="magma", vmin=-6, vmax=0, interpolation="nearest")
    if target is not None:
        ax.plot(t_ms, target, color="#17becf", lw=0.5, ls="--", alpha=0.9, label="actual next sample")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("μ-law class")
    ax.set_title(title, fontsize=10)
    fig.colorbar(img, ax=ax, label="log10 p")
    return fig


def local_features_figure(local: np.ndarray, names: tuple[str, ...], frame_rate: float,
                          title: str = "local conditioning (one column per frame)") -> Figure:
    """A (features, frames) local-conditioning matrix as a heatmap with named rows."""
    local = np.asarray(local, dtype=np.float64)
    fig = Figure(figsize=(8, 0.35 * len(names) + 1.4), layout="constrained")
    ax = fig.subplots()
    img = ax.imshow(local, aspect="auto", interpolation="nearest", cmap="viridis",
                    extent=(0, local.shape[1] / frame_rate, len(names) - 0.5, -0.5))
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(img, ax=ax)
    return fig


def pitch_figure(times: np.ndarray, requested_midi: np.ndarray | None, measured_midi: np.ndarray,
                 title: str = "pitch: requested vs measured") -> Figure:
    """Requested and measured pitch (MIDI, NaN = silent/unvoiced) over time, with the error in cents."""
    measured = np.asarray(measured_midi, dtype=np.float64)
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.subplots()
    if requested_midi is not None:
        ax.plot(times, requested_midi, color="#7f7f7f", lw=3, alpha=0.6, label="requested")
    ax.plot(times[: len(measured)], measured[: len(times)], ".", color="#d62728", ms=3, label="measured (pYIN)")
    ok = np.isfinite(measured[: len(times)])
    if requested_midi is not None:
        req = np.asarray(requested_midi, dtype=np.float64)[: len(measured)]
        both = ok[: len(req)] & np.isfinite(req)
        if both.any():
            cents = 100 * np.abs(measured[: len(req)][both] - req[both])
            title += f" — median error {np.median(cents):.0f} cents, {100 * np.mean(cents <= 50):.0f}% within 50"
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def latent_figure(latent: np.ndarray, frame_rate: float, title: str = "latent code (one column per frame)") -> Figure:
    """A (frames, dims) autoencoder latent as a heatmap (dims down, time across)."""
    z = np.asarray(latent, dtype=np.float64)
    fig = Figure(figsize=(8, 2.6), layout="constrained")
    ax = fig.subplots()
    lim = max(float(np.abs(z).max()), 1e-6)
    img = ax.imshow(z.T, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-lim, vmax=lim,
                    extent=(0, len(z) / frame_rate, z.shape[1] - 0.5, -0.5))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("latent dim")
    ax.set_title(title, fontsize=10)
    fig.colorbar(img, ax=ax)
    return fig


def scatter_figure(points: np.ndarray, labels: list, title: str = "", xlabel: str = "PC 1",
                   ylabel: str = "PC 2") -> Figure:
    """2-D points coloured by a label (e.g. latents on two principal directions by instrument)."""
    pts = np.asarray(points, dtype=np.float64)
    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for name in sorted(set(labels), key=str):
        sel = np.array([lab == name for lab in labels])
        ax.scatter(pts[sel, 0], pts[sel, 1], s=18, alpha=0.8, label=str(name))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, markerscale=1.2)
    ax.grid(alpha=0.3)
    return fig


def spectrogram_grid_figure(clips: list[np.ndarray], sample_rate: int, titles: list[str], ncols: int | None = None,
                            suptitle: str = "") -> Figure:
    """Small log-frequency spectrograms side by side (e.g. an interpolation from clip A to clip B)."""
    import librosa
    import librosa.display
    from matplotlib.ticker import MaxNLocator

    n = len(clips)
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig = Figure(figsize=(2.3 * ncols, 2.2 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    n_fft = 512 if min(len(c) for c in clips) >= 512 else 64
    specs = [np.abs(librosa.stft(np.asarray(c, dtype=np.float32), n_fft=n_fft, hop_length=n_fft // 4)) for c in clips]
    ref = max(max(float(s.max()) for s in specs), 1e-9)      # one scale for the grid: dB below its loudest bin
    for ax, spec, name in zip(axes, specs, titles):
        db = librosa.amplitude_to_db(spec, ref=ref, top_db=None)
        librosa.display.specshow(db, sr=sample_rate, hop_length=n_fft // 4, x_axis="time", y_axis="log", ax=ax,
                                 vmin=-80, vmax=0, cmap="magma")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


# ---- sampling: candidates against the target box ------------------------------------------------
def candidate_scatter_figure(result, x: str = "pitch", y: str = "brightness") -> Figure:
    """Every candidate of a sampling run (``sampling.SamplingResult`` or its ``to_dict()``) as a point
    (x, y) of two measured properties, with the target box of those properties shaded and the
    accepted candidates highlighted; picks that miss the targets are ringed. Candidates stopped
    early are drawn as crosses at their prefix's values (they have no pitch); candidates with no
    value on an axis are counted in the legend."""
    import math

    from matplotlib.patches import Rectangle

    d = result.to_dict() if hasattr(result, "to_dict") else result
    cands = d.get("candidates", [])

    def value(c: dict, name: str):
        if name in ("novelty", "timbre"):
            return c.get(name)
        return (c.get("descriptors") or {}).get(name)

    groups = {"accepted": ([], [], dict(s=46, color="#2ca02c", edgecolor="black", linewidths=0.6, zorder=4)),
              "rejected": ([], [], dict(s=22, color="#9a9a9a", zorder=3)),
              "early_rejected": ([], [], dict(s=24, color="#d62728", marker="x", zorder=3)),
              "unfinished": ([], [], dict(s=18, color="#c5b0d5", marker=".", zorder=2))}
    rings: tuple[list, list] = ([], [])
    missing = 0
    for c in cands:
        vx, vy = value(c, x), value(c, y)
        if not isinstance(vx, (int, float)) or not isinstance(vy, (int, float)):
            missing += 1
            continue
        xs, ys, _ = groups.get(c.get("status"), groups["rejected"])
        xs.append(vx)
        ys.append(vy)
        if c.get("picked") and not c.get("meets_targets"):
            rings[0].append(vx)
            rings[1].append(vy)
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    for status, (xs, ys, style) in groups.items():
        if xs:
            ax.scatter(xs, ys, label=f"{status.replace('_', ' ')} ({len(xs)})", **style)
    if rings[0]:
        ax.scatter(*rings, s=120, facecolors="none", edgecolors="#ff7f0e", linewidths=1.5, zorder=5,
                   label=f"closest, misses targets ({len(rings[0])})")
    ranges = {t["name"]: (t.get("low"), t.get("high")) for t in d.get("targets", []) if "label" not in t}
    if x in ranges or y in ranges:
        ax.autoscale_view()
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()

        def span(name, a, b):
            lo, hi = ranges.get(name, (None, None))
            lo = a if lo is None else lo
            hi = b if hi is None else hi
            return lo, hi
        (bx0, bx1), (by0, by1) = span(x, x0, x1), span(y, y0, y1)
        if all(math.isfinite(v) for v in (bx0, bx1, by0, by1)):
            ax.add_patch(Rectangle((bx0, by0), bx1 - bx0, by1 - by0, facecolor="#2ca02c", alpha=0.12,
                                   edgecolor="#2ca02c", lw=1.2, ls="--", zorder=1, label="target box"))
            ax.set_xlim(min(x0, bx0 - 0.05 * (bx1 - bx0)), max(x1, bx1 + 0.05 * (bx1 - bx0)))
            ax.set_ylim(min(y0, by0 - 0.05 * (by1 - by0)), max(y1, by1 + 0.05 * (by1 - by0)))
    if missing:
        ax.scatter([], [], color="none", label=f"no {x}/{y} value ({missing})")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    n, acc = d.get("candidates_generated", len(cands)), d.get("accepted", 0)
    rate, saved = d.get("acceptance_rate", 0.0) or 0.0, d.get("saved_fraction", 0.0) or 0.0
    ax.set_title(f"{n} candidates, {acc} accepted ({100 * rate:.0f} %); early rejection saved {100 * saved:.0f} %",
                 fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return fig


def acceptance_figure(widths: np.ndarray, rates: np.ndarray, name: str, unit: str = "") -> Figure:
    """Rejection sampling's price: the share of candidates inside a target range of each width
    (left axis) and the candidates needed per accepted clip, 1 / share (right axis, log)."""
    widths, rates = np.asarray(widths, dtype=np.float64), np.asarray(rates, dtype=np.float64)
    fig = Figure(figsize=(7, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(widths, 100 * rates, marker=".", color="#1f77b4")
    ax.set_xscale("log")
    ax.set_xlabel(f"target width ({name}{', ' + unit if unit else ''})")
    ax.set_ylabel("acceptance (%)", color="#1f77b4")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ok = rates > 0
    ax2 = ax.twinx()
    ax2.plot(widths[ok], 1 / rates[ok], marker=".", color="#d62728")
    ax2.set_yscale("log")
    ax2.set_ylabel("candidates per accepted clip", color="#d62728")
    ax.set_title(f"narrower targets cost more: {name}", fontsize=10)
    return fig


# ---- steering: the search's path toward the targets ----------------------------------------------
_STEER_UNITS = {"pitch": "MIDI", "loudness": "dB", "brightness": "Hz", "noisiness": "flatness",
                "voiced_fraction": "share", "onset_rate": "per s", "sounding_seconds": "s"}


def _shade_band(ax, low, high, label: str = "target") -> None:
    """Shade a target range on the y axis (an open end reaches the edge of the plot)."""
    import math

    lo = None if low is None or (isinstance(low, float) and math.isinf(low)) else float(low)
    hi = None if high is None or (isinstance(high, float) and math.isinf(high)) else float(high)
    ax.autoscale_view()
    y0, y1 = ax.get_ylim()
    for v in (lo, hi):
        if v is not None:
            y0, y1 = min(y0, v), max(y1, v)
    pad = 0.08 * max(y1 - y0, 1e-9)
    y0, y1 = y0 - pad, y1 + pad
    ax.axhspan(y0 if lo is None else lo, y1 if hi is None else hi, color="#2ca02c", alpha=0.15, lw=0, label=label)
    for v in (lo, hi):
        if v is not None:
            ax.axhline(v, color="#2ca02c", lw=1, ls="--")
    ax.set_ylim(y0, y1)


def steering_path_figure(result) -> Figure:
    """A steering search (``steering.SteerResult`` or its ``to_dict()``) step by step: for each target,
    the descriptor of the best code so far against the decodes used, with the target band shaded
    (top row); the best code's distance to the targets against decodes (bottom left); and every
    decoded candidate as latent distance moved vs distance to the targets, the result ringed
    (bottom right)."""
    from matplotlib.ticker import MaxNLocator

    d = result.to_dict() if hasattr(result, "to_dict") else result
    path = d.get("path", [])
    targets = [t for t in d.get("targets", []) if "label" not in t]
    decodes = [s["decodes"] for s in path]
    spent = (0.5, max([d.get("budget") or 0, *decodes, 1]) + 0.5)      # x: the whole budget
    n = max(1, len(targets))
    fig = Figure(figsize=(max(8.0, 3.0 * n), 5.6), layout="constrained")
    grid = fig.add_gridspec(2, 2 * n)
    for k, t in enumerate(targets):
        ax = fig.add_subplot(grid[0, 2 * k: 2 * k + 2])
        name = t["name"]
        ys = [np.nan if s["descriptors"].get(name) is None else float(s["descriptors"][name]) for s in path]
        ax.plot(decodes, ys, marker="o", ms=4, color="#1f77b4", drawstyle="steps-post", label="best so far")
        _shade_band(ax, t.get("low"), t.get("high"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(*spent)
        ax.set_xlabel("decodes used")
        ax.set_ylabel(f"{name.replace('_', ' ')} ({_STEER_UNITS.get(name, '')})")
        ax.set_title(f"{name.replace('_', ' ')}: target {t.get('text', '').split('=', 1)[-1]}", fontsize=10)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=8, loc="best")
    ax_d = fig.add_subplot(grid[1, :n])
    ax_d.plot(decodes, [s["distance"] for s in path], marker="o", ms=4, color="#d62728", drawstyle="steps-post")
    ax_d.axhline(0, color="#2ca02c", lw=1, ls="--")
    ax_d.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_d.set_xlim(*spent)
    ax_d.set_xlabel("decodes used")
    ax_d.set_ylabel("distance to targets")
    ax_d.set_title("best code's distance to the targets (0 = all met)", fontsize=10)
    ax_d.grid(alpha=0.3)
    ax_c = fig.add_subplot(grid[1, n:])
    cands = d.get("candidates", [])
    if cands:
        ax_c.scatter([c["latent_distance"] for c in cands], [c["distance"] for c in cands], s=22, color="#9a9a9a",
                     label=f"candidates ({len(cands)})", zorder=2)
    ax_c.scatter([d.get("latent_distance", 0.0)], [d.get("distance", 0.0)], s=110, facecolors="none",
                 edgecolors="#2ca02c" if d.get("met") else "#ff7f0e", linewidths=1.8, zorder=3,
                 label="result (targets met)" if d.get("met") else "result (closest, not met)")
    ax_c.scatter([0.0], [d.get("start_distance", np.nan)], s=40, marker="s", color="#1f77b4", zorder=3, label="start")
    ax_c.ticklabel_format(useOffset=False)
    ax_c.set_xlabel("latent distance moved (std)")
    ax_c.set_ylabel("distance to targets")
    ax_c.set_title("every decoded candidate", fontsize=10)
    ax_c.grid(alpha=0.3)
    ax_c.legend(fontsize=8, loc="best")
    verdict = "targets met" if d.get("met") else "closest found, targets not met"
    fig.suptitle(f"steering: {verdict} after {d.get('decodes', 0)} of {d.get('budget', 0)} decodes, "
                 f"moved {d.get('latent_distance', 0.0):.2f} std", fontsize=11)
    return fig


def steering_vs_sliders_figure(sweep: list[tuple[float, dict]], result, x: str = "loudness",
                               y: str = "brightness", direction: int = 1) -> Figure:
    """Hand edits vs steering on the same descriptor axes: a slider sweep along one principal
    direction (``sweep``: (offset in std, descriptors of its decoded audio) pairs, drawn as a line
    with each offset labelled) and a steering search's path (``result``: ``SteerResult`` or its
    ``to_dict()``, the best code after each generation) with the target box shaded."""
    import math

    from matplotlib.patches import Rectangle

    d = result.to_dict() if hasattr(result, "to_dict") else result
    fig = Figure(figsize=(6.6, 4.6), layout="constrained")
    ax = fig.subplots()

    def xy(desc):
        vx, vy = desc.get(x), desc.get(y)
        return (np.nan if vx is None else float(vx)), (np.nan if vy is None else float(vy))
    pts = np.array([xy(desc) for _, desc in sweep]) if sweep else np.zeros((0, 2))
    if len(pts):
        ax.plot(pts[:, 0], pts[:, 1], marker="o", ms=5, color="#7f7f7f", label=f"slider on direction {direction}")
        for (s, _), (px, py) in zip(sweep, pts):
            ax.annotate(f"{s:+g}σ", (px, py), textcoords="offset points", xytext=(4, 4), fontsize=8, color="#555555")
    path = np.array([xy(s["descriptors"]) for s in d.get("path", [])])
    if len(path):
        ax.plot(path[:, 0], path[:, 1], marker="o", ms=5, color="#1f77b4", label="steering (best so far)")
        ax.scatter(path[-1:, 0], path[-1:, 1], s=120, facecolors="none", linewidths=1.8,
                   edgecolors="#2ca02c" if d.get("met") else "#ff7f0e", zorder=4,
                   label=f"steered result, moved {d.get('latent_distance', 0.0):.2f} std")
    ranges = {t["name"]: (t.get("low"), t.get("high")) for t in d.get("targets", []) if "label" not in t}
    ax.margins(0.1)                                   # room for the offset labels
    if x in ranges or y in ranges:
        ax.autoscale_view()
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()

        def span(name, a, b):
            lo, hi = ranges.get(name, (None, None))
            lo = a if lo is None or (isinstance(lo, float) and math.isinf(lo)) else lo
            hi = b if hi is None or (isinstance(hi, float) and math.isinf(hi)) else hi
            return lo, hi
        (bx0, bx1), (by0, by1) = span(x, x0, x1), span(y, y0, y1)
        ax.add_patch(Rectangle((bx0, by0), bx1 - bx0, by1 - by0, facecolor="#2ca02c", alpha=0.12, edgecolor="#2ca02c",
                               lw=1.2, ls="--", zorder=1, label="target"))
        ax.set_xlim(min(x0, bx0 - 0.05 * (bx1 - bx0)), max(x1, bx1 + 0.05 * (bx1 - bx0)))
        ax.set_ylim(min(y0, by0 - 0.05 * (by1 - by0)), max(y1, by1 + 0.05 * (by1 - by0)))
    ax.set_xlabel(f"{x.replace('_', ' ')} ({_STEER_UNITS.get(x, '')})")
    ax.set_ylabel(f"{y.replace('_', ' ')} ({_STEER_UNITS.get(y, '')})")
    ax.set_title("hand edits (one slider) vs steering to a target", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig
