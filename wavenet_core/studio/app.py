"""WaveNet Control Studio in the browser: a Gradio ``Blocks`` app over the public ``wavenet_core`` API.

``build_app(model_dir=None)`` returns the app without launching it; ``main()`` parses
``--host/--port/--share/--model-dir`` and serves it (``wavenet app`` and the top-level
``app.py`` both call it).

Layout: a model picker above the tabs; one function per tab (``_conditioning_tab``,
``_model_tab``, …) that builds its controls and registers its events; ``_result_panel`` is the
shared "audio + waveform + spectrogram + descriptors + WAV" block every result is shown in.

Server rules kept here: every handler goes through ``_friendly`` so users see one-line
``gr.Error`` messages and never a traceback; models are loaded once and cached
(``ModelShelf``); only models installed in the model directory can be chosen; generation
events share one concurrency group with one slot per CPU core, behind a bounded queue.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import logging
import math
import os
import random
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from .. import Cancelled, CheckpointError, Controls, generate, list_models, load_model, model_inputs  # noqa: E402
from ..audio_io import AudioError, atomic_write_bytes, to_int16  # noqa: E402
from ..model.mulaw import mu_law_decode  # noqa: E402
from ..controls.verdict import Verdict, judge, known_pitch_range, note_label, parse_pitch  # noqa: E402
from ..model.checkpoint import read_header, resolve_path  # noqa: E402
from ..jsonsafe import json_safe  # noqa: E402
from ..plots import (receptive_field_figure, spectrogram_figure, training_curves_figure,  # noqa: E402
                     waveform_figure)

log = logging.getLogger("wavenet.studio")

# ---- limits (what a musician can ask for from the browser) -----------------------------------
MIN_SECONDS = 0.1
MAX_SECONDS = 10.0                      # per request; the core allows more, a shared server should not
MAX_TEMPERATURE = 2.0
MAX_STRENGTH = 4.0             # conditioning strength (classifier-free guidance); 1 = the model as trained
MAX_SEED = 2 ** 31 - 1
MAX_UPLOAD_BYTES = 20 * 1024 * 1024     # Gradio refuses bigger uploads before they reach a handler
MAX_UPLOAD_SECONDS = 30.0
MAX_MIX_SLIDERS = 12                    # timbre-mix sliders built; unused ones are hidden
MIDI_MIN, MIDI_MAX = 36, 84
DEFAULT_QUEUE_SIZE = 32
FREE = "let the model choose"
MIX = "timbre mix (sliders below)"
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


# ---- errors -----------------------------------------------------------------------------------
def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


_PLAIN_WORDS = ((re.compile(r"(?:above )?the model's Nyquist frequency (\d+) Hz"),
                 r"above the highest pitch this model can make (\1 Hz, half its sample rate)"),
                (re.compile(r"Nyquist(?: frequency)?"), "highest pitch the model can make (half its sample rate)"))


def _plain(message: str) -> str:
    """Core messages in a musician's words (e.g. no "Nyquist")."""
    for pattern, words in _PLAIN_WORDS:
        message = pattern.sub(words, message)
    return message


def _friendly(fn: Callable) -> Callable:
    """Map every exception to a one-line ``gr.Error``; unexpected ones are logged server-side only."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Cancelled:
            raise gr.Error("Stopped: the generation was cancelled.", title="Stopped", print_exception=False) from None
        except (ValueError, TypeError, AudioError, CheckpointError, FileNotFoundError) as e:
            # Our own validation raises ValueError with musician-facing text; TypeError comes from
            # API callers sending the wrong kind of value (e.g. text where a number belongs).
            if isinstance(e, TypeError):
                log.warning("bad input to %s: %s", fn.__name__, e)
                raise gr.Error("One of the inputs has the wrong type (a number was expected?); "
                               "check the values and try again.", print_exception=False) from None
            raise gr.Error(_plain(_one_line(e)), print_exception=False) from None
        except MemoryError:
            raise gr.Error("The server ran out of memory; ask for a shorter sound.", print_exception=False) from None
        except Exception:  # noqa: BLE001 - the page must never see a traceback
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on the server (the details are in its log); "
                           "try again or change the settings.", print_exception=False) from None
    return wrapper


def _num(x: float) -> str:
    """12 → '12', 0.5 → '0.5', 2147483647 → '2147483647' (never 2.14748e+09 in a message)."""
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"


def _number(value, name: str, lo: float, hi: float, unit: str = "", integer: bool = False) -> float:
    """Validate one numeric input from the page or the API, with a message a musician understands."""
    span = f"between {_num(lo)} and {_num(hi)}{unit}"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is empty; set a value {span}.")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number {span}; got {str(value)[:40]!r}.") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be {span}; got {_num(v)}.")
    if integer:
        if v != int(v):
            raise ValueError(f"{name} must be a whole number; got {_num(v)}.")
        return int(v)
    return v


# ---- models -----------------------------------------------------------------------------------
class ModelShelf:
    """The installed models, each loaded once and kept (most recently used first, up to ``keep``)."""

    def __init__(self, model_dir: str | os.PathLike | None = None, keep: int = 4):
        self.model_dir = str(model_dir) if model_dir else None
        self.keep = keep
        self._cache: OrderedDict = OrderedDict()
        self._kinds: dict = {}
        self._lock = threading.Lock()

    def kind_of(self, name: str) -> str:
        """'wavenet' or 'autoencoder', read from the checkpoint header (no weights are loaded)."""
        path = resolve_path(name, self.model_dir)
        key = (str(path), path.stat().st_mtime_ns)
        if key not in self._kinds:
            meta = read_header(path).get("__metadata__") or {}
            self._kinds[key] = meta.get("kind", "wavenet")
        return self._kinds[key]

    def names(self, kind: str | None = None) -> list[str]:
        """Installed model names (of one kind); unreadable checkpoints are left out of kind lists."""
        names = list_models(self.model_dir)
        if kind is None:
            return names
        out = []
        for n in names:
            try:
                if self.kind_of(n) == kind:
                    out.append(n)
            except (CheckpointError, OSError, ValueError):
                log.warning("skipping unreadable checkpoint %s", n)
        return out

    def default(self, kind: str | None = "wavenet") -> str | None:
        names = self.names(kind)
        preferred = "autoencoder" if kind == "autoencoder" else "notes"
        return preferred if preferred in names else (names[0] if names else None)

    def get(self, name, kind: str | None = None):
        """The model called ``name``; only installed names are accepted (never a path)."""
        names = self.names()
        if not names:
            raise ValueError("No models are installed; train one with `wavenet train --out assets/models/NAME`.")
        if not isinstance(name, str) or name not in names:
            raise ValueError(f"Choose a model from the list ({', '.join(names)}); {str(name)[:40]!r} is not installed.")
        if kind is not None and self.kind_of(name) != kind:
            what = "a WaveNet" if kind == "wavenet" else "an autoencoder"
            raise ValueError(f"{name!r} is {'an autoencoder' if kind == 'wavenet' else 'a WaveNet'} model; "
                             f"this needs {what} model.")
        path = resolve_path(name, self.model_dir)
        key = (name, str(path), path.stat().st_mtime_ns)   # a retrained checkpoint is picked up
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            model = load_model(name, self.model_dir)
            self._cache[key] = model
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
            return model


def _kind(model) -> str:
    return getattr(model, "kind", "wavenet")


# ---- results: audio, plots, descriptors, WAV --------------------------------------------------
def note_name(midi: float) -> str:
    m = int(round(midi))
    cents = int(round(100 * (midi - m)))
    name = f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"
    return name if cents == 0 else f"{name} {cents:+d}¢"


def describe_audio(audio: np.ndarray, sample_rate: int) -> dict:
    """The descriptors measured on a result: ``descriptors.describe`` with its defaults, so the numbers
    match what sampling accepted a candidate on and what the evaluations report."""
    from ..measure.descriptors import describe
    return dict(describe(audio, sample_rate))


_DESCRIPTOR_LABELS = {
    "pitch": "pitch", "voiced_fraction": "pitched (voiced) part", "loudness": "loudness",
    "brightness": "brightness", "noisiness": "noisiness", "onset_rate": "onsets", "sounding_seconds": "sounding time",
    "seconds": "length",
}


def _fmt_descriptor(key: str, value) -> str:
    if value is None:
        return "unpitched" if key == "pitch" else "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "unpitched" if key == "pitch" else "—"
    if key == "pitch":
        return f"{note_label(v)} · {440 * 2 ** ((v - 69) / 12):.1f} Hz"
    if key == "voiced_fraction":
        return f"{100 * v:.0f} %"
    if key == "loudness":
        return f"{v:.1f} dB"
    if key == "brightness":
        return f"{v:.0f} Hz"
    if key == "onset_rate":
        return f"{v:.1f} per s"
    if key in ("sounding_seconds", "seconds"):
        return f"{v:.2f} s"
    return f"{v:.3g}"


def descriptor_table(measured: dict, asked: dict | None = None) -> list[list[str]]:
    """Rows of [measure, asked for, measured] for the results table."""
    asked = asked or {}
    rows = []
    for key, value in measured.items():
        label = _DESCRIPTOR_LABELS.get(key, key.replace("_", " "))
        rows.append([label, asked.get(key, ""), _fmt_descriptor(key, value)])
    return rows


class ResultWriter:
    """Turns generated audio into everything a result shows; WAVs go to the app's own temp folder."""

    def __init__(self, keep_seconds: float = 3600.0):
        self.folder = Path(tempfile.mkdtemp(prefix="wavenet-studio-"))
        self.keep_seconds = keep_seconds

    def _prune(self) -> None:
        cutoff = time.time() - self.keep_seconds
        for d in self.folder.iterdir():
            try:
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except FileNotFoundError:
                pass

    def wav(self, pcm: np.ndarray, sample_rate: int, stem: str, suffix: str = ".wav") -> str:
        """int16 samples → a 16-bit WAV (or FLAC, ``suffix=".flac"``) holding exactly those samples (what the
        player plays)."""
        import soundfile as sf
        self._prune()
        d = self.folder / uuid.uuid4().hex[:12]
        d.mkdir()
        stem = re.sub(r"[^A-Za-z0-9_.+-]+", "-", stem).strip("-")[:80] or "sound"
        fmt = "FLAC" if suffix == ".flac" else "WAV"
        path = atomic_write_bytes(d / f"{stem}{suffix}",
                                  lambda tmp: sf.write(tmp, pcm, sample_rate, subtype="PCM_16", format=fmt))
        return str(path)

    def render(self, audio: np.ndarray, sample_rate: int, stem: str, asked: dict | None = None,
               details: dict | None = None, gen_seconds: float | None = None, timings: dict | None = None,
               verdict: Verdict | None = None, verdict_text: str = "") -> tuple:
        """audio → (player audio, waveform, spectrogram, descriptor rows, WAV, FLAC, verdict line, per-note table,
        status, details). ``verdict``: the judgement of what was asked (``verdict.judge``);
        ``verdict_text``: a line to show instead (e.g. a sampling pick's targets)."""
        audio = np.asarray(audio, dtype=np.float32)
        t0 = time.perf_counter()
        measured = describe_audio(audio, sample_rate)
        t1 = time.perf_counter()
        wave = waveform_figure(audio, sample_rate, title="waveform")
        spec = spectrogram_figure(audio, sample_rate, title="spectrogram (log frequency, dB re full scale)")
        t2 = time.perf_counter()
        pcm = to_int16(audio)
        path = self.wav(pcm, sample_rate, stem)
        flac = self.wav(pcm, sample_rate, stem, suffix=".flac")
        seconds = len(audio) / sample_rate
        timings = {**{k: round(v, 4) for k, v in (timings or {}).items()},
                   "descriptors": round(t1 - t0, 4), "plots": round(t2 - t1, 4)}
        status = f"**{seconds:.2f} s** of audio"
        if gen_seconds is not None:
            timings["generation"] = round(gen_seconds, 4)
            speed = seconds / max(gen_seconds, 1e-9)
            status += f" generated in {gen_seconds:.2f} s ({speed:.1f}× real time)"
        status += f" · descriptors {t1 - t0:.2f} s · plots {t2 - t1:.2f} s"
        info = {**(details or {}), "seconds": round(seconds, 4), "sample_rate": sample_rate, "timings_s": timings,
                "measured": json_safe(measured)}
        if verdict is not None:
            info["verdict"] = json_safe(verdict.to_dict())
        if details and "seed" in details:
            status += f" · seed {details['seed']}"
        status += f" · downloads: 16-bit WAV and FLAC at {sample_rate} Hz"
        line = verdict_markdown(verdict) if verdict is not None else verdict_text
        return ((sample_rate, pcm), wave, spec, descriptor_table(measured, asked), _download(path, "WAV", sample_rate),
                _download(flac, "FLAC", sample_rate), line, note_table(verdict), status, info)


