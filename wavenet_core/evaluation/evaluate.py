"""Control accuracy that cannot flatter: does a conditioned WaveNet play what it is asked for?

``evaluate_model(name)`` generates a fixed plan of clips (each with its own recorded seed), measures
them frame by frame and compares with the request. The metrics follow DDSP's
(magenta/ddsp ``training/metrics.py``), measured with ``descriptors.pitch_track`` (pYIN for voicing
and octave, every voiced frame refined to a fraction of a cent — no 25-cent grid values):

* **pitch** (row ``notes``) — one note per clip, every instrument, MIDI 36–84 (the corpus's range;
  run k gives instrument j the pitches 36 + (3j + k) mod 6, then every 6 semitones, so three runs
  cover the whole range). Per clip, over the requested voiced frames that sound (request ≥ -40 dB):
  *raw pitch accuracy* — share of frames tracked within 50 cents, an untracked frame is a miss
  (``descriptors.pitch_frame_metrics``); *mean |f0 error|* in semitones over tracked frames; a clip
  is an *outlier* when it is tracked on fewer than half its frames or its mean error is over one
  semitone (DDSP averages f0 L1 over the non-outliers and counts outliers apart; so do we).
  ``pitch_rpa`` is the mean over clips (failures included, as misses), ``pitch_rpa_worst_instrument``
  the lowest instrument mean. ``pitch_notes_within_50`` is per note (tracked on ≥ half its frames,
  median error ≤ 50 cents): the unit of a pitch classifier, beside the NSynth anchor.
* **timbre** — the same notes, requested with each instrument's *natural envelope*: the loudness
  request is the per-frame level of the corpus rendering of that instrument at MIDI 60 (velocity 0 dB)
  moved to the note's velocity, so a pluck is asked to decay and an organ to hold. The judge is a
  nearest-centroid classifier on MFCC statistics fitted on 600 corpus notes of another seed; it
  answers "none" (``NONE_OF_THESE``) for a clip that is not pitched (silent or noise-only: all six
  instruments are pitched) or that is further from every centroid than 99 % of held-out corpus
  notes are from theirs, so noise is not filed under the nearest instrument.
* **loudness** — L1 in dB between the measured and requested frame level over the frames where the
  request sounds (≥ -40 dB), mean over the note clips that are not failures;
  ``loudness_l1_db_with_failures`` keeps them in.
* **failures** — note and melody clips that come out silent (median level under -50 dB over the
  request's sounding frames) or noise-only (voiced on fewer than half of the frames where both the
  request and the clip sound), counted apart.
* **melody** (per note) — six 8-note melodies per run at 200 BPM (one instrument each, rotating over
  runs), requested with the corpus rendering's own f0 and level labels; a note counts when it is
  tracked on at least half its frames within a median 50 cents (``melody_notes_within_50``), and the
  frames pool into ``melody_rpa``.
* **stress** — notes outside the trained range (MIDI 30–35 and 85–90), measured the same way;
  reported, no target.
* **free** — clips generated with every control left free; ``free_pitched_share`` is the share that
  sound and are voiced for at least half of their sounding frames (pitched sounds, not noise).

**The ceiling** is the corpus synthesiser rendering the same request (its notes at the requested
pitch and velocity, with its own noise: another random stream than the request's), measured in
exactly the same way against the same request. Nothing in it is true by construction: the pitch
tracker has to find the pitch (its misses at onsets and in decays show), the loudness request is
the instrument's envelope at MIDI 60 while the ceiling plays the requested pitch (the level of a
corpus note depends on its pitch through its spectrum and crest factor; the flute's breath noise is
random), and the classifier judges notes it was not fitted on. For melodies the request is the
corpus rendering of that melody; only its pitch is scored. ``timbre_vs_ceiling`` is the model's
timbre accuracy over the ceiling's, per run (its ceiling column is left empty: it would be 1).

**Seeds.** The full evaluation runs the plan three times (run k: clip i has seed
``seed + 1000·k + i``, and the note pitches rotate as above); each metric is reported as the mean
over runs with a 95 % confidence interval (Student t, two degrees of freedom). Targets are judged
on the mean.

**The quick plan** (``--quick``; 2 pitches × every instrument and one melody, one run) is also
measured by every full evaluation and stored under ``report["quick"]`` with a signature of the
plan: ``regression_guard`` re-runs it and compares with those figures (``tests/test_regression_guard.py``).

An autoencoder checkpoint is handed to ``autoencoder_eval.evaluate_autoencoder`` (options it has no
use for are refused).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..controls.conditioning import Controls
from ..measure.descriptors import (SOUNDING_DB, frame_loudness_db, loudness_l1_db, pitch_frame_metrics, pitch_track)
from ..measure.timbre import (CLASSIFIER_SEED, CLASSIFIER_SIZE, MIN_VOICED, NONE_OF_THESE, PITCH_FMAX, PITCH_FMIN,
                              TimbreClassifier, mfcc_stats, timbre_classifier)  # noqa: F401  (old import path kept)
from ..jsonsafe import json_safe

# target: (comparison, value) on the mean over runs
TARGETS: dict[str, tuple[str, float]] = {
    "pitch_rpa": (">=", 0.95),
    "pitch_rpa_worst_instrument": (">=", 0.95),
    "pitch_error_semitones": ("<=", 0.2),
    "melody_notes_within_50": (">=", 0.95),
    "timbre_accuracy": (">=", 0.85),
    "timbre_vs_ceiling": (">=", 0.9),
    "loudness_l1_db": ("<=", 2.0),
    "failures": ("<=", 0),
    "free_pitched_share": (">=", 0.8),
}
# Published figures whose units match a row (the WaveNet papers' own measurements, not ours).
ANCHORS: dict[str, str] = {
    "pitch_notes_within_50": "NSynth WaveNet autoencoder: 79.6 % (pitch classifier; 91.6 % on the originals)",
    "pitch_error_semitones": "WaveRNN with DDSP's conditioning: f0 L1 ≈ 1 semitone",
}

N_SEEDS = 3
SEED_STRIDE = 1000                # run k's clip i uses seed + SEED_STRIDE·k + i
DEFAULT_BATCH = 16
NOTE_SECONDS = 1.0                # every note clip (and free clip)
NOTE_START, NOTE_HELD = 0.05, 0.8  # s: onset and held duration of a note; the release follows
CORPUS_RELEASE = 0.08             # s: render_notes' release (its default)
VELOCITIES = (-18.0, -12.0, -6.0)  # corpus note levels (peak gain, dB) inside its -24 … -3 dB range
REFERENCE_MIDI = 60               # the natural envelope is the instrument's corpus note at this pitch
STRESS_LOW, STRESS_HIGH = (30, 35), (85, 90)
MELODIES = (
    "C4 D4 E4 F4 G4 A4 B4 C5",
    "C2 G2 C3 E3 G3 E3 C3 G2",
    "A3 E4 D4 C4 B3 C4 D4 E4",
    "C5 E5 G5 C6 B5 G5 E5 C5",
    "F3 A3 C4 F4 E4 C4 A3 G3",
    "D4 F#4 A4 C5 B4 A4 F#4 E4",
)
MELODY_TEMPO = 200.0              # BPM: 0.3 s per note, 0.27 s held
MELODY_VELOCITY = -12.0
QUICK_PITCHES = (50, 67)
FREE_CLIPS = 12
RPA_CENTS = 50.0
SILENT_DB = -50.0
OUTLIER_SEMITONES = 1.0
REQUEST_SEED, CEILING_SEED, ENVELOPE_SEED = 4321, 8765, 2468   # random streams of the corpus renderings
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


# ---- the plan ----------------------------------------------------------------------------------
@dataclass
class Request:
    """One clip to generate: its row, instrument, seed and the per-frame curves asked for."""
    row: str                          # "notes", "melody", "stress" or "free"
    instrument: str | None            # None: left free
    seed: int
    seconds: float
    notes: list = field(default_factory=list)        # corpus Notes (MIDI, start s, held s, level dB)
    text: str | None = None                          # a melody's notes
    f0_hz: np.ndarray | None = field(default=None, repr=False)        # per frame, 0 = unvoiced
    loudness_db: np.ndarray | None = field(default=None, repr=False)  # per frame, dB FS

    def controls(self) -> Controls:
        if self.row == "free":
            return Controls(seconds=self.seconds)
        return Controls(instrument=self.instrument, f0_hz=self.f0_hz, loudness_db=self.loudness_db)

    def describe(self) -> dict:
        d = {"row": self.row, "instrument": self.instrument, "seed": self.seed}
        if self.row in ("notes", "stress"):
            d.update(pitch=self.notes[0].midi, velocity_db=self.notes[0].velocity_db)
        elif self.row == "melody":
            d.update(melody=self.text, tempo=MELODY_TEMPO, velocity_db=MELODY_VELOCITY)
        return d


_ENVELOPES: dict = {}


def natural_envelope(instrument: str, sample_rate: int, hop: int) -> np.ndarray:
    """Per-frame level (dB FS) of the corpus's ``instrument`` playing MIDI 60 at velocity 0 dB for
    ``NOTE_HELD`` s from ``NOTE_START`` in a ``NOTE_SECONDS`` clip: the shape a note request follows."""
    from ..data.corpus import Note, render_notes

    key = (instrument, sample_rate, hop)
    if key not in _ENVELOPES:
        audio, _ = render_notes(instrument, [Note(REFERENCE_MIDI, NOTE_START, NOTE_HELD, 0.0)], NOTE_SECONDS,
                                sample_rate, np.random.default_rng(ENVELOPE_SEED))
        _ENVELOPES[key] = frame_loudness_db(audio, hop)
    return _ENVELOPES[key].copy()


def note_request(row: str, instrument: str, midi: float, velocity_db: float, seed: int, sample_rate: int,
                 hop: int) -> Request:
    """A note at ``midi`` with the instrument's natural envelope moved to ``velocity_db``."""
    from ..data.corpus import Note, frame_f0, midi_to_hz

    env = natural_envelope(instrument, sample_rate, hop)
    loud = np.where(env > -80.0, np.maximum(env + velocity_db, -80.0), -80.0).astype(np.float32)
    n = int(round(NOTE_SECONDS * sample_rate))
    t = np.arange(n) / sample_rate
    on = (t >= NOTE_START) & (t < NOTE_START + NOTE_HELD + CORPUS_RELEASE)
    f0 = frame_f0(np.where(on, float(midi_to_hz(midi)), 0.0), loud, hop)
    return Request(row, instrument, seed, NOTE_SECONDS, [Note(float(midi), NOTE_START, NOTE_HELD, velocity_db)],
                   f0_hz=f0, loudness_db=loud)


