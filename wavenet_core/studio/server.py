"""The studio's server rules, shared by every tab: limits, one-line errors, input checks, the model
cache, upload checks, per-job stop, and the typed requests handlers receive.

Nothing here builds a page. Tabs take their limits from this module (never from ``app``, which
assembles them).
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, ClassVar

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from .. import Cancelled, CheckpointError, Controls, generate, list_models, load_model, model_inputs  # noqa: E402
from ..audio_io import AudioError  # noqa: E402
from ..controls.verdict import note_label, parse_pitch  # noqa: E402
from ..model.checkpoint import read_header, resolve_path  # noqa: E402
from ..model.mulaw import mu_law_decode  # noqa: E402

log = logging.getLogger("wavenet.studio")

# ---- limits (what a musician can ask for from the browser) -----------------------------------
MIN_SECONDS = 0.1
MAX_SECONDS = 10.0                      # per request; the core allows more, a shared server should not
MAX_TEMPERATURE = 2.0
MAX_STRENGTH = 4.0             # conditioning strength (classifier-free guidance); 1 = the model as trained
MAX_SEED = 2 ** 31 - 1
MAX_UPLOAD_BYTES = 20 * 1024 * 1024     # Gradio refuses bigger uploads before they reach a handler
MAX_UPLOAD_SECONDS = 30.0
MAX_MIX_SLIDERS = 16                    # timbre-mix sliders built (the `instruments` model has 16); unused ones hidden
MIDI_MIN, MIDI_MAX = 36, 84
DEFAULT_QUEUE_SIZE = 32
FREE = "let the model choose"
MIX = "timbre mix (sliders below)"
# Sampling
MAX_KEEP = 8
MAX_CANDIDATES = 128
MAX_SAMPLING_SECONDS = 4.0
MAX_BUDGET_SECONDS = 300.0
# Autoencoder steering
MAX_STEER_BUDGET = 64                  # decodes per search
MAX_STEER_SECONDS = 300.0


# ---- errors -----------------------------------------------------------------------------------
def one_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


_PLAIN_WORDS = ((re.compile(r"(?:above )?the model's Nyquist frequency (\d+) Hz"),
                 r"above the highest pitch this model can make (\1 Hz, half its sample rate)"),
                (re.compile(r"Nyquist(?: frequency)?"), "highest pitch the model can make (half its sample rate)"))


def plain(message: str) -> str:
    """Core messages in a musician's words (e.g. no "Nyquist")."""
    for pattern, words in _PLAIN_WORDS:
        message = pattern.sub(words, message)
    return message


def as_gr_error(e: BaseException, where: str) -> gr.Error:
    """Any exception → the one-line ``gr.Error`` the page shows (unexpected ones are logged here only)."""
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, Cancelled):
        return gr.Error("Stopped: the job was cancelled.", title="Stopped", print_exception=False)
    if isinstance(e, TypeError):
        # API callers sending the wrong kind of value (e.g. text where a number belongs).
        log.warning("bad input to %s: %s", where, e)
        return gr.Error("One of the inputs has the wrong type (a number was expected?); "
                        "check the values and try again.", print_exception=False)
    if isinstance(e, (ValueError, AudioError, CheckpointError, FileNotFoundError)):
        return gr.Error(plain(one_line(e)), print_exception=False)   # our validation speaks to musicians
    if isinstance(e, MemoryError):
        return gr.Error("The server ran out of memory; ask for a shorter sound.", print_exception=False)
    log.error("unexpected error in %s", where, exc_info=e)
    return gr.Error("Something went wrong on the server (the details are in its log); "
                    "try again or change the settings.", print_exception=False)