def _download(path: str, kind: str, sample_rate: int) -> str:
    # A plain path (an update would reach API callers as a dict); the sample rate is in the status line.
    return path


NOTE_HEADERS = ["#", "asked", "measured", "cents off", "in tune"]


def verdict_markdown(v: Verdict | None) -> str:
    """The verdict above the player: one headline, one line per property, the next step."""
    if v is None:
        return ""
    if v.met is None:
        head = f"**– {v.headline}**"
    elif v.met:
        head = f"**✓ {v.headline}**"
    else:
        head = f"**✗ {v.headline}**"
    lines = [head, "", *[f"- {line}" for line in v.lines()]]
    if v.next_step:
        lines += ["", f"**Next step:** {v.next_step}"]
    return "\n".join(lines)


def note_table(v: Verdict | None):
    """The per-note table (shown for two notes or more)."""
    rows = [n.row() for n in v.notes] if v is not None else []
    return gr.update(value={"headers": NOTE_HEADERS, "data": rows or [["", "", "", "", ""]]}, visible=len(rows) > 1)


@dataclasses.dataclass
class ResultPanel:
    status: gr.Markdown
    audio: gr.Audio
    waveform: gr.Plot
    spectrogram: gr.Plot
    descriptors: gr.Dataframe
    wav: gr.File
    details: gr.JSON
    verdict: gr.Markdown
    notes: gr.Dataframe
    flac: gr.File

    @property
    def outputs(self) -> list:
        # New outputs go before the status and details, which stay last (API callers unpack `*_, status, details`).
        return [self.audio, self.waveform, self.spectrogram, self.descriptors, self.wav, self.flac, self.verdict,
                self.notes, self.status, self.details]


def empty_result(status: str, verdict_text: str = "", details: dict | None = None) -> list:
    """A result panel's outputs when there is no sound to show (e.g. stopped before any was made)."""
    return [None, None, None, None, gr.update(value=None), gr.update(value=None), verdict_text,
            gr.update(visible=False), status, details or {}]


def _result_panel(label: str = "Result", button: str = "Generate") -> ResultPanel:
    # The verdict (was what was asked for met?) sits above the player, the per-note table under it.
    verdict = gr.Markdown("", elem_classes=["result-verdict"])
    audio = gr.Audio(label=label, type="numpy", interactive=False, elem_classes=["result-audio"])
    notes = gr.Dataframe(headers=NOTE_HEADERS, label="Notes: asked vs measured (in tune within 50 cents)",
                         interactive=False, wrap=True, visible=False, elem_classes=["result-notes"])
    status = gr.Markdown(f"*{label}: press {button}.*")
    # The figures carry their own titles; a Gradio label badge would cover them.
    waveform = gr.Plot(label="Waveform", show_label=False, format="png", elem_classes=["result-waveform"])
    spectrogram = gr.Plot(label="Spectrogram", show_label=False, format="png", elem_classes=["result-spectrogram"])
    with gr.Row():
        descriptors = gr.Dataframe(headers=["measure", "asked for", "measured"], label="Measured on the result",
                                   interactive=False, wrap=True, scale=2)
        with gr.Column(scale=1, min_width=160):
            wav = gr.File(label="Download WAV (16-bit)", interactive=False, elem_classes=["result-wav"])
            flac = gr.File(label="Download FLAC (16-bit)", interactive=False, elem_classes=["result-flac"])
    with gr.Accordion("Run details (seed, timings, raw measurements, verdict)", open=False):
        details = gr.JSON(label="details")
    return ResultPanel(status, audio, waveform, spectrogram, descriptors, wav, details, verdict, notes, flac)


# ---- progress and cancellation ----------------------------------------------------------------
class StopFlags:
    """One stop flag per browser session: the Stop button sets it, the generator polls it."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        with self._lock:
            ev = self._flags[session] = threading.Event()
        return ev

    def stop(self, session: str) -> bool:
        with self._lock:
            ev = self._flags.get(session)
        if ev is not None:
            ev.set()
        return ev is not None

    def finish(self, session: str, ev: threading.Event) -> None:
        with self._lock:
            if self._flags.get(session) is ev:
                del self._flags[session]


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


def _progress_callback(progress, label: str, unit: str = "samples"):
    def update(done: int, total: int) -> None:
        try:
            progress((done, total), desc=label, unit=unit)
        except Exception:  # noqa: BLE001 - a progress bar must never break a generation
            pass
    return update


# ---- the app's state shared by every tab -------------------------------------------------------
@dataclasses.dataclass
class Studio:
    shelf: ModelShelf
    results: ResultWriter
    stops: StopFlags
    slots: int
    max_seconds: float = MAX_SECONDS

    def method(self) -> str:
        return "fast"            # the compiled generator is part of the package (numba is a dependency)

    def warm_up(self, name) -> None:
        """Compile the fast generator and pYIN once, so the first musician does not wait for it."""
        try:
            model = self.wavenet(name)
            generate(model, model_inputs(Controls(seconds=0.05), model.config), seed=0, method=self.method())
            sr = model.config.sample_rate
            t = np.arange(sr // 4) / sr
            describe_audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
            names = tuple(getattr(model.config, "instrument_names", ()) or ())
            if names:                       # the verdict's timbre classifier is fitted once, here
                from ..controls.sampling import timbre_classifier
                timbre_classifier(names, sr)
        except Exception as e:  # noqa: BLE001 - warming up is an optimisation only
            log.info("warm-up skipped: %s", _one_line(e))

    def wavenet(self, name):
        return self.shelf.get(name, kind="wavenet")

    def stoppable(self, fn: Callable, *, request, progress, label: str = "Generating", unit: str = "samples"):
        """Run ``fn(progress=..., cancel=...)`` with the session's stop flag and the page's progress
        bar (counting ``unit``); returns (fn's result, seconds it took)."""
        session = _session(request)
        flag = self.stops.start(session)
        t0 = time.perf_counter()
        try:
            out = fn(progress=_progress_callback(progress, label, unit), cancel=flag.is_set)
        finally:
            self.stops.finish(session, flag)
        return out, time.perf_counter() - t0

    def run_generation(self, model, inputs, *, temperature: float, seed: int, request, progress,
                       label: str = "Generating", batch: int | None = None,
                       guidance: float = 1.0) -> tuple[np.ndarray, float, bool]:
        """generate() with the session's stop flag and the page's progress bar; returns (audio, seconds,
        stopped). Stopped: the audio is what was made before Stop (the fast generator hands it over),
        possibly empty."""
        t0 = time.perf_counter()
        try:
            audio, took = self.stoppable(lambda **kw: generate(model, inputs, temperature=temperature, seed=seed,
                                                               batch=batch, method=self.method(), guidance=guidance,
                                                               **kw),
                                         request=request, progress=progress, label=label)
        except Cancelled as e:
            partial = getattr(e, "partial_classes", None)
            made = (mu_law_decode(partial) if partial is not None and partial.shape[-1]
                    else np.zeros((batch or 1, 0), np.float32))
            return made, time.perf_counter() - t0, True
        return audio, took, False


# ---- uploads ----------------------------------------------------------------------------------
def checked_upload(path, what: str, audio: bool = True, max_seconds: float = MAX_UPLOAD_SECONDS) -> str:
    """An uploaded file's path, after checks that need no decoding: present, not empty, under the size
    limit and (for audio) a header saying it is under ``max_seconds``."""
    if isinstance(path, dict):            # gradio_client FileData
        path = path.get("path")
    if not path or not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"Upload a {what} first.")
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"The {what} upload did not arrive; upload it again.")
    size = p.stat().st_size
    if size == 0:
        raise ValueError(f"The {what} file is empty (0 bytes); choose another file.")
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"The {what} file is {size / 1e6:.0f} MB, over the {MAX_UPLOAD_BYTES / 1e6:.0f} MB limit; trim it first.")
    if audio:
        import soundfile as sf
        try:
            info = sf.info(str(p))
            seconds = info.frames / info.samplerate
        except Exception:  # noqa: BLE001 - libsndfile says why in many ways; one message for the musician
            raise ValueError(f"The {what} is not a readable audio file; use WAV, FLAC, OGG or MP3.") from None
        if info.frames <= 0:
            raise ValueError(f"The {what} holds no audio; choose a recording with sound in it.")
        if seconds > max_seconds:
            raise ValueError(f"The {what} is {seconds:.0f} s long, over the {max_seconds:.0f} s limit; trim it first.")
    return str(p)


# ---- Conditioning tab -------------------------------------------------------------------------
PITCH_MODES = {"note": "note", "melody": "melody", "MIDI file": "midi_file", "recording": "from_audio", "free": None}
LOUDNESS_MODES = ("level", "envelope", "free")


def typed_pitch(value, name: str = "Note", lo: float = MIDI_MIN, hi: float = MIDI_MAX) -> float:
    """A typed pitch (A4, F#3, Bb2, or a MIDI number such as 69) → MIDI, within the studio's range."""
    try:
        p = parse_pitch(value.strip() if isinstance(value, str) else value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}.") from None
    if not lo <= p <= hi:
        raise ValueError(f"{name} {note_label(p)} is outside {note_label(lo)} … {note_label(hi)}; choose a note in that range.")
    return p


def _normalise_mix(mix, names: list[str]) -> dict[str, float]:
    if mix is None:
        mix = {}
    if not isinstance(mix, dict):
        raise ValueError("The timbre mix must map instrument names to weights, e.g. {\"saw\": 0.5, \"flute\": 0.5}.")
    out = {}
    for key, w in mix.items():
        if key not in names:
            raise ValueError(f"Unknown instrument {str(key)[:30]!r} in the timbre mix; this model has: {', '.join(names)}.")
        w = _number(w, f"Timbre weight for {key}", 0.0, 1e6)
        if w > 0:
            out[key] = w
    if not out:
        raise ValueError("The timbre mix is silent: turn up at least one instrument slider.")
    total = sum(out.values())
    return {k: w / total for k, w in out.items()}


def _envelope(attack, decay, sustain, release):
    values = (_number(attack, "Attack", 0, 5000, " ms") / 1000, _number(decay, "Decay", 0, 5000, " ms") / 1000,
              _number(sustain, "Sustain", -60, 0, " dB"), _number(release, "Release", 0, 5000, " ms") / 1000)
    from ..controls.conditioning import ADSR
    return ADSR(*values)