def melody_request(instrument: str, text: str, seed: int, sample_rate: int, hop: int) -> Request:
    """A melody requested with the corpus rendering's own labels (per-frame f0 and level)."""
    from ..controls.conditioning import melody_notes, parse_melody
    from ..data.corpus import Note, frame_f0, render_notes

    events, length = melody_notes(parse_melody(text), MELODY_TEMPO)
    notes = [Note(e.midi, e.start, e.duration, MELODY_VELOCITY) for e in events]
    seconds = math.ceil((length + CORPUS_RELEASE) * sample_rate / hop) * hop / sample_rate
    audio, f0_samples = render_notes(instrument, notes, seconds, sample_rate, np.random.default_rng([REQUEST_SEED, seed]))
    loud = frame_loudness_db(audio, hop)
    return Request("melody", instrument, seed, seconds, notes, text, frame_f0(f0_samples, loud, hop), loud)


def note_pitches(run: int, j: int) -> list[int]:
    """Run ``run``'s pitches for the ``j``-th instrument: 36 + (3j + run) mod 6, then every 6 semitones to 84."""
    from ..data.corpus import PITCH_RANGE

    lo, hi = PITCH_RANGE
    return list(range(lo + (3 * j + run) % 6, hi + 1, 6))


def plan_requests(names: tuple[str, ...], sample_rate: int, hop: int, *, run: int = 0, seed: int = 0,
                  quick: bool = False) -> list[Request]:
    """One run of the fixed plan (notes, melodies, stress notes, free clips); clip i gets seed ``seed + i``.

    ``quick``: 2 pitches (``QUICK_PITCHES``) × every instrument and the first melody — the regression
    guard's plan."""
    out: list[Request] = []
    for j, name in enumerate(names):
        pitches = QUICK_PITCHES if quick else note_pitches(run, j)
        for m, p in enumerate(pitches):
            out.append(note_request("notes", name, p, VELOCITIES[(m + j + run) % len(VELOCITIES)], 0, sample_rate, hop))
    melodies = MELODIES[:1] if quick else MELODIES
    for i, text in enumerate(melodies):
        out.append(melody_request(names[(i + run) % len(names)], text, seed + len(out), sample_rate, hop))
    if not quick:
        for j, name in enumerate(names):
            low = STRESS_LOW[0] + (j + 2 * run) % (STRESS_LOW[1] - STRESS_LOW[0] + 1)
            high = STRESS_HIGH[0] + (j + 2 * run + 3) % (STRESS_HIGH[1] - STRESS_HIGH[0] + 1)
            for p in (low, high):
                out.append(note_request("stress", name, p, VELOCITIES[1], 0, sample_rate, hop))
        out += [Request("free", None, 0, NOTE_SECONDS) for _ in range(FREE_CLIPS)]
    for i, r in enumerate(out):
        r.seed = seed + i
    return out


