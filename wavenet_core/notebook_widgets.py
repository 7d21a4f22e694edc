"""Display and widget helpers shared by the teaching notebooks (``notebooks/``) and their tests.

Everything that builds an ``ipywidgets.interactive`` lives here, so the tests can build the same
widget headlessly, move a slider (``control(w, "pitch").value = 67``) and read ``w.result``.
Figures come from ``wavenet_core.plots``; audio is shown with ``IPython.display.Audio``.

Each explorer's callback returns a dict (the audio, what was asked, what was measured) and keeps
a small cache keyed by the slider values, so showing the default result again costs nothing.
"""
from __future__ import annotations

import io
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

# Figures are drawn without pyplot and embedded as PNG, so they show whatever backend is active.
# A low resolution keeps executed notebooks small (they are committed with their outputs); text is
# enlarged instead (``readable``) so figures stay legible on a projector.
DPI = 72
READABLE_SCALE = 1.2      # text 20 % larger relative to each figure than in the studio (``readable``)
MIN_FONT = 10.0           # points: no smaller text in a notebook figure (``readable``)
JPEG_ABOVE = 20_000       # bytes: a figure whose PNG is larger is shown as a JPEG when that is smaller
JPEG_QUALITY = 85
KEY_FIGURES = "KEY FIGURES"   # marker of the JSON line a notebook prints with the numbers its text relies on


def setup(threads: int | None = None) -> int:
    """Torch threads for a notebook: ``threads``, else $OMP_NUM_THREADS, else up to 2. Returns the count."""
    import torch

    n = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or min(2, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


# ---- display ------------------------------------------------------------------------------------
def readable(fig, scale: float = READABLE_SCALE, min_size: float = MIN_FONT):
    """Make a matplotlib figure legible on a projector: shrink its size by ``scale`` (text keeps its
    point size, so drawn at ``DPI * scale`` the pixels are the same and the text ``scale`` times
    larger relative to the figure), and raise any text smaller than ``min_size`` points to it
    (ticks, legends). Returns the figure; ``figure_png`` applies it."""
    from matplotlib.text import Text

    w, h = fig.get_size_inches()
    fig.set_size_inches(w / scale, h / scale)
    for ax in fig.axes:
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = axis.get_ticklabels()
            if labels and labels[0].get_fontsize() < min_size:
                ax.tick_params(axis=which, labelsize=min_size)
    for text in fig.findobj(Text):
        if text.get_text() and text.get_fontsize() < min_size:
            text.set_fontsize(min_size)
    return fig


def figure_png(fig, dpi: int = DPI, scale: float = READABLE_SCALE) -> bytes:
    buf = io.BytesIO()
    readable(fig, scale).savefig(buf, format="png", dpi=dpi * scale)
    return buf.getvalue()


def _rounded(value, digits: int):
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, digits)
    if isinstance(value, (np.floating, np.integer)):
        return _rounded(value.item(), digits)
    if isinstance(value, dict):
        return {str(k): _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, digits) for v in value]
    return value


def key_figures(figures: dict, digits: int = 3) -> dict:
    """Print the numbers a notebook's text relies on as one JSON line after ``KEY_FIGURES``
    (floats rounded to ``digits`` decimals, NaN as null), so ``tests/test_notebooks.py`` can check
    the claims against the executed notebook. Returns the rounded dict."""
    out = _rounded(dict(figures), digits)
    print(f"{KEY_FIGURES} {json.dumps(out, sort_keys=True, ensure_ascii=False)}")
    return out


def read_key_figures(text: str) -> dict:
    """The dicts printed by ``key_figures`` in ``text`` (a notebook's stdout), merged."""
    out: dict = {}
    for line in text.splitlines():
        if line.startswith(KEY_FIGURES + " "):
            out.update(json.loads(line[len(KEY_FIGURES) + 1:]))
    return out