def conditioning_controls(config, *, instrument, mix, pitch_mode, pitch, melody, tempo, midi_file, recording,
                          source_length, loudness_mode, level, attack, decay, sustain, release, glide, vibrato_depth,
                          vibrato_rate, transpose, seconds, max_seconds: float = MAX_SECONDS) -> tuple[Controls, dict, str]:
    """Page values → (Controls, what was asked for (for the results table), a short label for file names)."""
    kw: dict = {}
    asked: dict = {}
    label = []
    names = list(getattr(config, "instrument_names", ()) or ())
    if instrument in (None, "", FREE):
        kw["instrument"] = None
    elif instrument == MIX:
        if not names:
            raise ValueError("This model has no instruments to mix; choose 'let the model choose'.")
        kw["instrument"] = _normalise_mix(mix, names)
        label.append("mix")
    elif instrument in names:
        kw["instrument"] = instrument
        label.append(instrument)
    else:
        choices = ", ".join(names) or "none"
        raise ValueError(f"Unknown instrument {str(instrument)[:30]!r}; this model knows: {choices}.")

    pitch_mode = pitch_mode or "note"
    if pitch_mode not in PITCH_MODES:
        raise ValueError(f"Pitch must be one of: {', '.join(PITCH_MODES)}; got {str(pitch_mode)[:20]!r}.")
    field = PITCH_MODES[pitch_mode]
    from_source = False
    if field == "note":
        p = typed_pitch(pitch, "Note")
        kw["pitch"] = p
        asked["pitch"] = note_label(p)
        label.append(note_name(p).split()[0].replace("#", "s"))
    elif field == "melody":
        text = melody.strip() if isinstance(melody, str) else ""
        if not text:
            raise ValueError("The melody is empty: type notes such as `C4 E4 G4:2` (NOTE:BEATS, `r` for a rest).")
        if len(text) > 2000:
            raise ValueError("The melody is too long (over 2000 characters); shorten it.")
        kw["melody"] = text
        kw["tempo"] = _number(tempo, "Tempo", 20, 400, " BPM")
        label.append("melody")
        from_source = True
    elif field == "midi_file":
        kw["midi_file"] = checked_upload(midi_file, "MIDI file", audio=False)
        label.append("midi")
        from_source = True
    elif field == "from_audio":
        kw["from_audio"] = checked_upload(recording, "recording")
        label.append("follow")
        from_source = True
    if from_source and source_length:
        kw["seconds"] = None        # the melody, file or recording sets the length
    else:
        kw["seconds"] = _number(seconds, "Duration", MIN_SECONDS, max_seconds, " s")

    loudness_mode = loudness_mode or "level"
    if loudness_mode not in LOUDNESS_MODES:
        raise ValueError(f"Loudness must be one of: {', '.join(LOUDNESS_MODES)}; got {str(loudness_mode)[:20]!r}.")
    if loudness_mode == "level":
        kw["loudness"] = _number(level, "Loudness", -60, 0, " dB")
        if field in ("note",):
            asked["loudness"] = f"{kw['loudness']:.1f} dB"
    elif loudness_mode == "envelope":
        kw["loudness"] = _number(level, "Peak loudness", -60, 0, " dB")
        kw["adsr"] = _envelope(attack, decay, sustain, release)

    expression = {"glide": (glide, "Glide", 0, 2000, " ms", 1e-3),
                  "vibrato_depth": (vibrato_depth, "Vibrato depth", 0, 200, " cents", 1.0),
                  "vibrato_rate": (vibrato_rate, "Vibrato rate", 0.1, 20, " Hz", 1.0),
                  "transpose": (transpose, "Transpose", -24, 24, " semitones", 1.0)}
    for name, (value, title, lo, hi, unit, scale) in expression.items():
        if value is None:
            continue   # left out: the control has no effect
        kw[name] = _number(value, title, lo, hi, unit) * scale
    if kw.get("transpose") and "pitch" in asked:
        asked["pitch"] = note_label(kw["pitch"] + kw["transpose"])
    return Controls(**kw), asked, "-".join(label) or "free"


def show_note_text(value) -> str:
    """What a typed pitch means: 'A4 · 440.0 Hz · MIDI 69', or why it is not a pitch."""
    try:
        p = typed_pitch(value)
    except ValueError as e:
        return f"⚠ {e}"
    return f"**{note_name(p)}** · {440 * 2 ** ((p - 69) / 12):.1f} Hz · MIDI {_num(p)}"


def _mix_summary(mix: dict | None) -> str:
    if not mix:
        return "*All sliders at zero: turn one up to hear that instrument.*"
    total = sum(mix.values()) or 1.0
    return "Mix: " + " · ".join(f"{k} {100 * w / total:.0f} %" for k, w in sorted(mix.items(), key=lambda kv: -kv[1]))


def _conditioning_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    names = list(getattr(getattr(initial, "config", None), "instrument_names", ()) or ())
    pitch_modes = list(PITCH_MODES)
    with gr.Row():
        with gr.Column(scale=1, min_width=340):
            # allow_custom_value: the handler checks names against the chosen model (API callers may pick
            # another model than the page was built with), with a message that lists the right ones.
            instrument = gr.Dropdown([*names, MIX, FREE], value=names[0] if names else FREE, label="Instrument",
                                     allow_custom_value=True, elem_id="instrument",
                                     info="One instrument, a blend of several, or leave it to the model.")
            with gr.Accordion("Timbre mix", open=False) as mix_box:
                gr.Markdown("Used when Instrument is *timbre mix*. Weights are normalised to add up to 100 %.")
                sliders = [gr.Slider(0, 1, value=0, step=0.05, label=(names[i] if i < len(names) else f"instrument {i}"),
                                     visible=i < len(names), elem_id=f"mix-{i}") for i in range(MAX_MIX_SLIDERS)]
                mix_text = gr.Markdown(_mix_summary({}))
                mix = gr.JSON(value={}, visible=False, label="timbre mix")
            pitch_mode = gr.Radio(pitch_modes, value="note", label="Pitch", elem_id="pitch-mode",
                                  info="A held note, a melody, a MIDI file, the pitch and loudness of a recording, or free.")
            with gr.Row():
                pitch = gr.Textbox(value="C4", label="Note", scale=3, elem_id="pitch-note", max_lines=1,
                                   info="A note name (A4, F#3, Bb2; C4 = middle C) or a MIDI number (60); "
                                        "the shipped models learned C3–C5.")
                pitch_name = gr.Markdown(show_note_text("C4"), min_height=10, elem_id="pitch-name")
            melody = gr.Textbox(label="Melody", value="C4:0.5 E4:0.5 G4:0.5 C5:1.5", visible=False, elem_id="melody",
                                info="NOTE:BEATS separated by spaces (C4 = middle C, F#4, Bb3 or MIDI numbers); `r:1` rests one beat.")
            tempo = gr.Slider(40, 240, value=120, step=1, label="Tempo (BPM)", visible=False)
            midi_file = gr.File(label="MIDI file (.mid)", file_types=[".mid", ".midi"], visible=False, type="filepath")
            recording = gr.Audio(label=f"Recording to follow (up to {MAX_UPLOAD_SECONDS:.0f} s)", type="filepath",
                                 sources=["upload", "microphone"], visible=False)
            upload_note = gr.Markdown("", elem_id="upload-note")
            source_length = gr.Checkbox(value=True, label="Length from the melody / file / recording", visible=False,
                                        info="Untick to use the Duration slider instead.")
            loudness_mode = gr.Radio(list(LOUDNESS_MODES), value="level",
                                     label="Loudness", info="A steady level, a per-note attack-decay-sustain-release envelope, or free.")
            level = gr.Slider(-40, -3, value=-18, step=1, label="Level (dB)", info="-3 dB is very loud, -40 dB quiet.")
            with gr.Group(visible=False) as adsr_box:
                with gr.Row():
                    attack = gr.Slider(0, 1000, value=20, step=5, label="Attack (ms)")
                    decay = gr.Slider(0, 2000, value=150, step=10, label="Decay (ms)")
                with gr.Row():
                    sustain = gr.Slider(-40, 0, value=-6, step=1, label="Sustain (dB below peak)")
                    release = gr.Slider(0, 2000, value=200, step=10, label="Release (ms)")
            with gr.Accordion("Expression: glide, vibrato, transpose", open=False):
                glide = gr.Slider(0, 500, value=0, step=10, label="Glide into each note (ms)")
                vibrato_depth = gr.Slider(0, 100, value=0, step=5, label="Vibrato depth (cents)")
                vibrato_rate = gr.Slider(1, 12, value=5.5, step=0.5, label="Vibrato rate (Hz)")
                transpose = gr.Slider(-12, 12, value=0, step=1, label="Transpose (semitones)")
            temperature = gr.Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature", elem_id="temperature",
                                    info="Lower: cleaner and more predictable; higher: noisier and wilder; 0 = always the likeliest sample.")
            strength = gr.Slider(0, MAX_STRENGTH, value=1.0, step=0.25, label="Conditioning strength", elem_id="strength",
                                 info="How hard the model follows the controls (classifier-free guidance): 1 = as "
                                      "trained, 0 = ignore them, 2–3 = insist (twice the compute).")
            # A number box, not a slider: a slider's box showed 600 while the slider sent 10. Out-of-range values
            # are refused by the handler with a one-line message.
            seconds = gr.Number(value=1.0, step=0.1, label="Duration (s)", elem_id="duration",
                                info=f"{_num(MIN_SECONDS)} to {_num(studio.max_seconds)} s.")
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="Seed", scale=3, elem_id="seed",  # range checked by the handler
                                 info="Same seed + same settings = the same sound.")
                new_seed = gr.Button("New seed", scale=1, size="sm", elem_id="new-seed", min_width=90)
        with gr.Column(scale=2):
            # The primary action sits above the result, so both are in view on a 1366×768 screen.
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="generate-conditioning", scale=3)
                stop = gr.Button("Stop", variant="stop", elem_id="stop-conditioning", scale=1)
            panel = _result_panel("Generated sound")

    @_friendly
    def generate_conditioned(model_name, instrument, mix, pitch_mode, pitch, melody, tempo, midi_file, recording,
                             source_length, loudness_mode, level, attack, decay, sustain, release, glide, vibrato_depth,
                             vibrato_rate, transpose, temperature, seconds, seed, strength=1.0,
                             request: gr.Request = None, progress=gr.Progress()):
        """Generate one sound from the chosen model with the given conditioning."""
        model = studio.wavenet(model_name)
        temperature = _number(temperature, "Temperature", 0, MAX_TEMPERATURE)
        strength = _number(1.0 if strength is None else strength, "Conditioning strength", 0, MAX_STRENGTH)
        seed = _number(seed, "Seed", 0, MAX_SEED, integer=True)
        controls, asked, label = conditioning_controls(
            model.config, instrument=instrument, mix=mix, pitch_mode=pitch_mode, pitch=pitch, melody=melody,
            tempo=tempo, midi_file=midi_file, recording=recording, source_length=source_length,
            loudness_mode=loudness_mode, level=level, attack=attack, decay=decay, sustain=sustain, release=release,
            glide=glide, vibrato_depth=vibrato_depth, vibrato_rate=vibrato_rate, transpose=transpose, seconds=seconds,
            max_seconds=studio.max_seconds)
        progress(0, desc="Reading the controls")
        t0 = time.perf_counter()
        inputs = model_inputs(controls, model.config)
        prep = time.perf_counter() - t0
        sr = model.config.sample_rate
        if inputs.n_samples > studio.max_seconds * sr + 1:
            raise ValueError(f"That is {inputs.n_samples / sr:.1f} s of sound; the studio makes at most "
                             f"{studio.max_seconds:.0f} s at a time. Shorten it, raise the tempo, or untick "
                             "'Length from the melody' and set a duration.")
        audio, took, stopped = studio.run_generation(model, inputs, temperature=temperature, seed=seed,
                                                     request=request, progress=progress, guidance=strength)
        shown = {k: v for k, v in dataclasses.asdict(controls).items()
                 if v is not None and not isinstance(v, np.ndarray) and k not in ("midi_file", "from_audio")}
        details = {"model": model_name, "method": studio.method(), "seed": seed, "temperature": temperature,
                   "conditioning_strength": strength, "controls": json_safe(shown)}
        asked_s = inputs.n_samples / sr
        if stopped:
            made = audio.shape[-1] / sr
            details.update(stopped=True, stopped_at_seconds=round(made, 4), stopped_at_samples=int(audio.shape[-1]),
                           asked_seconds=round(asked_s, 4))
            if audio.shape[-1] < model.config.hop_length:
                gr.Info("Stopped before any sound was made.")
                return empty_result("*Stopped before any sound was made.*", "**⏹ Stopped** before any sound was made.",
                                    details)
            gr.Info(f"Stopped: kept the {made:.2f} s made so far.")
            line = (f"**⏹ Stopped at {made:.2f} s of {asked_s:.2f} s:** here is what was made. "
                    "The verdict needs the whole sound; press Generate again for it.")
            return studio.results.render(audio[0], sr, f"{model_name}-{label}-seed{seed}-stopped", asked=asked,
                                         details=details, gen_seconds=took, timings={"conditioning": prep},
                                         verdict_text=line)
        t1 = time.perf_counter()
        verdict = judge(audio[0], controls, model.config, known_range=known_pitch_range(model), guidance=strength)
        return studio.results.render(audio[0], sr, f"{model_name}-{label}-seed{seed}", asked=asked, details=details,
                                     gen_seconds=took, timings={"conditioning": prep,
                                                                "verdict": time.perf_counter() - t1},
                                     verdict=verdict)

    gen_inputs = [model_dd, instrument, mix, pitch_mode, pitch, melody, tempo, midi_file, recording, source_length,
                  loudness_mode, level, attack, decay, sustain, release, glide, vibrato_depth, vibrato_rate, transpose,
                  temperature, seconds, seed, strength]
    go.click(generate_conditioned, gen_inputs, panel.outputs, api_name="generate",
                         concurrency_limit=studio.slots, concurrency_id="generation", show_progress_on=[panel.audio])

    @_friendly
    def stop_generation(request: gr.Request = None):
        """Stop this session's running generation."""
        studio.stops.stop(_session(request))

    # No `cancels=`: a stopped generation returns (and shows) what it made so far.
    stop.click(stop_generation, None, None, api_name="stop", queue=False)

    @_friendly
    def random_seed() -> int:
        """A fresh random seed."""
        return random.randint(0, MAX_SEED)

    new_seed.click(random_seed, None, seed, api_name="new_seed", queue=False)

    @_friendly
    def update_mix(model_name, *weights):
        """Slider values → the timbre mix (normalised when used)."""
        model = studio.shelf.get(model_name)
        model_names = list(getattr(model.config, "instrument_names", ()) or ())
        mix_ = {n: float(w) for n, w in zip(model_names, weights) if w and float(w) > 0}
        return mix_, _mix_summary(mix_)

    gr.on([s.change for s in sliders], update_mix, [model_dd, *sliders], [mix, mix_text], api_name="update_mix",
          queue=False, api_visibility="private")

    pitch.change(show_note_text, pitch, pitch_name, api_name="note_name", queue=False, api_visibility="private")

    @_friendly
    def check_recording(path):
        """Check an uploaded recording as soon as it arrives (readable audio, length), not at Generate."""
        if path:
            checked_upload(path, "recording")
            return f"Recording accepted: it sets the pitch and loudness to follow (up to {MAX_UPLOAD_SECONDS:.0f} s)."
        return ""

    @_friendly
    def check_midi(path):
        """Check an uploaded MIDI file as soon as it arrives (a readable file with a melody)."""
        if path:
            from ..controls.conditioning import read_midi
            notes = read_midi(checked_upload(path, "MIDI file", audio=False))
            return f"MIDI file accepted: {len(notes)} notes."
        return ""

    recording.upload(check_recording, recording, upload_note, api_name="check_recording", queue=False)
    midi_file.upload(check_midi, midi_file, upload_note, api_name="check_midi", queue=False)

    def show_pitch(mode):
        f = PITCH_MODES.get(mode)
        return (gr.update(visible=f == "note"), gr.update(visible=f == "note"), gr.update(visible=f == "melody"),
                gr.update(visible=f == "melody"), gr.update(visible=f == "midi_file"), gr.update(visible=f == "from_audio"),
                gr.update(visible=f in ("melody", "midi_file", "from_audio")))

    pitch_mode.change(show_pitch, pitch_mode, [pitch, pitch_name, melody, tempo, midi_file, recording, source_length],
                      api_name="pitch_mode", queue=False, api_visibility="private")

    def show_loudness(mode):
        return gr.update(visible=mode in ("level", "envelope")), gr.update(visible=mode == "envelope")

    loudness_mode.change(show_loudness, loudness_mode, [level, adsr_box], api_name="loudness_mode", queue=False,
                         api_visibility="private")

    def open_mix(choice):
        return gr.update(open=choice == MIX)

    instrument.change(open_mix, instrument, mix_box, api_name="instrument_mode", queue=False, api_visibility="private")

    def on_model(model_name):
        """Per-model choices of the Conditioning tab (instrument list, mix sliders)."""
        model = studio.shelf.get(model_name)
        names_ = list(getattr(model.config, "instrument_names", ()) or ())
        updates = [gr.update(choices=[*names_, MIX, FREE], value=names_[0] if names_ else FREE), {}, _mix_summary({})]
        updates += [gr.update(visible=i < len(names_), label=names_[i] if i < len(names_) else f"instrument {i}", value=0)
                    for i in range(MAX_MIX_SLIDERS)]
        return updates

    return {"on_model": (on_model, [instrument, mix, mix_text, *sliders]), "generate": generate_conditioned}