def quick_plan_signature(names: tuple[str, ...], sample_rate: int, hop: int) -> str:
    """A digest of everything the quick plan's figures depend on besides the model and the seed:
    the requests, the measurements' settings and the classifier's corpus."""
    reqs = plan_requests(tuple(names), sample_rate, hop, quick=True)
    desc = [(r.describe(), np.round(r.f0_hz, 3).tolist(), np.round(r.loudness_db, 3).tolist()) for r in reqs]
    settings = (PITCH_FMIN, PITCH_FMAX, RPA_CENTS, SILENT_DB, MIN_VOICED, OUTLIER_SEMITONES, SOUNDING_DB,
                CLASSIFIER_SEED, CLASSIFIER_SIZE, sample_rate, hop, list(names))
    return hashlib.sha256(json.dumps([desc, settings]).encode()).hexdigest()[:16]


# ---- measurement -------------------------------------------------------------------------------
def measure(audio: np.ndarray, req: Request, sample_rate: int, hop: int, classifier=None) -> dict:
    """Measure one clip against its request → a JSON-ready record (no per-frame arrays)."""
    audio = np.asarray(audio, dtype=np.float32)
    rec = req.describe()
    loud = frame_loudness_db(audio, hop)
    f0 = pitch_track(audio, sample_rate, hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)
    if req.row == "free":
        sounding = loud >= SOUNDING_DB
        vf = float(np.mean(f0[sounding] > 0)) if sounding.any() else 0.0
        rec.update(sounding_share=float(np.mean(sounding)), voiced_fraction=vf,
                   pitched=bool(sounding.any() and vf >= MIN_VOICED))
        return rec
    n = min(len(loud), len(req.loudness_db))
    ref_loud, ref_f0, loud, f0 = req.loudness_db[:n], req.f0_hz[:n], loud[:n], f0[:n]
    sounding = ref_loud >= SOUNDING_DB
    pm = pitch_frame_metrics(f0, ref_f0, frames=sounding, tolerance_cents=RPA_CENTS)
    level = float(np.median(loud[sounding])) if sounding.any() else float(np.median(loud))
    both = sounding & (loud >= SOUNDING_DB)
    base = both if both.any() else sounding
    vf = float(np.mean(f0[base] > 0)) if base.any() else 0.0
    silent = level < SILENT_DB
    rec.update(rpa=pm["raw_pitch_accuracy"], error_semitones=pm["mean_abs_semitones"], tracked=pm["tracked"],
               frames=pm["frames"], level_db=level, loudness_l1_db=loudness_l1_db(loud, ref_loud),
               voiced_fraction=vf, silent=bool(silent), noise_only=bool(not silent and vf < MIN_VOICED))
    if req.row in ("notes", "stress"):
        tracked = pm["tracked"] or 0.0
        rec["within_50"] = bool(tracked >= MIN_VOICED and pm["median_abs_semitones"] is not None
                                and pm["median_abs_semitones"] <= RPA_CENTS / 100)
        rec["outlier"] = bool(tracked < MIN_VOICED or pm["mean_abs_semitones"] > OUTLIER_SEMITONES)
        if classifier is not None and req.row == "notes":
            rec["predicted"] = classifier.identify(audio, 0.0 if silent else vf)
    else:
        times = (np.arange(n) * hop + hop / 2) / sample_rate
        notes = []
        for note in req.notes:
            sel = sounding & (times >= note.start) & (times < note.start + note.duration)
            q = pitch_frame_metrics(f0, ref_f0, frames=sel, tolerance_cents=RPA_CENTS)
            ok = (q["tracked"] or 0.0) >= MIN_VOICED and q["median_abs_semitones"] is not None \
                and q["median_abs_semitones"] <= RPA_CENTS / 100
            notes.append({"pitch": note.midi, "start": round(note.start, 4), "rpa": q["raw_pitch_accuracy"],
                          "median_abs_semitones": q["median_abs_semitones"], "tracked": q["tracked"],
                          "within_50": bool(ok)})
        rec["notes"] = notes
    return rec