def figure_image(fig, dpi: int = DPI, max_png_bytes: int = JPEG_ABOVE) -> tuple[bytes, str]:
    """(image bytes, "png" or "jpeg") of a figure for a notebook: PNG, unless the PNG is over
    ``max_png_bytes`` (spectrograms: noise-like pixels that PNG compresses badly) and a JPEG of it is
    smaller — executed notebooks are committed, so their size matters."""
    png = figure_png(fig, dpi)
    if len(png) <= max_png_bytes:
        return png, "png"
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.open(io.BytesIO(png)).convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    jpeg = buf.getvalue()
    return (jpeg, "jpeg") if len(jpeg) < len(png) else (png, "png")


def show_figure(fig, dpi: int = DPI) -> None:
    from IPython.display import Image, display

    data, fmt = figure_image(fig, dpi)
    display(Image(data=data, format=fmt))


def audio_player(audio: np.ndarray, sample_rate: int, normalize: bool = False):
    """An HTML5 player of a mono clip (samples,), embedded as 16-bit FLAC: about two thirds of a WAV's
    size, lossless, and played by every current browser (executed notebooks are committed, so their
    size matters). Not normalised by default, so levels compare; ``normalize`` scales the peak to 1."""
    import base64

    import soundfile as sf
    from IPython.display import HTML

    y = np.clip(np.nan_to_num(np.asarray(audio, dtype=np.float32)), -1.0, 1.0)
    if normalize and np.abs(y).max() > 0:
        y = y / np.abs(y).max()
    buf = io.BytesIO()
    sf.write(buf, y, int(sample_rate), format="FLAC", subtype="PCM_16")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return HTML(f'<audio controls="controls" preload="none"><source src="data:audio/flac;base64,{data}" '
                f'type="audio/flac" />your browser cannot play FLAC</audio>')


def show_audio(audio: np.ndarray, sample_rate: int, title: str = "", normalize: bool = False) -> None:
    from IPython.display import HTML, display

    if title:
        display(HTML(f"<b>{title}</b>"))
    display(audio_player(audio, sample_rate, normalize))


def show_clip(audio: np.ndarray, sample_rate: int, title: str = "", waveform: bool = True,
              spectrogram: bool = True) -> None:
    """Player, waveform and spectrogram of one clip (the app shows the same figures)."""
    from .plots import spectrogram_figure, waveform_figure

    show_audio(audio, sample_rate, title)
    if waveform:
        show_figure(waveform_figure(audio, sample_rate, title=f"waveform {title}".strip()))
    if spectrogram:
        show_figure(spectrogram_figure(audio, sample_rate, title=f"spectrogram {title}".strip()))