# ---- Sampling tab -----------------------------------------------------------------------------
# (name, label, unit, lowest, highest, default range, on by default) for each target the tab offers.
SAMPLING_TARGETS = (
    ("pitch", "Pitch", "a note (G3, F#4) or MIDI number", 24, 96, (55, 67), True),
    ("loudness", "Loudness", "dB", -80, 0, (-30, -12), False),
    ("brightness", "Brightness", "Hz (spectral centroid)", 0, 8000, (500, 2000), False),
    ("noisiness", "Noisiness", "0 = pure tone, 0.5+ = noise", 0, 1, (0, 0.1), False),
    ("onset_rate", "Onsets", "per second", 0, 50, (0, 2), False),
    ("sounding_seconds", "Sounding time", "s", 0, 10, (0.5, 10), False),
    ("voiced_fraction", "Pitched part", "0..1", 0, 1, (0.8, 1), False),
)
SAMPLING_AXES = [t[0] for t in SAMPLING_TARGETS]
MAX_KEEP = 8
MAX_CANDIDATES = 128
MAX_SAMPLING_SECONDS = 4.0
MAX_BUDGET_SECONDS = 300.0


def _range_boxes(name: str, lo: float, hi: float) -> tuple:
    """The min and max boxes of a target row; pitch takes note names (G3, F#4) or MIDI numbers."""
    if name == "pitch":
        return (gr.Textbox(value=note_name(lo), label="min (note)", scale=1, min_width=70, max_lines=1),
                gr.Textbox(value=note_name(hi), label="max (note)", scale=1, min_width=70, max_lines=1))
    return (gr.Number(value=lo, label="min", scale=1, min_width=70), gr.Number(value=hi, label="max", scale=1, min_width=70))


def range_texts(values: list, specs) -> list[str]:
    """Page values (on, low, high per target of ``specs``, rows of ``SAMPLING_TARGETS``) → target
    texts such as ``brightness=1500..2500`` for the targets switched on (ranges checked later)."""
    texts = []
    for k, (name, label, *_rest) in enumerate(specs):
        on, lo, hi = values[3 * k: 3 * k + 3]
        if not on:
            continue
        if name == "pitch":       # note names or MIDI numbers
            lo_s = "" if lo is None or str(lo).strip() == "" else _num(typed_pitch(lo, f"{label} minimum", 0, 127))
            hi_s = "" if hi is None or str(hi).strip() == "" else _num(typed_pitch(hi, f"{label} maximum", 0, 127))
        else:
            lo_s = "" if lo is None or lo == "" else _num(_number(lo, f"{label} minimum", -1e9, 1e9))
            hi_s = "" if hi is None or hi == "" else _num(_number(hi, f"{label} maximum", -1e9, 1e9))
        if not lo_s and not hi_s:
            raise ValueError(f"The {label.lower()} target is on but has no minimum or maximum; give at least one.")
        texts.append(f"{name}={lo_s}..{hi_s}")
    return texts


def sampling_targets(values: list, instrument_names) -> list[str]:
    """Page values (on, low, high per numeric target, then timbre on + name) → target texts, checked
    by ``sampling.parse_targets`` (inverted, empty and impossible ranges are refused there)."""
    from ..controls.sampling import parse_targets
    texts = range_texts(values, SAMPLING_TARGETS)
    timbre_on, timbre = values[3 * len(SAMPLING_TARGETS):]
    if timbre_on:
        if timbre in (None, "", FREE, MIX):
            raise ValueError("The timbre target is on: choose the instrument it should sound like.")
        texts.append(f"timbre={timbre}")
    if not texts:
        raise ValueError("Switch on at least one target (tick its box) so there is something to select by.")
    parse_targets(texts, tuple(instrument_names) or None)
    return texts


def _fixed_controls(config, instrument, fix_pitch, pitch, fix_loudness, level, seconds) -> Controls:
    names = list(getattr(config, "instrument_names", ()) or ())
    kw: dict = {"seconds": seconds}
    if instrument not in (None, "", FREE):
        if instrument not in names:
            raise ValueError(f"Unknown instrument {str(instrument)[:30]!r}; this model knows: {', '.join(names) or 'none'}.")
        kw["instrument"] = instrument
    if fix_pitch:
        kw["pitch"] = _number(pitch, "Fixed note", MIDI_MIN, MIDI_MAX, " (MIDI number)")
    if fix_loudness:
        kw["loudness"] = _number(level, "Fixed level", -60, 0, " dB")
    return Controls(**kw)


def _scatter(result: dict, x: str, y: str):
    """(scatter figure, "") or (None, a line saying why there is nothing to plot) when no candidate has
    both values (e.g. no candidate had a pitch)."""
    from ..plots import candidate_scatter_figure
    cands = result.get("candidates") or []
    missing = [a for a in dict.fromkeys((x, y)) if not any((c.get("descriptors") or {}).get(a) is not None for c in cands)]
    if missing:
        what = " and ".join(_DESCRIPTOR_LABELS.get(a, a).replace("_", " ") for a in missing)
        return None, (f"\n\n*Nothing to plot: no candidate had a measurable {what}. "
                      "Choose other scatter axes (e.g. loudness, brightness).*")
    return candidate_scatter_figure(result, x, y), ""


def _pick_label(c, sample_rate: int) -> str:
    d = c.descriptors or {}
    bits = [f"pick {c.rank}", f"seed {c.seed}"]
    if d.get("pitch") is not None:
        bits.append(note_name(d["pitch"]))
    bits.append("meets the targets" if c.meets_targets else f"closest miss ({', '.join(c.reasons[:2])})")
    return " · ".join(bits)