# ---- summaries -----------------------------------------------------------------------------------
def _mean(values) -> float | None:
    v = [float(x) for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarise(records: list[dict]) -> dict:
    """One run's records → its metrics (see the module docstring for each definition)."""
    rows = {k: [r for r in records if r["row"] == k] for k in ("notes", "melody", "stress", "free")}
    notes, melodies, stress, free = rows["notes"], rows["melody"], rows["stress"], rows["free"]
    m: dict = {}
    by_inst = {}
    for r in notes:
        by_inst.setdefault(r["instrument"], []).append(r["rpa"] if r["rpa"] is not None else 0.0)
    m["pitch_rpa"] = _mean(r["rpa"] if r["rpa"] is not None else 0.0 for r in notes)
    m["pitch_rpa_by_instrument"] = {k: float(np.mean(v)) for k, v in by_inst.items()}
    m["pitch_rpa_worst_instrument"] = min(m["pitch_rpa_by_instrument"].values()) if by_inst else None
    m["pitch_error_semitones"] = _mean(r["error_semitones"] for r in notes if not r["outlier"])
    m["pitch_outlier_share"] = _mean(r["outlier"] for r in notes)
    m["pitch_notes_within_50"] = _mean(r["within_50"] for r in notes)
    mel_notes = [n for r in melodies for n in r["notes"]]
    m["melody_notes_within_50"] = _mean(n["within_50"] for n in mel_notes)
    m["melody_rpa"] = _mean(r["rpa"] if r["rpa"] is not None else 0.0 for r in melodies)
    judged = [r for r in notes if "predicted" in r]
    m["timbre_accuracy"] = _mean(r["predicted"] == r["instrument"] for r in judged)
    m["timbre_none_share"] = _mean(r["predicted"] == NONE_OF_THESE for r in judged)
    ok = [r for r in notes if not (r["silent"] or r["noise_only"])]
    m["loudness_l1_db"] = _mean(r["loudness_l1_db"] for r in ok)
    m["loudness_l1_db_with_failures"] = _mean(r["loudness_l1_db"] for r in notes)
    asked = notes + melodies
    m["silent"] = sum(r["silent"] for r in asked)
    m["noise_only"] = sum(r["noise_only"] for r in asked)
    m["failures"] = m["silent"] + m["noise_only"]
    m["stress_rpa"] = _mean(r["rpa"] if r["rpa"] is not None else 0.0 for r in stress)
    m["stress_error_semitones"] = _mean(r["error_semitones"] for r in stress if not r["outlier"])
    m["stress_outlier_share"] = _mean(r["outlier"] for r in stress)
    m["stress_failures"] = sum(r["silent"] or r["noise_only"] for r in stress) if stress else None
    m["free_pitched_share"] = _mean(r["pitched"] for r in free)
    m.update(note_clips=len(notes), melody_clips=len(melodies), melody_notes=len(mel_notes),
             stress_clips=len(stress), free_clips=len(free), clips=len(records))
    return m


def combine(runs: list[dict]) -> tuple[dict, dict]:
    """Per-run metrics → (mean over runs, 95 % confidence half-width: Student t with n − 1 degrees of
    freedom × standard error; None with one run). Dicts (per instrument) are combined key by key."""
    mean: dict = {}
    ci: dict = {}
    keys = [k for k in runs[0]] if runs else []
    for key in keys:
        vals = [r.get(key) for r in runs]
        if isinstance(vals[0], dict):
            sub = [v for v in vals if isinstance(v, dict)]
            mean[key], ci[key] = combine(sub) if sub else ({}, {})
            continue
        v = np.array([float(x) for x in vals if x is not None and not isinstance(x, (dict, list))])
        mean[key] = float(v.mean()) if len(v) else None
        ci[key] = float(T975[len(v) - 1] * v.std(ddof=1) / math.sqrt(len(v))) if 1 < len(v) <= 10 else None
    return mean, ci


def check_targets(metrics: dict) -> dict:
    """{target key: met (bool) or None when not measured}."""
    out = {}
    for key, (op, target) in TARGETS.items():
        v = metrics.get(key)
        out[key] = None if v is None else bool(v <= target if op == "<=" else v >= target)
    return out


# ---- corpus ceiling --------------------------------------------------------------------------------
def corpus_clip(req: Request, sample_rate: int, hop: int) -> np.ndarray:
    """The corpus synthesiser playing a request (its notes, with a random stream of its own)."""
    from ..data.corpus import render_notes

    audio, _ = render_notes(req.instrument, req.notes, req.seconds, sample_rate,
                            np.random.default_rng([CEILING_SEED, req.seed]))
    return audio


def corpus_free_clips(run: int, n: int, sample_rate: int, hop: int, names: tuple[str, ...]) -> list[np.ndarray]:
    """``n`` clips of the corpus itself (notes and phrases, as in training): the free row's ceiling."""
    from ..data.corpus import NoteCorpus

    corpus = NoteCorpus(sample_rate=sample_rate, hop_length=hop, seed=CEILING_SEED + run, size=n,
                        seconds=NOTE_SECONDS, instruments=tuple(names))
    return [e.audio for e in corpus]


# ---- evaluation -------------------------------------------------------------------------------------
def pick_method(method: str | None = None) -> str:
    """'fast' when the compiled generator is installed, else the slow 'reference' sampler."""
    if method:
        return method
    return "fast" if importlib.util.find_spec("wavenet_core.generation.fast") is not None else "reference"


def generate_requests(model, requests: list[Request], *, temperature: float, batch: int, method: str,
                      log: Callable = print, guidance: float = 1.0,
                      transform: Callable | None = None) -> list[np.ndarray]:
    """Generate every request (its own seed), ``batch`` streams of equal length per call.

    ``transform`` (ModelInputs → ModelInputs) is applied to each request's inputs before generation:
    the regression tests use it to feed a model deliberately wrong features."""
    from ..controls.conditioning import model_inputs
    from ..generation.inputs import concat_inputs
    from ..generation.generate import generate

    cfg = model.config
    inputs = [model_inputs(r.controls(), cfg) for r in requests]
    if transform is not None:
        inputs = [transform(i) for i in inputs]
    audio: list = [None] * len(requests)
    groups: dict[int, list[int]] = {}
    for i, inp in enumerate(inputs):
        groups.setdefault(inp.n_samples, []).append(i)
    done = 0
    for n_samples, idx in groups.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k: k + batch]
            out = generate(model, concat_inputs([inputs[i] for i in chunk]), temperature=temperature,
                           seed=[requests[i].seed for i in chunk], method=method, guidance=guidance)
            for i, clip in zip(chunk, out):
                audio[i] = np.asarray(clip, dtype=np.float32)
            done += len(chunk)
            log(f"  generated {done}/{len(requests)} clips")
    return audio