def friendly(fn: Callable) -> Callable:
    """Map every exception to a one-line ``gr.Error``: the page never sees a traceback. Works for plain
    handlers and for generator handlers (streaming)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - the page must never see a traceback
                raise as_gr_error(e, fn.__name__) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the page must never see a traceback
            raise as_gr_error(e, fn.__name__) from None
    return wrapper


# ---- input checks -----------------------------------------------------------------------------
def fmt_number(x: float) -> str:
    """12 → '12', 0.5 → '0.5', 2147483647 → '2147483647' (never 2.14748e+09 in a message)."""
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"


def number(value, name: str, lo: float, hi: float, unit: str = "", integer: bool = False) -> float:
    """Validate one numeric input from the page or the API, with a message a musician understands."""
    span = f"between {fmt_number(lo)} and {fmt_number(hi)}{unit}"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is empty; set a value {span}.")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number {span}; got {str(value)[:40]!r}.") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be {span}; got {fmt_number(v)}.")
    if integer:
        if v != int(v):
            raise ValueError(f"{name} must be a whole number; got {fmt_number(v)}.")
        return int(v)
    return v


def typed_pitch(value, name: str = "Note", lo: float = MIDI_MIN, hi: float = MIDI_MAX) -> float:
    """A typed pitch (A4, F#3, Bb2, or a MIDI number such as 69) → MIDI, within [lo, hi]."""
    try:
        p = parse_pitch(value.strip() if isinstance(value, str) else value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}.") from None
    if not lo <= p <= hi:
        raise ValueError(f"{name} {note_label(p)} is outside {note_label(lo)} … {note_label(hi)}; choose a note in that range.")
    return p


# ---- typed requests ---------------------------------------------------------------------------
class PageRequest:
    """Base of the typed requests: the values of one event's components, in one object.

    A subclass is a dataclass; its fields are the event's inputs in order (what API callers send
    positionally). ``parameters()`` and ``from_values()`` may be overridden where several page
    values make one field (the Sampling tab's target rows)."""

    @classmethod
    def parameters(cls) -> list[tuple[str, Any]]:
        """(name, default or ``inspect.Parameter.empty``) of each page value, in input order."""
        out = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out.append((f.name, f.default))
            else:
                out.append((f.name, inspect.Parameter.empty))
        return out

    @classmethod
    def from_values(cls, values: dict[str, Any]):
        return cls(**values)


def handler(request_type: type[PageRequest], run: Callable, *, stoppable: str | None = None,
            studio: Studio | None = None, name: str | None = None, doc: str | None = None) -> Callable:
    """The Gradio event function for a handler ``run(request, job=None, progress=None)`` that takes one
    typed request.

    Gradio passes component values positionally and reads the function's signature for the API's
    parameter names and for ``gr.Request``/``gr.Progress``; the function made here has the request's
    parameters (from ``request_type.parameters()``), then ``job`` (the tab's job state, when
    ``stoppable`` names a job group), then ``request`` and ``progress``. Errors become one-line
    messages (``friendly``); generator handlers stream."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=None if d is inspect.Parameter.empty else d)
              for n, d in request_type.parameters()]
    names = [p.name for p in params]
    if stoppable:
        params.append(inspect.Parameter("job", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
    params += [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                 annotation=gr.Request),
               inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())]
    signature = inspect.Signature(params)

    def prepare(args, kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        req = request_type.from_values({n: values[n] for n in names})
        job = None
        if stoppable and studio is not None:
            job = studio.jobs.begin(session_of(values["request"]), stoppable, values["job"])
        return req, job, values["progress"]

    if inspect.isgeneratorfunction(run):
        def fn(*args, **kwargs):
            req, job, progress = prepare(args, kwargs)
            try:
                yield from run(req, job=job, progress=progress)
            except GeneratorExit:
                if job is not None:      # the page went away (or Gradio cancelled the event): stop computing
                    job.stop.set()
                raise
            finally:
                if job is not None:
                    studio.jobs.finish(job)
    else:
        def fn(*args, **kwargs):
            req, job, progress = prepare(args, kwargs)
            try:
                return run(req, job=job, progress=progress)
            finally:
                if job is not None:
                    studio.jobs.finish(job)
    fn.__name__ = name or getattr(run, "__name__", "handler")
    fn.__doc__ = doc or run.__doc__
    fn.__signature__ = signature
    fn.__annotations__ = {"request": gr.Request}
    return friendly(fn)


# ---- models -----------------------------------------------------------------------------------
# The headline measure that picks the model the studio opens on: the share of frames at the asked pitch
# (``wavenet evaluate``'s ``pitch_rpa``); an eval.json may also say "default": true outright.
RANK_METRIC = "pitch_rpa"


def eval_score(model_folder: Path) -> tuple[int, float]:
    """(explicit default flag, headline score) read from a model's eval.json; (0, -1) when there is none."""
    path = Path(model_folder) / "eval.json"
    try:
        if not path.is_file() or path.stat().st_size > 5_000_000:
            return 0, -1.0
        data = json.loads(path.read_text(encoding="utf-8"))
        flag = 1 if data.get("default") is True else 0
        score = (data.get("metrics") or {}).get(RANK_METRIC)
        return flag, float(score) if isinstance(score, (int, float)) and math.isfinite(score) else -1.0
    except (OSError, ValueError, AttributeError):
        return 0, -1.0


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
        """The model a picker opens on: the one whose eval.json says ``"default": true``, else the best
        measured (highest ``pitch_rpa``), else the first by name."""
        names = self.names(kind)
        if not names:
            return None
        scores = {}
        for n in names:
            try:
                scores[n] = eval_score(resolve_path(n, self.model_dir).parent)
            except (OSError, ValueError, CheckpointError):
                scores[n] = (0, -1.0)
        return max(names, key=lambda n: (*scores[n], -names.index(n)))

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


def kind_of(model) -> str:
    return getattr(model, "kind", "wavenet")


def instrument_names(model_or_config) -> list[str]:
    """A WaveNet's instrument names (from the model or its config); [] when it has none."""
    config = getattr(model_or_config, "config", model_or_config)
    return list(getattr(config, "instrument_names", ()) or ())


# ---- jobs: one per click, each with its own stop ------------------------------------------------
@dataclasses.dataclass
class Job:
    """One Generate/Sample/Decode/... press. ``stop`` is set by its Stop button (even while the job
    still waits in the queue); the running code polls ``cancelled``."""
    id: str
    session: str
    group: str
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    created: float = dataclasses.field(default_factory=time.monotonic)

    def cancelled(self) -> bool:
        return self.stop.is_set()


class JobRegistry:
    """The jobs of every session, by id. A page press registers its job at once (``new``, unqueued), so
    Stop reaches it while it waits in the queue; API callers' jobs are registered when they start."""

    MAX_AGE_S = 3600.0          # a job whose event never ran (e.g. refused by a full queue) is forgotten

    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def _prune(self) -> None:
        old = time.monotonic() - self.MAX_AGE_S
        for k in [k for k, j in self._jobs.items() if j.created < old]:
            del self._jobs[k]

    def new(self, session: str, group: str) -> str:
        """Register a job for a press (before it is queued); returns its id."""
        job = Job(uuid.uuid4().hex, session, group)
        with self._lock:
            self._prune()
            self._jobs[job.id] = job
        return job.id

    def begin(self, session: str, group: str, job_id: str | None) -> Job:
        """The job a handler runs as: the press's own (registered by ``new``) or a fresh one."""
        with self._lock:
            job = self._jobs.get(job_id) if isinstance(job_id, str) else None
            if job is None or job.session != session or job.group != group:
                job = Job(uuid.uuid4().hex, session, group)
                self._jobs[job.id] = job
            return job

    def stop(self, session: str, group: str, job_id: str | None = None) -> int:
        """Stop job ``job_id`` (of this session); without an id (API callers), every job of this
        session in ``group``. Returns how many were told to stop."""
        with self._lock:
            if isinstance(job_id, str) and job_id in self._jobs:
                jobs = [self._jobs[job_id]] if self._jobs[job_id].session == session else []
            else:
                jobs = [j for j in self._jobs.values() if j.session == session and j.group == group]
        for j in jobs:
            j.stop.set()
        return len(jobs)

    def finish(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def running(self) -> int:
        with self._lock:
            return len(self._jobs)


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


def progress_callback(progress, label: str, unit: str = "samples"):
    """``fn(done, total)`` for the core's progress reports → the page's progress bar (never raises)."""
    def update(done: int, total: int) -> None:
        if progress is None:
            return
        try:
            progress((done, total), desc=label, unit=unit)
        except Exception:  # noqa: BLE001 - a progress bar must never break a generation
            pass
    return update


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


# ---- the state every tab shares ---------------------------------------------------------------
@dataclasses.dataclass
class Studio:
    """What the tabs share: the model shelf, the result writer, the job registry and the limits."""
    shelf: ModelShelf
    results: Any                     # render.ResultWriter (rendering is not a server rule)
    jobs: JobRegistry
    slots: int
    max_seconds: float = MAX_SECONDS
    method: ClassVar[str] = "fast"   # the compiled generator is part of the package (numba is a dependency)

    def warm_up(self, name) -> None:
        """Compile the fast generator and pYIN once, so the first musician does not wait for it."""
        try:
            model = self.wavenet(name)
            generate(model, model_inputs(Controls(seconds=0.05), model.config), seed=0, method=self.method)
            sr = model.config.sample_rate
            t = np.arange(sr // 4) / sr
            from ..measure.descriptors import describe
            describe((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
            names = tuple(instrument_names(model))
            if names:                       # the verdict's timbre classifier is fitted once, here
                from ..controls.sampling import timbre_classifier
                timbre_classifier(names, sr)
        except Exception as e:  # noqa: BLE001 - warming up is an optimisation only
            log.info("warm-up skipped: %s", one_line(e))

    def wavenet(self, name):
        return self.shelf.get(name, kind="wavenet")

    def stoppable(self, fn: Callable, *, job: Job | None, progress, label: str = "Generating",
                  unit: str = "samples"):
        """Run ``fn(progress=..., cancel=...)`` under ``job``'s stop and the page's progress bar (counting
        ``unit``); returns (fn's result, seconds it took)."""
        cancel = job.cancelled if job is not None else (lambda: False)
        t0 = time.perf_counter()
        out = fn(progress=progress_callback(progress, label, unit), cancel=cancel)
        return out, time.perf_counter() - t0

    def run_generation(self, model, inputs, *, temperature: float, seed: int, job: Job | None, progress,
                       label: str = "Generating", batch: int | None = None, guidance: float = 1.0,
                       on_audio: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, float, bool]:
        """generate() under the job's stop and the page's progress bar; returns (audio (B, T), seconds,
        stopped). Stopped: the audio is what was made before Stop (the fast generator hands it over),
        possibly empty. ``on_audio`` (one stream only): called with each new block of samples
        (float32) as soon as it is made, for the live player; the sound is the same either way."""
        t0 = time.perf_counter()
        try:
            if on_audio is not None and (batch or 1) != 1:
                raise ValueError("Live audio follows one stream; generate a batch without it.")
            run = functools.partial(generate, model, inputs, temperature=temperature, seed=seed, batch=batch,
                                    method=self.method, guidance=guidance,
                                    on_audio=None if on_audio is None else (lambda block: on_audio(block[0])))
            audio, took = self.stoppable(run, job=job, progress=progress, label=label)
        except Cancelled as e:
            partial = getattr(e, "partial_classes", None)
            made = (mu_law_decode(partial) if partial is not None and partial.shape[-1]
                    else np.zeros((batch or 1, 0), np.float32))
            return made, time.perf_counter() - t0, True
        return audio, took, False