def _sampling_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    names = list(getattr(getattr(initial, "config", None), "instrument_names", ()) or ())
    gr.Markdown("Generate candidates freely (or with some controls fixed), measure each one, and keep those whose "
                "measurements fall inside your target ranges. It works for anything measurable, but costs "
                "compute — the cost of every run is shown.")
    target_inputs = []
    with gr.Row():
        with gr.Column(scale=1, min_width=360):
            with gr.Accordion("Targets: tick a property and give its range (leave an end empty for no bound)", open=True):
                for name, label, unit, lo, hi, (d_lo, d_hi), on in SAMPLING_TARGETS:
                    with gr.Row(equal_height=True):
                        cb = gr.Checkbox(value=on, label=label, info=unit, scale=2, min_width=120, elem_id=f"t-{name}")
                        mn, mx = _range_boxes(name, d_lo, d_hi)
                    target_inputs += [cb, mn, mx]
                with gr.Row(equal_height=True):
                    timbre_on = gr.Checkbox(value=False, label="Timbre", info="judged by a classifier", scale=2,
                                            min_width=120)
                    timbre = gr.Dropdown(names, value=names[0] if names else None, label="sounds like", scale=2,
                                         allow_custom_value=True)
                target_inputs += [timbre_on, timbre]
            with gr.Accordion("Controls kept fixed (everything else is left free)", open=False):
                s_instrument = gr.Dropdown([FREE, *names], value=FREE, label="Instrument", allow_custom_value=True)
                with gr.Row(equal_height=True):
                    fix_pitch = gr.Checkbox(value=False, label="Fix the note", scale=1)
                    s_pitch = gr.Slider(MIDI_MIN, MIDI_MAX, value=60, step=1, label="Note (MIDI)", scale=3)
                with gr.Row(equal_height=True):
                    fix_loud = gr.Checkbox(value=False, label="Fix the level", scale=1)
                    s_level = gr.Slider(-40, -3, value=-18, step=1, label="Level (dB)", scale=3)
            s_seconds = gr.Slider(0.2, MAX_SAMPLING_SECONDS, value=1.0, step=0.1, label="Length of each candidate (s)",
                                  elem_id="s-seconds")
            with gr.Row():
                keep = gr.Slider(1, MAX_KEEP, value=3, step=1, label="Keep", info="stop after this many pass",
                                 elem_id="s-keep")
                max_cands = gr.Slider(1, MAX_CANDIDATES, value=32, step=1, label="Max candidates",
                                      info="budget", elem_id="s-max")
            with gr.Row():
                budget = gr.Slider(5, MAX_BUDGET_SECONDS, value=60, step=5, label="Time budget (s)")
                early = gr.Checkbox(value=True, label="Early rejection",
                                    info="stop a candidate as soon as loudness, noisiness or sounding time cannot fit")
            with gr.Row():
                s_temperature = gr.Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature")
                s_seed = gr.Number(value=0, precision=0, label="First seed", info="candidate i uses seed + i")
            with gr.Row():
                sample_btn = gr.Button("Sample", variant="primary", elem_id="sample")
                compare_btn = gr.Button("Same goal by conditioning", elem_id="compare")
                s_stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=2):
            cost = gr.Markdown("*Set targets and press Sample.*", elem_id="sampling-cost")
            with gr.Row():
                x_axis = gr.Dropdown(SAMPLING_AXES, value="pitch", label="scatter x", scale=1)
                y_axis = gr.Dropdown(SAMPLING_AXES, value="brightness", label="scatter y", scale=1)
            scatter = gr.Plot(label="Candidates", show_label=False, format="png", elem_classes=["sampling-scatter"])
            gr.Markdown("**Picks** (accepted first; when too few pass, the closest misses fill up)")
            picks = []
            for i in range(MAX_KEEP):
                picks.append(gr.Audio(label=f"pick {i + 1}", type="numpy", interactive=False, visible=False,
                                      elem_classes=["sampling-pick"]))
            inspect = gr.Radio([], label="Inspect pick", elem_id="inspect-pick")
            panel = _result_panel("Selected pick")
            with gr.Accordion("Same goal by conditioning", open=False) as cmp_box:
                cmp_table = gr.Dataframe(headers=["method", "outputs", "meeting the targets", "candidates",
                                                  "audio generated (s)", "wall time (s)", "CPU time (s)"],
                                         label="Comparison", interactive=False, wrap=True)
                cmp_note = gr.Markdown()
                cmp_takes = [gr.Audio(label=f"conditioned take {i + 1}", type="numpy", interactive=False, visible=False)
                             for i in range(MAX_KEEP)]
    last = gr.State(None)          # the last run: result dict, pick audio paths, summary; per browser session

    def _sampler(model_name, values, instrument, fix_pitch_, pitch, fix_loud_, level, seconds, temperature, seed,
                 keep_, max_c, budget_, early_):  # noqa: PLR0913 - one value per control on the page
        from ..controls.sampling import RejectionSampler
        model = studio.wavenet(model_name)
        seconds = _number(seconds, "Candidate length", 0.1, MAX_SAMPLING_SECONDS, " s")
        controls = _fixed_controls(model.config, instrument, fix_pitch_, pitch, fix_loud_, level, seconds)
        texts = sampling_targets(values, getattr(model.config, "instrument_names", ()))
        return model, RejectionSampler(
            model, texts, controls=controls, seconds=seconds,
            temperature=_number(temperature, "Temperature", 0, MAX_TEMPERATURE),
            keep=_number(keep_, "Keep", 1, MAX_KEEP, integer=True),
            max_candidates=_number(max_c, "Max candidates", 1, MAX_CANDIDATES, integer=True),
            max_seconds=_number(budget_, "Time budget", 1, MAX_BUDGET_SECONDS, " s"),
            seed=_number(seed, "First seed", 0, MAX_SEED, integer=True), early_rejection=bool(early_),
            batch=8, threads=1)

    def _cost_line(summary: dict, keep_: int) -> str:
        s_ = summary
        line = (f"**{s_['accepted']} of {s_['candidates_generated']} candidates accepted** "
                f"(acceptance {100 * s_['acceptance_rate']:.0f} %) · {s_['seconds_of_audio_generated']:.1f} s of audio "
                f"generated · early rejection saved {100 * s_['saved_fraction']:.0f} % · "
                f"{s_['wall_seconds']:.1f} s wall, {s_['cpu_seconds']:.1f} s CPU")
        why = {"keep": "enough passed", "max_candidates": "candidate budget spent", "max_seconds": "time budget spent",
               "cancelled": "stopped"}.get(s_["stop_reason"], s_["stop_reason"])
        line += f" · stopped: {why}"
        if s_["picks_meeting_targets"] < keep_:
            line += (f"\n\n⚠ Only {s_['picks_meeting_targets']} of the {keep_} picks meet every target; widen the "
                     "ranges, fix a control by conditioning, or raise the budget.")
        return line

    @_friendly
    def sample(model_name, pitch_on, pitch_min, pitch_max, loudness_on, loudness_min, loudness_max, brightness_on, brightness_min,
               brightness_max, noisiness_on, noisiness_min, noisiness_max, onsets_on, onsets_min, onsets_max,
               sounding_on, sounding_min, sounding_max, voiced_on, voiced_min, voiced_max, timbre_on, timbre_name,
               instrument, fix_pitch_, pitch, fix_loud_, level, seconds, temperature, seed, keep_, max_candidates,
               time_budget, early_rejection, scatter_x, scatter_y,
               request: gr.Request = None, progress=gr.Progress()):
        """Rejection sampling: generate candidates until ``keep`` meet every target or the budget is spent."""
        values = [pitch_on, pitch_min, pitch_max, loudness_on, loudness_min, loudness_max, brightness_on,
                  brightness_min, brightness_max, noisiness_on, noisiness_min, noisiness_max, onsets_on, onsets_min,
                  onsets_max, sounding_on, sounding_min, sounding_max, voiced_on, voiced_min, voiced_max, timbre_on,
                  timbre_name]
        model, sampler = _sampler(model_name, values, instrument, fix_pitch_, pitch, fix_loud_, level, seconds,
                                  temperature, seed, keep_, max_candidates, time_budget, early_rejection)
        x, y = scatter_x, scatter_y
        sr = model.config.sample_rate

        def run(progress, cancel):
            return sampler.run(progress=lambda done, total, _s: progress(done, total), cancel=cancel)
        result, took = studio.stoppable(run, request=request, progress=progress, label="Candidates", unit="candidates")
        d = result.to_dict()
        d.pop("model", None)                 # a server path; the page has the model's name
        summary = result.summary()
        pick_files, pick_updates, choices = [], [], []
        for c in result.picks:
            pcm = to_int16(c.audio)
            pick_files.append(studio.results.wav(pcm, sr, f"{model_name}-pick{c.rank}-seed{c.seed}"))
            label = _pick_label(c, sr)
            pick_updates.append(gr.update(value=(sr, pcm), label=label, visible=True))
            choices.append(label)
        pick_updates += [gr.update(value=None, visible=False)] * (MAX_KEEP - len(pick_updates))
        state = {"result": d, "picks": pick_files, "labels": choices, "keep": sampler.keep, "targets":
                 [str(t) for t in sampler.targets], "controls": json_safe(d.get("controls")), "seconds": sampler.n / sr,
                 "model": model_name, "summary": json_safe(summary)}
        fig, empty_axes = _scatter(d, x or "pitch", y or "brightness")
        panel_out = (_render_pick(state, 0, model) if pick_files else
                     empty_result("*No candidate was completed: raise the budget.*"))
        return [_cost_line(summary, sampler.keep) + empty_axes, fig, *pick_updates,
                gr.update(choices=choices, value=choices[0] if choices else None), *panel_out, state]

    def _render_pick(state, index: int, model=None):
        import soundfile as sf
        path = state["picks"][index]
        audio, sr = sf.read(path, dtype="float32")
        cand = next(c for c in state["result"]["candidates"] if c["index"] == state["result"]["picks"][index])
        details = {"model": state["model"], "seed": cand["seed"], "status": cand["status"],
                   "meets_targets": cand["meets_targets"], "distance_to_targets": cand["distance"],
                   "targets": state["targets"], "controls": state["controls"]}
        line = ("**✓ Meets every target** (" + ", ".join(state["targets"]) + ")" if cand["meets_targets"] else
                "**✗ Misses the targets:** " + "; ".join(cand.get("reasons") or []) +
                ". **Next step:** widen the ranges, fix a control by conditioning, or raise the budget.")
        return list(studio.results.render(audio, sr, Path(path).stem, details=details, verdict_text=line))

    sample_outputs = [cost, scatter, *picks, inspect, *panel.outputs, last]
    sample_inputs = [model_dd, *target_inputs, s_instrument, fix_pitch, s_pitch, fix_loud, s_level, s_seconds,
                     s_temperature, s_seed, keep, max_cands, budget, early, x_axis, y_axis]
    ev = sample_btn.click(sample, sample_inputs, sample_outputs, api_name="sample", concurrency_limit=studio.slots,
                          concurrency_id="generation", show_progress_on=[scatter])

    @_friendly
    def inspect_pick(choice, state):
        """Waveform, spectrogram, measurements and WAV of one pick of the last run."""
        if not state or not state.get("picks"):
            raise ValueError("Run Sample first; then choose one of its picks.")
        if choice not in state["labels"]:
            raise ValueError("Choose one of the picks listed.")
        return _render_pick(state, state["labels"].index(choice))

    inspect.input(inspect_pick, [inspect, last], panel.outputs, api_name="inspect_pick", concurrency_id="light",
                  concurrency_limit=4)

    @_friendly
    def replot(x, y, state):
        """Redraw the candidate scatter of the last run on other axes."""
        if not state:
            return gr.update()
        fig, empty_axes = _scatter(state["result"], x, y)
        if empty_axes:
            gr.Warning(empty_axes.strip().strip("*"))
        return fig

    gr.on([x_axis.input, y_axis.input], replot, [x_axis, y_axis, last], scatter, api_name="sampling_scatter",
          concurrency_id="light", concurrency_limit=4)

    @_friendly
    def compare(model_name, pitch_on, pitch_min, pitch_max, loudness_on, loudness_min, loudness_max, brightness_on, brightness_min,
               brightness_max, noisiness_on, noisiness_min, noisiness_max, onsets_on, onsets_min, onsets_max,
               sounding_on, sounding_min, sounding_max, voiced_on, voiced_min, voiced_max, timbre_on, timbre_name,
               instrument, fix_pitch_, pitch, fix_loud_, level, seconds, temperature, seed, keep_, max_candidates,
               time_budget, early_rejection, state,
                request: gr.Request = None, progress=gr.Progress()):
        """The same goal by conditioning: condition on what can be conditioned (the middle of the pitch and
        loudness ranges, the timbre), generate as many takes as Keep, and judge them by the same targets."""
        from dataclasses import replace

        from ..controls.sampling import failed_targets
        values = [pitch_on, pitch_min, pitch_max, loudness_on, loudness_min, loudness_max, brightness_on,
                  brightness_min, brightness_max, noisiness_on, noisiness_min, noisiness_max, onsets_on, onsets_min,
                  onsets_max, sounding_on, sounding_min, sounding_max, voiced_on, voiced_min, voiced_max, timbre_on,
                  timbre_name]
        model, sampler = _sampler(model_name, values, instrument, fix_pitch_, pitch, fix_loud_, level, seconds,
                                  temperature, seed, keep_, max_candidates, time_budget, early_rejection)
        controls, conditioned, free = sampler.controls, [], []
        for t in sampler.targets:
            if t.name == "pitch" and getattr(model.config, "local_dim", 0):
                mid = float(round((max(t.low, MIDI_MIN) + min(t.high, MIDI_MAX)) / 2))   # the models learned whole notes
                controls = replace(controls, pitch=mid)
                conditioned.append(f"pitch {note_name(mid)}")
            elif t.name == "loudness" and getattr(model.config, "local_dim", 0):
                mid = (max(t.low, -40) + min(t.high, -3)) / 2
                controls = replace(controls, loudness=mid)
                conditioned.append(f"loudness {mid:.0f} dB")
            elif t.name == "timbre" and getattr(model.config, "n_instruments", 0):
                controls = replace(controls, instrument=t.label)
                conditioned.append(f"timbre {t.label}")
            else:
                free.append(t.name.replace("_", " "))
        inputs = model_inputs(controls, model.config)
        sr = model.config.sample_rate
        t0, c0 = time.perf_counter(), time.process_time()
        seeds = sampler.seeds(0, sampler.keep)
        audio, _ = studio.stoppable(lambda **kw: generate(model, inputs, temperature=sampler.temperature, seed=seeds,
                                                          batch=len(seeds), method=studio.method(), **kw),
                                    request=request, progress=progress, label="Conditioned takes")
        verdicts = [not failed_targets(sampler.measure(a), sampler.targets) for a in audio]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = [["conditioning", len(audio), sum(verdicts), len(audio), round(len(audio) * sampler.n / sr, 2),
                 round(wall, 2), round(cpu, 2)]]
        if state and state.get("targets") == [str(t) for t in sampler.targets]:
            s_ = state["summary"]
            rows.insert(0, ["rejection sampling (last run)", s_["picked"], s_["picks_meeting_targets"],
                            s_["candidates_generated"], round(s_["seconds_of_audio_generated"], 2),
                            round(s_["wall_seconds"], 2), round(s_["cpu_seconds"], 2)])
        note = (f"Conditioned on: {', '.join(conditioned) or 'nothing (no target can be conditioned)'}"
                f"{'; left free: ' + ', '.join(free) if free else ''}. Every take is judged by the same targets. "
                f"Targets: {', '.join(str(t) for t in sampler.targets)}.")
        takes = [gr.update(value=(sr, to_int16(a)), visible=True,
                           label=f"conditioned take {i + 1} · seed {seeds[i]} · {'meets' if ok else 'misses'} the targets")
                 for i, (a, ok) in enumerate(zip(audio, verdicts))]
        takes += [gr.update(value=None, visible=False)] * (MAX_KEEP - len(takes))
        return [{"headers": ["method", "outputs", "meeting the targets", "candidates", "audio generated (s)",
                             "wall time (s)", "CPU time (s)"], "data": rows}, note, *takes, gr.update(open=True)]

    ev2 = compare_btn.click(compare, [*sample_inputs[:-2], last], [cmp_table, cmp_note, *cmp_takes, cmp_box],
                            api_name="compare_conditioning", concurrency_limit=studio.slots,
                            concurrency_id="generation")

    @_friendly
    def stop_sampling(request: gr.Request = None):
        """Stop this session's running sampling or comparison."""
        studio.stops.stop(_session(request))

    s_stop.click(stop_sampling, None, None, api_name="stop_sampling", queue=False, cancels=[ev, ev2])

    def on_model(model_name):
        model = studio.shelf.get(model_name)
        names_ = list(getattr(model.config, "instrument_names", ()) or ())
        return [gr.update(choices=names_, value=names_[0] if names_ else None),
                gr.update(choices=[FREE, *names_], value=FREE)]

    return {"on_model": (on_model, [timbre, s_instrument])}