def _corpus_names(model) -> tuple[str, ...]:
    from ..data.corpus import INSTRUMENTS

    cfg = model.config
    if getattr(cfg, "local_dim", 0) == 0:
        raise ValueError("This model has no pitch/loudness conditioning, so there is nothing to evaluate; "
                         "use a model trained with the corpus's labels (e.g. notes).")
    names = tuple(cfg.instrument_names) or tuple(INSTRUMENTS[: cfg.n_instruments])
    if not names:
        raise ValueError("This model has no instrument conditioning; evaluation needs the instrument names.")
    corpus = tuple(n for n in names if n in INSTRUMENTS)
    if not corpus:
        raise ValueError(f"Evaluation plays the corpus's instruments ({', '.join(INSTRUMENTS)}); this model knows "
                         f"none of them ({', '.join(names)}).")
    return corpus


def evaluate_wavenet(model, *, seed: int = 0, quick: bool = False, batch: int = DEFAULT_BATCH,
                     temperature: float = 1.0, method: str | None = None, ceiling: bool = True,
                     save_audio: str | Path | None = None, log: Callable = print, guidance: float = 1.0,
                     seeds: int = N_SEEDS, transform: Callable | None = None) -> dict:
    """Generate the evaluation plan with ``model`` (``seeds`` runs, or the quick plan once) and measure
    it; returns the report dict (``metrics``: means over runs, ``ci95``, ``ceiling``, ``passed``,
    ``per_seed``, ``quick``, ``clips``)."""
    if batch < 1:
        raise ValueError(f"--batch must be at least 1; got {batch}.")
    if not 1 <= seeds <= 10:
        raise ValueError(f"seeds must be between 1 and 10; got {seeds}.")
    names = _corpus_names(model)
    cfg = model.config
    method = pick_method(method)
    sr, hop = cfg.sample_rate, cfg.hop_length
    t_start = time.perf_counter()
    run_ids = [0] if quick else list(range(seeds))
    plans = {k: plan_requests(names, sr, hop, run=k, seed=seed + SEED_STRIDE * k, quick=quick) for k in run_ids}
    if not quick:       # the regression guard's figures, from the same process
        plans["quick"] = plan_requests(names, sr, hop, seed=seed, quick=True)
    every = [r for plan in plans.values() for r in plan]
    total_s = sum(r.seconds for r in every)
    log(f"generating {len(every)} clips ({total_s:.0f} s of audio) with the {method} generator, batch {batch}")
    t0 = time.perf_counter()
    audio = generate_requests(model, every, temperature=temperature, batch=batch, method=method, log=log,
                              guidance=guidance, transform=transform)
    gen_s = time.perf_counter() - t0
    if save_audio:
        from ..audio_io import write_wav
        done = set()
        for r, a in zip(every, audio):
            name = f"{r.row}-{r.instrument or 'free'}-seed{r.seed}.wav"
            if name not in done:
                write_wav(Path(save_audio) / name, a, sr)
                done.add(name)
    log("fitting the timbre classifier on corpus notes")
    classifier = timbre_classifier(names, sr, hop)
    log("measuring")
    records: dict = {}
    pos = 0
    for key, plan in plans.items():
        records[key] = [measure(a, r, sr, hop, classifier) for r, a in zip(plan, audio[pos: pos + len(plan)])]
        pos += len(plan)
    per_seed = [summarise(records[k]) for k in run_ids]
    ceil_runs = None
    if ceiling:
        log("measuring the corpus ceiling")
        ceil_runs = []
        for k in run_ids:
            recs = [measure(corpus_clip(r, sr, hop), r, sr, hop, classifier) for r in plans[k] if r.row != "free"]
            n_free = sum(r.row == "free" for r in plans[k])
            recs += [measure(a, Request("free", None, -1, NOTE_SECONDS), sr, hop)
                     for a in corpus_free_clips(k, n_free, sr, hop, names)]
            ceil_runs.append(summarise(recs))
        for m, c in zip(per_seed, ceil_runs):
            ok = m["timbre_accuracy"] is not None and c["timbre_accuracy"]
            m["timbre_vs_ceiling"] = m["timbre_accuracy"] / c["timbre_accuracy"] if ok else None
    metrics, ci95 = combine(per_seed)
    quick_metrics = per_seed[0] if quick else summarise(records["quick"])
    report = {
        "model_kind": "wavenet", "plan": "quick" if quick else "full", "method": method, "seed": seed,
        "seeds": [seed + SEED_STRIDE * k for k in run_ids], "temperature": temperature, "guidance": guidance,
        "batch": batch, "sample_rate": sr, "hop_length": hop, "instruments": list(names),
        "training": getattr(model, "training_info", {}) or {},
        "targets": {k: {"op": op, "value": v} for k, (op, v) in TARGETS.items()},
        "anchors": dict(ANCHORS),
        "metrics": metrics, "ci95": ci95, "passed": check_targets(metrics), "per_seed": per_seed,
        "quick": {"seed": seed, "plan": quick_plan_signature(names, sr, hop), "method": method,
                  "temperature": temperature, "guidance": guidance, "metrics": quick_metrics},
        "generation_seconds": round(gen_s, 2), "audio_seconds": round(total_s, 2),
        "clips": [rec for k in run_ids for rec in records[k]],
    }
    if ceil_runs is not None:
        report["ceiling"], report["ceiling_ci95"] = combine(ceil_runs)
        report["ceiling_per_seed"] = ceil_runs
    report["wall_seconds"] = round(time.perf_counter() - t_start, 2)
    return report