def show_table(rows: list[list], header: list[str]) -> None:
    """A small HTML table (numbers rounded for reading)."""
    from IPython.display import HTML, display

    def cell(v):
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    display(HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"))


def control(widget, description: str):
    """The control of an ``interactive`` whose description is (or starts with) ``description``."""
    for child in widget.children:
        d = getattr(child, "description", "")
        if d == description:
            return child
    for child in widget.children:
        if getattr(child, "description", "").startswith(description):
            return child
    raise KeyError(f"no control {description!r}; have: {[getattr(c, 'description', '') for c in widget.children]}")


def _layout(widget, continuous: bool = False) -> None:
    """Sliders wrap in rows, the output below them at full width. Unless ``continuous``, a slider
    acts when released, not at every step of a drag (each step would generate a clip)."""
    from ipywidgets import Layout

    widget.layout = Layout(display="flex", flex_flow="row wrap", align_items="flex-start")
    for child in widget.children[:-1]:
        child.continuous_update = continuous
        child.style.description_width = "110px"
        child.layout = Layout(width="320px")
    widget.children[-1].layout = Layout(width="100%")


class _Cache:
    """Last few results by key: re-showing a setting, or the notebook's default call, is free."""

    def __init__(self, size: int = 16):
        self.size, self.items = size, OrderedDict()

    def get(self, key, make: Callable):
        if key not in self.items:
            self.items[key] = make()
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        self.items.move_to_end(key)
        return self.items[key]


def _error(message: str) -> dict:
    from IPython.display import HTML, display

    display(HTML(f"<span style='color:#b00'>{message}</span>"))
    return {"error": message}


# ---- 02: conditioning ---------------------------------------------------------------------------
def conditioned_controls(*, mix: dict[str, float] | None, pitch: float | None, loudness: float | None,
                         adsr=None, seconds: float = 0.5):
    """The ``Controls`` of one held note: a timbre mix (None or all zero: free), a pitch (MIDI), a
    peak level (dB FS) and an envelope."""
    from .controls.conditioning import Controls

    mix = {k: float(v) for k, v in (mix or {}).items() if v > 0} or None
    return Controls(seconds=seconds, instrument=mix, pitch=pitch, loudness=loudness, adsr=adsr)


def conditioned_clip(model, *, mix: dict[str, float] | None, pitch: float | None, loudness: float | None,
                     adsr=None, seconds: float = 0.5, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """One clip (samples,) from a conditioned WaveNet: a timbre mix (None: free), one pitch, a level and an envelope."""
    from .controls.conditioning import model_inputs
    from .generation.generate import generate

    controls = conditioned_controls(mix=mix, pitch=pitch, loudness=loudness, adsr=adsr, seconds=seconds)
    return generate(model, model_inputs(controls, model.config), temperature=temperature, seed=seed)[0]


def conditioning_explorer(model, seconds: float = 0.5, seed: int = 0, instrument: str | None = None,
                          show: bool = True):
    """Sliders for the instrument mix, pitch, level, ADSR envelope and temperature of a conditioned
    WaveNet. Each change generates ``seconds`` of audio and shows it with its waveform, spectrogram
    and the verdict on it (``controls.verdict.judge``: pitch, level over the asked sounding frames,
    sounding time, timbre heard). ``w.result``: dict with audio, asked, measured (``describe()``),
    controls and verdict."""
    from ipywidgets import FloatSlider, IntSlider, interactive

    from .controls.conditioning import ADSR
    from .controls.verdict import judge, known_pitch_range
    from .measure.descriptors import describe

    cfg = model.config
    names = list(cfg.instrument_names) or [f"instrument {i}" for i in range(cfg.n_instruments)]
    first = instrument if instrument in names else (names[0] if names else None)
    cache = _Cache()
    sliders = {f"mix_{i}": FloatSlider(value=1.0 if n == first else 0.0, min=0, max=1, step=0.05, description=n)
               for i, n in enumerate(names)}
    sliders.update(
        pitch=IntSlider(value=60, min=48, max=72, description="pitch (MIDI)"),
        level=FloatSlider(value=-12, min=-40, max=-3, step=1, description="level (dB)"),
        attack=FloatSlider(value=0.02, min=0, max=0.3, step=0.01, description="attack (s)"),
        decay=FloatSlider(value=0.1, min=0, max=0.5, step=0.01, description="decay (s)"),
        sustain=FloatSlider(value=-6, min=-40, max=0, step=1, description="sustain (dB)"),
        release=FloatSlider(value=0.1, min=0, max=0.4, step=0.01, description="release (s)"),
        temperature=FloatSlider(value=1.0, min=0, max=1.5, step=0.05, description="temperature"),
    )

    def render(**v):   # one keyword per slider, in the order above (so the mix sliders come first)
        mix = {names[int(k.split("_")[1])]: x for k, x in v.items() if k.startswith("mix_")}
        pitch, level, temperature = v["pitch"], v["level"], v["temperature"]
        attack, decay, sustain, release = v["attack"], v["decay"], v["sustain"], v["release"]
        key = (tuple(sorted(mix.items())), pitch, level, attack, decay, sustain, release, temperature)

        def make():
            try:
                env = ADSR(attack, decay, sustain, release)
                controls = conditioned_controls(mix=mix, pitch=pitch, loudness=level, adsr=env, seconds=seconds)
                audio = conditioned_clip(model, mix=mix, pitch=pitch, loudness=level, adsr=env, seconds=seconds,
                                         temperature=temperature, seed=seed)
            except ValueError as e:
                return {"error": str(e)}
            measured = describe(audio, cfg.sample_rate, cfg.hop_length)
            verdict = judge(audio, controls, cfg, known_range=known_pitch_range(model))
            asked = {"mix": {k: v for k, v in mix.items() if v > 0} or "free", "pitch": pitch, "loudness": level,
                     "adsr": env, "temperature": temperature}
            return {"audio": audio, "sample_rate": cfg.sample_rate, "asked": asked, "measured": measured,
                    "controls": controls, "verdict": verdict}
        result = cache.get(key, make)
        if show:
            show_result(result)
        return result

    w = interactive(render, **sliders)
    _layout(w)
    return w


def show_verdict(verdict, notes: bool = True) -> None:
    """A ``controls.verdict.Verdict`` as the studio shows it: the headline, one row per requested
    property (asked, measured — compared over the same frames —, met), the per-note table of a
    melody, and the next step when something was missed."""
    from IPython.display import HTML, display

    mark = {True: "✓ met", False: "✗ missed", None: "– not judged"}
    display(HTML(f"<b>{verdict.headline}</b>"))
    show_table([[c.name, c.asked, c.measured, mark[c.met]] for c in verdict.checks],
               ["property", "asked", "measured", "verdict"])
    if notes and len(verdict.notes) > 1:
        show_table([n.row() for n in verdict.notes], ["note", "asked", "measured", "cents off", "in tune"])
    if verdict.next_step:
        display(HTML(f"Next step: {verdict.next_step}"))


def show_result(result: dict) -> None:
    """Show an explorer's result: the clip, its figures, and the verdict (asked vs measured pitch,
    level, sounding time and timbre), then two measurements nothing asked for."""
    if "error" in result:
        _error(result["error"])
        return
    sr = result["sample_rate"]
    show_clip(result["audio"], sr)
    if result.get("verdict") is not None:
        show_verdict(result["verdict"])
    measured = result.get("measured")
    if measured:
        show_table([["brightness (spectral centroid, Hz)", measured["brightness"]],
                    ["voiced fraction of the sounding frames", measured["voiced_fraction"]]],
                   ["not asked for, measured", "value"])


# ---- 04: autoencoder ----------------------------------------------------------------------------
def latent_explorer(model, audio: np.ndarray, n_directions: int = 4, seed: int = 0, show: bool = True):
    """Sliders that move a clip's latent along the autoencoder's first principal directions
    (in corpus standard deviations), decode it and show the result.
    ``w.result``: dict with latent, audio and the latent's mean coordinates (std units)."""
    from ipywidgets import FloatSlider, interactive

    from .controls.autoencoder import decode, edit, encode, pca_coordinates

    cfg = model.config
    z0 = encode(model, audio)
    n = min(n_directions, cfg.latent_dim)
    cache = _Cache()
    sliders = {f"pc_{k}": FloatSlider(value=0.0, min=-3, max=3, step=0.25, description=f"PC {k + 1} (σ)")
               for k in range(n)}
    sliders["temperature"] = FloatSlider(value=1.0, min=0, max=1.5, step=0.05, description="temperature")

    def render(**v):
        temperature = v["temperature"]
        values = {int(k.split("_")[1]): float(x) for k, x in v.items() if k.startswith("pc_")}
        key = (tuple(sorted(values.items())), temperature)

        def make():
            z = edit(model, z0, offsets=values)
            out = decode(model, z, temperature=temperature, seed=seed)
            return {"latent": z, "audio": out, "sample_rate": cfg.sample_rate, "offsets": values,
                    "coordinates": pca_coordinates(model, z).mean(axis=0)}
        result = cache.get(key, make)
        if show:
            from .plots import latent_figure
            show_clip(result["audio"], cfg.sample_rate, waveform=False)
            show_figure(latent_figure(result["latent"], cfg.frame_rate, title="edited latent"))
        return result

    w = interactive(render, **sliders)
    _layout(w)
    return w


# ---- 05: training -------------------------------------------------------------------------------
def read_training_log(run_dir: str | os.PathLike) -> list[dict]:
    """Rows of a run folder's log.csv as dicts of floats (for ``plots.training_curves_figure``):
    ``training.log.read_log``, with a message that says what to do when there is no log yet."""
    from .training.log import read_log

    path = Path(run_dir) / "log.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training log yet; train first.")
    return read_log(path)


# ---- 03: sampling -------------------------------------------------------------------------------
def _pool_dict(pool) -> dict:
    return pool.to_dict() if hasattr(pool, "to_dict") else pool


def pool_values(pool, name: str) -> np.ndarray:
    """One measured property of every candidate in a sampling result (NaN where none was measured)."""
    out = []
    for c in _pool_dict(pool)["candidates"]:
        v = c.get(name) if name in ("novelty", "timbre") else (c.get("descriptors") or {}).get(name)
        out.append(float(v) if isinstance(v, (int, float)) else np.nan)
    return np.array(out)


def acceptance_curve(values: np.ndarray, widths: np.ndarray, centre: float | None = None) -> np.ndarray:
    """Share of ``values`` inside a range of each width centred on ``centre`` (default: their median)."""
    v = np.asarray(values, dtype=np.float64)
    c = float(np.nanmedian(v)) if centre is None else centre
    with np.errstate(invalid="ignore"):
        return np.array([np.mean(np.abs(v - c) <= w / 2) for w in widths])


def judge_pool(pool, targets, x: str = "loudness", y: str = "brightness", show: bool = True) -> dict:
    """Judge an already measured pool of candidates against ``targets`` (texts or ``Target``s) without
    generating anything; with ``show``, draw the pool with the target box and the acceptance rate.
    Returns the targets, accepted count, acceptance rate and candidates per accepted clip."""
    from .controls.sampling import failed_targets, parse_targets

    d = _pool_dict(pool)
    targets = parse_targets(targets)
    cands = []
    for c in d["candidates"]:
        vals = dict(c.get("descriptors") or {})
        vals["novelty"], vals["timbre"] = c.get("novelty"), c.get("timbre")
        ok = not failed_targets(vals, targets)
        cands.append({**c, "status": "accepted" if ok else "rejected", "meets_targets": ok, "picked": False})
    accepted = sum(c["meets_targets"] for c in cands)
    rate = accepted / len(cands) if cands else 0.0
    result = {"targets": [str(t) for t in targets], "accepted": accepted, "acceptance_rate": rate,
              "candidates_per_keeper": (1 / rate) if rate else None}
    if show:
        from .plots import candidate_scatter_figure
        view = {**d, "candidates": cands, "targets": [t.to_dict() for t in targets], "accepted": accepted,
                "acceptance_rate": rate, "candidates_generated": len(cands), "saved_fraction": 0.0}
        show_figure(candidate_scatter_figure(view, x, y))
        per = f"{1 / rate:.1f}" if rate else "∞ (none so far)"
        show_table([[", ".join(result["targets"]), f"{100 * rate:.0f}%", per]],
                   ["targets", "acceptance", "candidates per accepted clip"])
    return result


def target_explorer(pool, x: str = "loudness", y: str = "brightness", show: bool = True):
    """Range sliders on two properties, judged against an already measured pool of candidates
    (a ``SamplingResult`` or its dict) by ``judge_pool``: no generation, so it answers at once.
    ``w.result``: ``judge_pool``'s dict."""
    from ipywidgets import FloatRangeSlider, interactive

    from .controls.sampling import Target

    d = _pool_dict(pool)
    sliders = {}
    for key, name in (("x", x), ("y", y)):
        v = pool_values(d, name)
        v = v[np.isfinite(v)]
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        pad = 0.1 * (hi - lo) + 1e-3
        step = float(10 ** np.floor(np.log10((hi - lo + 2 * pad) / 100)))
        lo_s, hi_s = float(np.floor((lo - pad) / step) * step), float(np.ceil((hi + pad) / step) * step)
        mid = float(np.median(v)) if len(v) else 0.5 * (lo_s + hi_s)
        quarter = 0.25 * (hi_s - lo_s)
        a, b = (round(round(t / step) * step, 10) for t in (max(lo_s, mid - quarter), min(hi_s, mid + quarter)))
        sliders[key] = FloatRangeSlider(value=(a, b), min=lo_s, max=hi_s, step=step, description=name,
                                        readout_format=".4g")

    def render(**v):
        try:
            return judge_pool(d, [Target(x, *v["x"]), Target(y, *v["y"])], x, y, show=show)
        except ValueError as e:            # e.g. a range dragged to zero width
            return _error(str(e)) if show else {"error": str(e)}

    w = interactive(render, **sliders)
    _layout(w, continuous=True)          # judging a pool is instant
    for child in w.children[:-1]:
        child.layout.width = "480px"
    return w