# ---- Autoencoder tab --------------------------------------------------------------------------
UPLOAD = "my upload / recording"
NO_CLIP = "none (no morph)"
N_DIRECTIONS = 4                       # principal-direction sliders shown
# Steer to targets: (name, default range, on by default) for each target the panel offers; labels and units
# are the Sampling tab's (SAMPLING_TARGETS).
STEER_DEFAULTS = (("brightness", (2000, 3500), True), ("loudness", (-30, -12), False), ("noisiness", (0, 0.1), False),
                  ("pitch", (55, 67), False))
MAX_STEER_BUDGET = 64                  # decodes per search
MAX_STEER_SECONDS = 300.0


def _steer_specs() -> tuple:
    rows = {t[0]: t for t in SAMPLING_TARGETS}
    return tuple((*rows[name][:5], rng, on) for name, rng, on in STEER_DEFAULTS)


STEER_TARGETS = _steer_specs()


def _fmt_range(target) -> str:
    """A target range as the results table's "asked for" text, e.g. '1500 Hz … 2500 Hz', '≥ -20.0 dB'."""
    lo = None if math.isinf(target.low) else _fmt_descriptor(target.name, target.low)
    hi = None if math.isinf(target.high) else _fmt_descriptor(target.name, target.high)
    return f"{lo} … {hi}" if lo and hi else (f"≥ {lo}" if lo else f"≤ {hi}")


def steer_status(result, wall_seconds: float) -> str:
    """One line on a steering result: met or not (flagged as the closest found), decodes, latent distance, time."""
    r = result
    if r.met:
        verdict = "✓ **Targets met**"
    else:
        verdict = f"⚠ **Closest found, targets not met** ({'; '.join(r.failed)})"
    why = {"met": "", "budget": "budget spent", "time": "time limit reached", "cancelled": "stopped"}.get(r.stopped, r.stopped)
    line = (f"{verdict} · {r.decodes} of {r.budget} decodes used · moved {r.latent_distance:.2f} std in the latent · "
            f"distance to targets {r.start_distance:.2f} → {r.distance:.2f} · {wall_seconds:.1f} s wall")
    return line + (f" · {why}" if why and not r.met else "")


@functools.lru_cache(maxsize=4)
def corpus_examples(sample_rate: int, size: int = 12) -> dict[str, np.ndarray]:
    """A few clips of the built-in corpus (another seed than training), named for the menu."""
    from ..data.corpus import NoteCorpus
    out = {}
    for e in NoteCorpus(sample_rate=sample_rate, hop_length=160, seed=7, size=size, seconds=1.0):
        kind, _, inst = e.name.split("-", 2)
        voiced = e.f0[e.f0 > 0]
        where = note_name(float(np.median(69 + 12 * np.log2(voiced / 440.0)))).split()[0] if len(voiced) else ""
        out[f"{inst} {kind} {where} (#{len(out) + 1})".replace("  ", " ")] = e.audio.astype(np.float32)
    return out


def _clip(choice, upload, sample_rate: int, what: str, max_seconds: float) -> np.ndarray:
    """A menu choice or an upload → mono float32 at the model's rate."""
    from ..audio_io import load_audio
    if choice == UPLOAD or (choice in (None, "") and upload):
        path = checked_upload(upload, what, max_seconds=max_seconds)
        return load_audio(path, sample_rate, max_seconds=max_seconds)
    examples = corpus_examples(sample_rate)
    if choice not in examples:
        raise ValueError(f"Unknown example {str(choice)[:40]!r} for the {what}; pick one from the list or upload a clip.")
    return examples[choice]


def _ae_details(ae_module, model) -> tuple[list[str], bool]:
    """(labels of the principal-direction sliders, whether the pitch probe can shift pitch)."""
    try:
        _, _, std = ae_module.principal_directions(model)
        share = std ** 2 / max(float((std ** 2).sum()), 1e-12)
        labels = [f"direction {k + 1} ({100 * share[k]:.0f} % of variance)" for k in range(min(N_DIRECTIONS, len(std)))]
    except ValueError:
        labels = []
    pitch = getattr(model.config, "pitch_weight", 0) > 0 and hasattr(model, "pitch_head")
    return labels, pitch