def evaluate_model(name_or_path: str, *, out: str | Path | None = None, seed: int = 0, quick: bool = False,
                   batch: int = DEFAULT_BATCH, temperature: float = 1.0, method: str | None = None,
                   save_audio: str | Path | None = None, log: Callable = print, guidance: float = 1.0) -> dict:
    """Evaluate a checkpoint by its kind; writes the JSON report to ``out`` when given.

    WaveNets get ``evaluate_wavenet``; autoencoders ``autoencoder_eval.evaluate_autoencoder`` with
    seed, quick, temperature and method — ``batch`` (other than the default), ``guidance`` (other than
    1) and ``save_audio`` do not apply to it and are refused rather than dropped."""
    from ..audio_io import atomic_write_bytes
    from ..model.checkpoint import load_checkpoint_metadata, load_model

    kind = load_checkpoint_metadata(name_or_path).get("kind", "wavenet")
    if kind == "autoencoder":
        refused = [flag for flag, given in (("--batch", batch != DEFAULT_BATCH), ("--guidance", guidance != 1.0),
                                            ("--save-audio", bool(save_audio))) if given]
        if refused:
            raise ValueError(f"{' and '.join(refused)} {'do' if len(refused) > 1 else 'does'} not apply to an "
                             "autoencoder's evaluation (it reconstructs held-out corpus clips); leave "
                             f"{'them' if len(refused) > 1 else 'it'} out.")
        from .autoencoder import evaluate_autoencoder  # the autoencoder's own module
        report = evaluate_autoencoder(load_model(name_or_path), seed=seed, quick=quick, temperature=temperature,
                                      method=method, log=log)
        report.setdefault("model_kind", "autoencoder")
    elif kind == "wavenet":
        report = evaluate_wavenet(load_model(name_or_path), seed=seed, quick=quick, batch=batch,
                                  temperature=temperature, method=method, save_audio=save_audio, log=log,
                                  guidance=guidance)
    else:
        raise ValueError(f"{name_or_path}: a {kind!r} checkpoint has no evaluation; evaluate a wavenet or an autoencoder.")
    report = {"model": str(name_or_path), **json_safe(report, digits=4)}
    if out:
        text = json.dumps(report, indent=1)
        atomic_write_bytes(out, lambda tmp: Path(tmp).write_text(text))
    return report


# ---- regression guard ---------------------------------------------------------------------------------
# Margins of the guard (quick plan, seed as stored): pitch accuracy and timbre accuracy must keep at
# least half of the stored figure, loudness L1 may at most double plus 3 dB. With the same seed the
# quick plan reproduces the stored figures exactly on the same machine; across machines and generator
# builds the sampled audio can differ like a change of seed, which moves these 12-note figures by
# about ±0.1 (accuracy) and ±1 dB — well inside the margins. A feature-order or normalisation slip
# (features swapped, a row left in raw units, f0 given in kHz) makes the model play other pitches at
# other levels: accuracy falls towards chance (1/6 for timbre, ~0 for pitch) and loudness is off by
# ten dB or more, beyond the margins (``tests/test_regression_guard.py`` shows both).
GUARD_PITCH_SHARE = 0.5
GUARD_TIMBRE_SHARE = 0.5
GUARD_LOUDNESS_FACTOR, GUARD_LOUDNESS_SLACK_DB = 2.0, 3.0


def guard_limits(stored: dict) -> dict:
    """Stored quick-plan metrics → {metric: (op, limit)} the regression guard enforces."""
    limits = {}
    if stored.get("pitch_rpa") is not None:
        limits["pitch_rpa"] = (">=", GUARD_PITCH_SHARE * stored["pitch_rpa"])
    if stored.get("timbre_accuracy") is not None:
        limits["timbre_accuracy"] = (">=", GUARD_TIMBRE_SHARE * stored["timbre_accuracy"])
    if stored.get("loudness_l1_db") is not None:
        limits["loudness_l1_db"] = ("<=", GUARD_LOUDNESS_FACTOR * stored["loudness_l1_db"] + GUARD_LOUDNESS_SLACK_DB)
    return limits


def regression_guard(model, eval_report: dict, *, transform: Callable | None = None, method: str | None = None,
                     log: Callable = lambda *a: None) -> dict:
    """Re-run the quick plan with the seed stored in ``eval_report["quick"]`` and compare with the
    stored figures; returns {"metrics", "limits", "failures": [one line per broken limit]}.
    ``transform`` is handed to ``generate_requests`` (tests corrupt the inputs with it)."""
    stored = eval_report.get("quick")
    if not isinstance(stored, dict) or not isinstance(stored.get("metrics"), dict):
        raise ValueError("The evaluation report has no quick-plan figures; re-run `wavenet evaluate` to write them.")
    names = _corpus_names(model)
    signature = quick_plan_signature(names, model.config.sample_rate, model.config.hop_length)
    if stored.get("plan") != signature:
        raise ValueError(f"The stored quick-plan figures are for plan {stored.get('plan')}, not today's {signature}; "
                         "re-run `wavenet evaluate` to refresh them.")
    report = evaluate_wavenet(model, seed=int(stored.get("seed", 0)), quick=True, ceiling=False, method=method,
                              temperature=float(stored.get("temperature", 1.0)),
                              guidance=float(stored.get("guidance", 1.0)), transform=transform, log=log)
    metrics = report["metrics"]
    limits = guard_limits(stored["metrics"])
    failures = []
    for key, (op, limit) in limits.items():
        v = metrics.get(key)
        bad = v is None or (v < limit if op == ">=" else v > limit)
        if bad:
            failures.append(f"{key} = {v if v is None else round(v, 3)}, limit {op} {limit:.3f} "
                            f"(stored {stored['metrics'][key]:.3f})")
    return {"metrics": metrics, "limits": limits, "failures": failures}