def _autoencoder_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    from ..controls import autoencoder as ae_module
    names = studio.shelf.names("autoencoder")
    default = studio.shelf.default("autoencoder")
    labels, has_pitch = [], False
    sr = 16000
    if default:
        try:
            m = studio.shelf.get(default, kind="autoencoder")
            labels, has_pitch = _ae_details(ae_module, m)
            sr = m.config.sample_rate
        except (CheckpointError, ValueError) as e:
            log.warning("cannot load %s: %s", default, e)
    examples = list(corpus_examples(sr))
    gr.Markdown("Encode a clip into a compact code (the latent: a few numbers per ~30 ms), change the code, "
                "and let the WaveNet decoder turn it back into sound.")
    with gr.Row():
        with gr.Column(scale=1, min_width=340):
            ae_dd = gr.Dropdown(names, value=default, label="Autoencoder model", elem_id="ae-picker",
                                info="Autoencoders installed on this server." if names else
                                "None installed: train one with `wavenet train --model-type autoencoder`.")
            clip_a = gr.Dropdown([*examples, UPLOAD], value=examples[0] if examples else UPLOAD, label="Clip A",
                                 elem_id="clip-a", info="A corpus example, or your own clip (upload or record below).")
            upload_a = gr.Audio(label=f"Your clip A (up to {studio.max_seconds:.0f} s)", type="filepath",
                                sources=["upload", "microphone"])
            with gr.Row():
                reconstruct_btn = gr.Button("Reconstruct A", elem_id="reconstruct")
            with gr.Accordion("Edit the code", open=True):
                pcs = [gr.Slider(-3, 3, value=0, step=0.1, label=labels[k] if k < len(labels) else f"direction {k + 1}",
                                 visible=k < len(labels), elem_id=f"pc-{k + 1}",
                                 info="Move every frame along this direction, in corpus standard deviations." if k == 0 else None)
                       for k in range(N_DIRECTIONS)]
                shift = gr.Slider(-12, 12, value=0, step=1, label="Pitch shift through the code (semitones)",
                                  visible=has_pitch, elem_id="ae-shift")
            with gr.Accordion("Morph towards clip B", open=False):
                clip_b = gr.Dropdown([NO_CLIP, *examples, UPLOAD], value=NO_CLIP, label="Clip B", elem_id="clip-b")
                upload_b = gr.Audio(label="Your clip B", type="filepath", sources=["upload", "microphone"])
                alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="α (0 = clip A, 1 = clip B)", elem_id="alpha")
            ae_temperature = gr.Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature")
            ae_seed = gr.Number(value=0, precision=0, label="Seed")
            with gr.Row():
                decode_btn = gr.Button("Decode", variant="primary", elem_id="decode")
                ae_stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=2):
            original = gr.Audio(label="Clip A as heard by the model", type="numpy", interactive=False)
            latent_plot = gr.Plot(label="Latent", show_label=False, format="png", elem_classes=["ae-latent"])
            panel = _result_panel("Decoded sound")
    with gr.Accordion("Steer to targets: let the computer find the code", open=False, elem_id="steer-panel"):
        gr.Markdown("Give clip A a target instead of moving sliders by hand (\"this sound, but brighter and "
                    "quieter\"): the search tries codes near clip A's along the principal directions, decodes and "
                    "measures each one, and keeps the closest code whose sound meets every range — or, when none "
                    "does within the budget, the closest it found. Uses the clip, model and temperature above.")
        with gr.Row():
            with gr.Column(scale=1, min_width=340):
                steer_inputs = []
                for name, label, unit, _lo, _hi, (d_lo, d_hi), on in STEER_TARGETS:
                    with gr.Row(equal_height=True):
                        cb = gr.Checkbox(value=on, label=label, info=unit, scale=2, min_width=120,
                                         elem_id=f"steer-{name}")
                        mn, mx = _range_boxes(name, d_lo, d_hi)
                    steer_inputs += [cb, mn, mx]
                with gr.Row():
                    steer_budget = gr.Number(value=16, precision=0, label="Budget (decodes)", elem_id="steer-budget",
                                             info=f"2–{MAX_STEER_BUDGET}; every candidate decoded counts one")
                    steer_time = gr.Number(value=120, label="Time limit (s)", elem_id="steer-time",
                                           info=f"up to {MAX_STEER_SECONDS:.0f} s")
                    steer_seed = gr.Number(value=0, precision=0, label="Seed", elem_id="steer-seed",
                                           info="same seed, same search")
                with gr.Row():
                    steer_btn = gr.Button("Run steering", variant="primary", elem_id="steer-run")
                    steer_stop = gr.Button("Stop", variant="stop", elem_id="steer-stop")
            with gr.Column(scale=2, elem_id="steer-result"):
                steer_line = gr.Markdown("*Tick a target, give its range and press Run steering.*",
                                         elem_id="steer-status")
                steer_plot = gr.Plot(label="Steering path", show_label=False, format="png", elem_classes=["steer-path"])
                after = _result_panel("After: steered", "Run steering")
                before = _result_panel("Before: clip A decoded (where the search starts)", "Run steering")

    def _clip_a(ae_name, choice_a, file_a):
        """The chosen autoencoder, clip A (corpus example or upload, checked and loaded) and the length limit."""
        model = studio.shelf.get(ae_name, kind="autoencoder")
        limit = min(studio.max_seconds, model.config.max_seconds)
        return model, _clip(choice_a, file_a, model.config.sample_rate, "clip A", limit), limit

    def _run(ae_name, choice_a, file_a, choice_b, file_b, alpha_, offsets, semitones, temperature, seed, request,
             progress, label):
        studio.shelf.get(ae_name, kind="autoencoder")
        temperature = _number(temperature, "Temperature", 0, MAX_TEMPERATURE)
        seed = _number(seed, "Seed", 0, MAX_SEED, integer=True)
        t0 = time.perf_counter()
        model, audio_a, limit = _clip_a(ae_name, choice_a, file_a)
        sr_ = model.config.sample_rate
        z = ae_module.encode(model, audio_a)
        what = ["A"]
        if choice_b not in (None, "", NO_CLIP):
            a = _number(alpha_, "α", 0, 1)
            z_b = ae_module.encode(model, _clip(choice_b, file_b, sr_, "clip B", limit))
            z = ae_module.interpolate(z, z_b, a, pad=ae_module.silence_latent(model))
            what.append(f"B{a:g}")
        offsets = {k: _number(v, f"Direction {k + 1}", -10, 10) for k, v in enumerate(offsets) if v}
        if offsets:
            z = ae_module.edit(model, z, offsets=offsets)
            what.append("edit")
        if semitones:
            z = ae_module.shift_pitch(model, z, _number(semitones, "Pitch shift", -24, 24, " semitones"))
            what.append(f"shift{semitones:+g}")
        if len(z) * model.config.hop_length > studio.max_seconds * sr_ + model.config.hop_length:
            raise ValueError(f"The clips last more than {studio.max_seconds:.0f} s; trim them first.")
        prep = time.perf_counter() - t0
        audio, took = studio.stoppable(lambda **kw: ae_module.decode(model, z, temperature=temperature, seed=seed,
                                                                     method=studio.method(), **kw),
                                       request=request, progress=progress, label=label)
        from ..plots import latent_figure
        heat = latent_figure(z, model.config.frame_rate, title=f"latent decoded ({model.config.latent_dim} dims × "
                                                            f"{len(z)} frames at {model.config.frame_rate:g} frames/s)")
        details = {"model": ae_name, "method": studio.method(), "seed": seed, "temperature": temperature,
                   "latent_frames": len(z), "edits": {"directions": {str(k + 1): v for k, v in offsets.items()},
                                                      "pitch_shift": semitones or 0, "morph": what[1] if len(what) > 1 and what[1].startswith("B") else None}}
        result = studio.results.render(audio, sr_, f"{ae_name}-{'-'.join(what)}-seed{seed}", details=details,
                                       gen_seconds=took, timings={"encode": prep})
        return ((sr_, to_int16(audio_a)), heat, *result)

    @_friendly
    def reconstruct(ae_name, choice_a, file_a, temperature, seed, request: gr.Request = None, progress=gr.Progress()):
        """Encode clip A and decode it unchanged."""
        return _run(ae_name, choice_a, file_a, NO_CLIP, None, 0, [], 0, temperature, seed, request, progress,
                    "Decoding")

    @_friendly
    def decode(ae_name, choice_a, file_a, choice_b, file_b, alpha, pc1, pc2, pc3, pc4, pitch_shift, temperature, seed,
               request: gr.Request = None, progress=gr.Progress()):
        """Encode clip A (and B), morph by α, move along the principal directions, shift pitch, decode."""
        return _run(ae_name, choice_a, file_a, choice_b, file_b, alpha, [pc1, pc2, pc3, pc4], pitch_shift,
                    temperature, seed, request, progress, "Decoding")

    outputs = [original, latent_plot, *panel.outputs]
    ev1 = reconstruct_btn.click(reconstruct, [ae_dd, clip_a, upload_a, ae_temperature, ae_seed], outputs,
                                api_name="reconstruct", concurrency_limit=studio.slots, concurrency_id="generation")
    ev2 = decode_btn.click(decode, [ae_dd, clip_a, upload_a, clip_b, upload_b, alpha, *pcs, shift, ae_temperature,
                                    ae_seed], outputs, api_name="decode", concurrency_limit=studio.slots,
                           concurrency_id="generation")

    @_friendly
    def stop_decoding(request: gr.Request = None):
        """Stop this session's running decode."""
        studio.stops.stop(_session(request))

    ae_stop.click(stop_decoding, None, None, api_name="stop_autoencoder", queue=False, cancels=[ev1, ev2])

    @_friendly
    def steer_to_targets(ae_name, choice_a, file_a, brightness_on, brightness_min, brightness_max, loudness_on,
                         loudness_min, loudness_max, noisiness_on, noisiness_min, noisiness_max, pitch_on, pitch_min,
                         pitch_max, budget, time_limit, temperature, seed, request: gr.Request = None,
                         progress=gr.Progress()):
        """Steer clip A's code toward the target ranges: search nearby codes, decode and measure each, keep the
        closest that meets every target (or the closest found). Returns the status line, the path plot, and
        the sound before and after."""
        from ..plots import steering_path_figure
        from ..controls.steering import steer, steering_targets
        values = [brightness_on, brightness_min, brightness_max, loudness_on, loudness_min, loudness_max,
                  noisiness_on, noisiness_min, noisiness_max, pitch_on, pitch_min, pitch_max]
        texts = range_texts(values, STEER_TARGETS)
        if not texts:
            raise ValueError("Switch on at least one target (tick its box) so there is something to steer to.")
        targets = steering_targets(texts)
        budget = _number(budget, "Budget", 2, MAX_STEER_BUDGET, " decodes", integer=True)
        time_limit = _number(time_limit, "Time limit", 1, MAX_STEER_SECONDS, " s")
        temperature = _number(temperature, "Temperature", 0, MAX_TEMPERATURE)
        seed = _number(seed, "Seed", 0, MAX_SEED, integer=True)
        t0 = time.perf_counter()
        model, audio_a, _ = _clip_a(ae_name, choice_a, file_a)
        z = ae_module.encode(model, audio_a)
        prep = time.perf_counter() - t0
        r, took = studio.stoppable(
            lambda **kw: steer(model, z, targets, budget=budget, max_seconds=time_limit, seed=seed,
                               temperature=temperature, method=studio.method(), **kw),
            request=request, progress=progress, label="Steering", unit="decodes")
        asked = {t.name: _fmt_range(t) for t in targets}
        common = {"model": ae_name, "method": studio.method(), "seed": seed, "temperature": temperature,
                  "targets": [str(t) for t in targets]}
        sr_ = r.sample_rate
        first = studio.results.render(r.start_audio, sr_, f"{ae_name}-steer-start-seed{seed}", asked=asked,
                                      details={**common, "what": "clip A decoded from its own code (the search's start)",
                                               "distance_to_targets": r.start_distance},
                                      timings={"encode": prep})
        report = r.to_dict()
        last = studio.results.render(r.audio, sr_, f"{ae_name}-steer-{'met' if r.met else 'closest'}-seed{seed}",
                                     asked=asked, details={**common, "steering": json_safe(report)},
                                     timings={"encode": prep, "search": took}, verdict_text=steer_status(r, took))
        return [steer_status(r, took), steering_path_figure(report), *first, *last]

    steer_btn.click(steer_to_targets, [ae_dd, clip_a, upload_a, *steer_inputs, steer_budget, steer_time, ae_temperature,
                                       steer_seed],
                    [steer_line, steer_plot, *before.outputs, *after.outputs], api_name="steer",
                    concurrency_limit=studio.slots, concurrency_id="generation", show_progress_on=[steer_plot])

    @_friendly
    def stop_steering(request: gr.Request = None):
        """Stop this session's steering search; it returns the closest code found so far."""
        studio.stops.stop(_session(request))

    # No `cancels=`: a stopped search still returns (and shows) its best code so far.
    steer_stop.click(stop_steering, None, None, api_name="stop_steer", queue=False)

    @_friendly
    def pick_upload(path):
        """An uploaded clip is checked as it arrives (readable audio, length) and chosen in the menu."""
        if not path:
            return gr.update()
        checked_upload(path, "clip", max_seconds=studio.max_seconds)
        return gr.update(value=UPLOAD)

    upload_a.change(pick_upload, upload_a, clip_a, api_name="upload_a", queue=False, api_visibility="private")
    upload_b.change(pick_upload, upload_b, clip_b, api_name="upload_b", queue=False, api_visibility="private")

    @_friendly
    def ae_model(name):
        """Slider labels for the chosen autoencoder's principal directions."""
        model = studio.shelf.get(name, kind="autoencoder")
        labels_, pitch_ = _ae_details(ae_module, model)
        return [gr.update(visible=k < len(labels_), value=0, label=labels_[k] if k < len(labels_) else f"direction {k + 1}")
                for k in range(N_DIRECTIONS)] + [gr.update(visible=pitch_, value=0)]

    ae_dd.change(ae_model, ae_dd, [*pcs, shift], api_name="autoencoder_model", queue=False, api_visibility="private")
    return {"pickers": [(ae_dd, "autoencoder")]}


def _optional_tabs() -> list[tuple[str, Callable]]:
    """The control-method tabs after Generate (each is one function)."""
    return [("Sampling", _sampling_tab), ("Autoencoder", _autoencoder_tab)]