# ---- tables -------------------------------------------------------------------------------------------
# (metric key, label, format, kind): kind "share" prints %, "count" integers
_ROWS = [
    ("pitch_rpa", "pitch: voiced frames within 50 cents (MIDI 36–84)", "share"),
    ("pitch_rpa_worst_instrument", "pitch: the same, worst instrument", "share"),
    ("pitch_error_semitones", "pitch: mean \\|f0 error\\| (semitones), non-outlier notes", "num"),
    ("pitch_notes_within_50", "pitch: notes within 50 cents (per note)", "share"),
    ("pitch_outlier_share", "pitch: outlier notes (untracked or > 1 semitone off)", "share"),
    ("melody_notes_within_50", "melody: notes within 50 cents", "share"),
    ("timbre_accuracy", "timbre: identified as requested", "share"),
    ("timbre_vs_ceiling", "timbre: share of the corpus ceiling", "num"),
    ("timbre_none_share", "timbre: judged \"none of these\"", "share"),
    ("loudness_l1_db", "loudness: L1 over sounding frames (dB)", "num"),
    ("loudness_l1_db_with_failures", "loudness: L1 with failed clips kept (dB)", "num"),
    ("failures", "silent or noise-only clips (per run)", "count"),
    ("free_pitched_share", "free: clips that are pitched (every control free)", "share"),
    ("stress_rpa", "stress (MIDI 30–35, 85–90): frames within 50 cents", "share"),
    ("stress_error_semitones", "stress: mean \\|f0 error\\| (semitones)", "num"),
    ("stress_failures", "stress: silent or noise-only clips (per run)", "count"),
]


def _fmt(kind: str, v, ci=None) -> str:
    if v is None:
        return "n/a"
    if kind == "share":
        s = f"{100 * v:.1f} %"
        return s if ci is None else f"{100 * v:.1f} ± {100 * ci:.1f} %"
    if kind == "count":
        s = f"{v:.1f}" if ci is not None or not float(v).is_integer() else f"{int(v)}"
        return s if ci is None else f"{s} ± {ci:.1f}"
    return f"{v:.2f}" if ci is None else f"{v:.2f} ± {ci:.2f}"


def card_table(report: dict) -> str:
    """The model card's measured table in Markdown: metric, target, model mean ± 95 % CI over the runs,
    corpus ceiling (same plan, same measurements), published anchor where the units match, met."""
    m, ci = report.get("metrics", {}), report.get("ci95", {}) or {}
    c = report.get("ceiling", {}) or {}
    passed = report.get("passed", {})
    n = len(report.get("seeds") or [report.get("seed")])
    head = f"model (mean ± 95 % CI, {n} seeds)" if n > 1 else "model (1 seed)"
    lines = [f"| metric | target | {head} | corpus ceiling | published anchor | met |", "|---|---|---|---|---|---|"]
    for key, label, kind in _ROWS:
        if key not in m or (m.get(key) is None and c.get(key) is None):     # not in this plan (quick: no free, stress)
            continue
        if key in TARGETS:
            op, target = TARGETS[key]
            tgt = ("≤ " if op == "<=" else "≥ ") + _fmt(kind, target)
            ok = passed.get(key)
            met = "—" if ok is None else ("yes" if ok else "**no**")
        else:
            tgt, met = "—", "—"
        ceil = "—" if key == "timbre_vs_ceiling" else _fmt(kind, c.get(key)) if c else "—"
        lines.append(f"| {label} | {tgt} | {_fmt(kind, m.get(key), ci.get(key) if n > 1 else None)} | {ceil} | "
                     f"{ANCHORS.get(key, '')} | {met} |")
    return "\n".join(lines)


def format_table(report: dict) -> str:
    """What `wavenet evaluate` prints: the card's Markdown table and a line on the plan."""
    m = report.get("metrics", {})
    tail = (f"\n\n{report.get('plan', '?')} plan: {m.get('note_clips', 0)} notes, {m.get('melody_notes', 0)} melody notes, "
            f"{m.get('stress_clips', 0)} stress notes, {m.get('free_clips', 0)} free clips per run; seeds "
            f"{report.get('seeds')}; {report.get('method', '?')} generator; {report.get('wall_seconds', '?')} s")
    return card_table(report) + tail


def main(argv: list[str] | None = None) -> int:
    """``python -m wavenet_core.evaluation.evaluate --card eval.json``: print a saved report's card table."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m wavenet_core.evaluation.evaluate", description=main.__doc__)
    p.add_argument("--card", required=True, metavar="REPORT", help="a report written by `wavenet evaluate --out`")
    args = p.parse_args(argv)
    try:
        report = json.loads(Path(args.card).read_text())
    except (OSError, ValueError) as e:
        print(f"error: {args.card}: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    if report.get("model_kind", "wavenet") != "wavenet" or "metrics" not in report:
        print(f"error: {args.card} is not a WaveNet evaluation report", file=sys.stderr)
        return 2
    print(card_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