# ---- Model tab --------------------------------------------------------------------------------
def _dilation_text(dilations: list[int]) -> str:
    """[1,2,4,8,1,2,4,8] → '1, 2, 4, 8 (× 2 stacks)'."""
    if not dilations:
        return "—"
    n = dilations.index(dilations[0], 1) if dilations.count(dilations[0]) > 1 else len(dilations)
    one = dilations[:n]
    if one * (len(dilations) // n) == dilations and len(dilations) > n:
        return f"{', '.join(map(str, one))} (× {len(dilations) // n} stacks)"
    return ", ".join(map(str, dilations))


def _training_rows(checkpoint_path: str) -> list[dict]:
    """Rows of the training log shipped next to a checkpoint (log.csv), if any."""
    path = Path(checkpoint_path).with_name("log.csv")
    if not path.is_file() or path.stat().st_size > 5_000_000:
        return []
    try:
        with open(path, newline="") as f:
            rows = [{k: float(v) for k, v in r.items() if v not in (None, "")} for r in csv.DictReader(f)]
        need = {"step", "train_loss", "val_loss", "train_acc", "val_acc"}
        return [r for r in rows if need <= set(r)]
    except (OSError, ValueError):
        return []


def _wavenet_config(model):
    """The WaveNetConfig that decides the receptive field (an autoencoder's decoder for autoencoders)."""
    cfg = model.config
    if hasattr(cfg, "dilations"):
        return cfg
    for attr in ("decoder", "wavenet"):
        sub = getattr(model, attr, None)
        if sub is not None and hasattr(getattr(sub, "config", None), "dilations"):
            return sub.config
    return None


def model_summary(name: str, model) -> str:
    """Markdown architecture summary of a loaded model."""
    cfg = _wavenet_config(model)
    n_params = sum(p.numel() for p in model.parameters())
    lines = [f"### {name} — {_kind(model)}, {n_params:,} parameters", "", "| property | value |", "|---|---|"]
    if cfg is not None:
        lines += [
            f"| layers | {cfg.n_layers} ({cfg.stacks} stack{'s' * (cfg.stacks > 1)} × {cfg.layers_per_stack}) |",
            f"| dilations | {_dilation_text(list(cfg.dilations))} |",
            f"| channels | residual {cfg.residual_channels} · gate {cfg.gate_channels} · skip {cfg.skip_channels} |",
            f"| receptive field | {cfg.receptive_field} samples = {cfg.receptive_field_ms:.1f} ms at {cfg.sample_rate} Hz |",
        ]
        cond = []
        if cfg.n_instruments:
            cond.append(f"instruments: {', '.join(cfg.instrument_names) or cfg.n_instruments}")
        if cfg.local_dim:
            cond.append(f"pitch and loudness every {cfg.hop_length} samples ({1000 * cfg.hop_length / cfg.sample_rate:.0f} ms)")
        if cfg.context_layers:
            cond.append(f"context stack of {cfg.context_layers} layers over {cfg.context_hop}-sample frames")
        if cfg.global_dim:
            cond.append(f"{cfg.global_dim}-d global vector")
        if hasattr(model.config, "latent_dim"):
            ac = model.config
            cond = [f"the latent: {ac.latent_dim} numbers every {ac.hop_length} samples ({ac.frame_rate:g} frames/s)"]
            lines.append(f"| encoder | log-STFT ({ac.n_fft}-point, hop {ac.encoder_hop}) → {len(ac.encoder_dilations)} "
                         f"non-causal layers (dilations {', '.join(map(str, ac.encoder_dilations))}), "
                         f"{ac.encoder_channels} channels |")
        lines.append(f"| conditioning | {'; '.join(cond) or 'none (unconditional)'} |")
    info = getattr(model, "training_info", {}) or {}
    if info:
        parts = []
        if "step" in info:
            parts.append(f"{int(info['step']):,} steps")
        final = info.get("final") or {}
        if "val_loss" in final:
            parts.append(f"validation loss {final['val_loss']:.3f} nats, next-sample accuracy {100 * final.get('val_acc', 0):.1f} %")
        if "wall_time_s" in info:
            wall = float(info["wall_time_s"])
            parts.append(f"{wall / 60:.0f} min of training" if wall >= 90 else f"{wall:.0f} s of training")
        if parts:
            lines.append(f"| training | {' · '.join(parts)} |")
    lines.append("| generator | fast (compiled) |")
    return "\n".join(lines)


def model_page(shelf: ModelShelf, name) -> tuple:
    """(summary markdown, receptive-field figure, training-curves figure, card markdown)."""
    model = shelf.get(name)
    cfg = _wavenet_config(model)
    rf = receptive_field_figure(cfg) if cfg is not None else None
    rows = _training_rows(getattr(model, "checkpoint_path", ""))
    curves = training_curves_figure(rows) if rows else None
    card_path = Path(getattr(model, "checkpoint_path", "")).with_name("card.md")
    card = ""
    if card_path.is_file() and card_path.stat().st_size < 200_000:
        card = card_path.read_text(encoding="utf-8", errors="replace")
    if not rows:
        card = ("*No training log (log.csv) is shipped with this model, so there are no curves to show.*\n\n" + card)
    return model_summary(name, model), rf, curves, card or "*No model card (card.md) for this model.*"


def _model_tab(studio: Studio, initial_name) -> dict:
    names = studio.shelf.names()
    picker = gr.Dropdown(names, value=initial_name, label="Show the model", elem_id="model-info-picker",
                         info="Any installed model: WaveNets and autoencoders.")
    first = model_page(studio.shelf, initial_name) if initial_name else ("*No models installed.*", None, None, "")
    summary = gr.Markdown(first[0], elem_id="model-summary")
    rf_plot = gr.Plot(first[1], label="Receptive field", show_label=False, format="png", elem_classes=["model-rf"])
    curves = gr.Plot(first[2], label="Training curves", show_label=False, format="png", elem_classes=["model-curves"])
    with gr.Accordion("Model card", open=False):
        card = gr.Markdown(first[3])

    @_friendly
    def model_info(name):
        """Architecture summary, receptive-field figure, training curves and card of an installed model."""
        return model_page(studio.shelf, name)

    picker.change(model_info, picker, [summary, rf_plot, curves, card], api_name="model_info",
                  concurrency_id="light", concurrency_limit=4)

    def on_model(name):
        return [gr.update(value=name)]

    return {"on_model": (on_model, [picker]), "pickers": [(picker, None)]}


# ---- the app ----------------------------------------------------------------------------------
THEME_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]   # no web fonts: the studio works offline
CSS = """
.result-audio audio { width: 100%; }
footer { display: none !important; }
"""


class StudioBlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch()`` defaults keep a shared server safe: an upload size limit
    (refused before any decoding), no error details beyond our own messages, offline fonts."""

    def launch(self, *args, **kwargs):
        kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
        kwargs.setdefault("show_error", False)
        kwargs.setdefault("theme", gr.themes.Default(font=THEME_FONTS, font_mono=["ui-monospace", "monospace"]))
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("footer_links", [])
        # Gradio checks that the new server answers with one 3-second request and gives up on the first
        # timeout ("When localhost is not accessible…"); on a busy machine the first answer can take
        # longer, so the check is retried for up to a minute.
        from gradio import networking
        quick = networking.url_ok

        def patient(url: str) -> bool:
            deadline = time.monotonic() + 60
            while True:
                if quick(url):
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)
        networking.url_ok = patient
        try:
            return super().launch(*args, **kwargs)
        finally:
            networking.url_ok = quick


def build_app(model_dir: str | os.PathLike | None = None, *, slots: int | None = None,
              queue_size: int = DEFAULT_QUEUE_SIZE, max_seconds: float = MAX_SECONDS, warm_up: bool = True) -> gr.Blocks:
    """The studio as a ``gr.Blocks`` (not launched). ``model_dir``: where installed models live
    (default: $WAVENET_MODEL_DIR and assets/models); ``slots``: concurrent generations (default:
    one per CPU core); ``queue_size``: waiting requests beyond which new ones are refused;
    ``warm_up``: compile the generator and pitch tracker in a background thread
    (``demo.warm_up_thread``) so the first request is as quick as the rest."""
    slots = max(1, int(slots or os.cpu_count() or 1))
    studio = Studio(ModelShelf(model_dir), ResultWriter(), StopFlags(), slots, float(max_seconds))
    names = studio.shelf.names("wavenet")
    default = studio.shelf.default("wavenet")
    initial = None
    if default:
        try:
            initial = studio.shelf.get(default)
        except (CheckpointError, ValueError) as e:
            log.warning("cannot load %s: %s", default, e)
    with StudioBlocks(title="WaveNet Control Studio", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# WaveNet Control Studio\nShape sounds from a WaveNet: choose a model, set the controls, "
                    "press **Generate**. Every result comes with its waveform, spectrogram, measurements and a WAV.")
        with gr.Row():
            model_dd = gr.Dropdown(names, value=default, label="Model", scale=3, elem_id="model-picker",
                                   info="WaveNet models installed on this server." if names else
                                   "No models installed: train one with `wavenet train --out assets/models/NAME`.")
            rescan = gr.Button("Rescan models", scale=1, size="sm", elem_id="rescan")
        hooks = []
        with gr.Tabs():
            with gr.Tab("Conditioning", id="conditioning"):
                hooks.append(_conditioning_tab(studio, model_dd, initial))
            for title, tab in _optional_tabs():
                with gr.Tab(title, id=title.lower()):
                    hooks.append(tab(studio, model_dd, initial))
            with gr.Tab("Model", id="model"):
                hooks.append(_model_tab(studio, default if initial is not None else None))

        on_model_fns = [h["on_model"] for h in hooks if "on_model" in h]
        model_outputs = [c for _, outs in on_model_fns for c in outs]

        @_friendly
        def select_model(name):
            """Switch the tabs to the installed WaveNet called ``name``."""
            studio.shelf.get(name, kind="wavenet")  # validate first: unknown names get a clear error
            out = []
            for fn, _ in on_model_fns:
                out += list(fn(name))
            return out

        model_dd.change(select_model, model_dd, model_outputs, api_name="select_model", concurrency_id="light",
                        concurrency_limit=4)

        pickers = [(model_dd, "wavenet")] + [p for h in hooks for p in h.get("pickers", [])]

        @_friendly
        def list_installed(*current):
            """Installed models for each picker (a picker keeps its choice while that model is still there)."""
            out = []
            for (_, kind), value in zip(pickers, current):
                found = studio.shelf.names(kind)
                out.append(gr.update(choices=found, value=value if value in found else (found[0] if found else None)))
            return out

        rescan.click(list_installed, [p for p, _ in pickers], [p for p, _ in pickers], api_name="list_models",
                     queue=False)

    demo.queue(max_size=int(queue_size), default_concurrency_limit=1)
    demo.studio = studio  # for tests and benchmarks: the shelf, the result folder, the limits
    demo.warm_up_thread = None
    if warm_up and initial is not None and _kind(initial) == "wavenet":
        demo.warm_up_thread = threading.Thread(target=studio.warm_up, args=(default,), daemon=True, name="studio-warm-up")
        demo.warm_up_thread.start()
    return demo


# ---- command line -----------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 to serve your network)")
    p.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    p.add_argument("--model-dir", default=None,
                   help="folder of installed models (NAME/model.safetensors); default: $WAVENET_MODEL_DIR and assets/models")
    p.add_argument("--slots", type=int, default=None, help="concurrent generations (default: one per CPU core)")
    p.add_argument("--queue-size", type=int, default=DEFAULT_QUEUE_SIZE, help="waiting requests before new ones are refused")


def run(args: argparse.Namespace) -> None:
    import torch
    if args.model_dir and not Path(args.model_dir).is_dir():
        raise FileNotFoundError(f"--model-dir {args.model_dir}: no such folder; pass a folder holding NAME/model.safetensors.")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535; got {args.port}.")
    if args.queue_size < 1 or (args.slots is not None and args.slots < 1):
        raise ValueError("--slots and --queue-size must be at least 1.")
    # One generation per core: each gets one thread rather than all of them fighting over every core.
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    demo = build_app(args.model_dir, slots=args.slots, queue_size=args.queue_size)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="app.py", description="WaveNet Control Studio in your browser.")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError) as e:
        p.exit(2, f"error: {_one_line(e)}\n")
