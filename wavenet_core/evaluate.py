"""Control accuracy: does a conditioned model play the pitch, timbre, loudness and melody asked for?

``evaluate_model(name)`` generates a fixed plan of clips (each with its own recorded seed),
measures them with the descriptors, and compares with what was requested:

* pitch — every instrument × ≥ 12 pitches over MIDI 48–72, 1 s notes; the pitch track
  (``descriptors.pitch_track``: pYIN refined to sub-cent) over the sustained part gives the error
  in cents: median and share within 50 cents;
* timbre — a nearest-centroid classifier on MFCC statistics (distance in the metric of the
  pooled within-class covariance), fitted on the corpus's own notes, names the instrument of
  each generated note: accuracy;
* loudness — the same notes are requested at levels from -30 to -10 dB; Pearson r and mean
  absolute error (dB) between requested and measured (median frame level of the sustained part);
* melody — one 8-note melody per instrument; share of notes within 50 cents;
* diagnostics — notes in which the pitch tracker found nothing voiced, and the median error of
  plain YIN (no voicing decision), which says whether rough notes are at least near the pitch;
* failures — clips that come out silent (sustained level under -50 dB) or noise-only (less
  than half of the sustained frames voiced).

The same measurements on the corpus's own audio for the same requests (rendered by the corpus
synthesiser, measured against its exact labels) are the ceiling the model is compared with.
An autoencoder checkpoint is handed to ``autoencoder_eval.evaluate_autoencoder``.
"""
from __future__ import annotations

import importlib.util
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .conditioning import Controls, Curves, requested_curves
from .descriptors import frame_loudness_db, hz_to_midi, pitch_track
from .jsonsafe import json_safe

# target: (comparison, value); "failures" counts silent + noise-only clips
TARGETS: dict[str, tuple[str, float]] = {
    "pitch_median_cents": ("<=", 25.0),
    "pitch_within_50": (">=", 0.90),
    "timbre_accuracy": (">=", 0.85),
    "loudness_r": (">=", 0.95),
    "loudness_mae_db": ("<=", 3.0),
    "melody_within_50": (">=", 0.90),
    "failures": ("<=", 0),
}
PITCHES = tuple(range(48, 73, 2))                # 13 pitches over the corpus's range, MIDI 48–72
QUICK_PITCHES = (52, 68)
LEVELS = (-30.0, -25.0, -20.0, -15.0, -10.0)     # inside the corpus labels' 5–95 % range (-38 … -9 dB)
MELODIES = (
    "C4 D4 E4 F4 G4 A4 B4 C5",
    "G3 C4 E4 G4 E4 C4 G3 C3",
    "A3 E4 D4 C4 B3 C4 D4 E4",
    "C5 B4 G4 E4 F4 D4 B3 C4",
    "F3 A3 C4 F4 E4 C4 A3 G3",
    "D4 F#4 A4 C5 B4 A4 F#4 E4",
)
MELODY_LEVEL = -15.0
PITCH_FMIN, PITCH_FMAX = 60.0, 1100.0            # pitch-track search range (MIDI ~35 … ~85)
SILENT_DB = -50.0
MIN_VOICED = 0.5
CLASSIFIER_SEED = 1234                           # corpus seed for the timbre classifier's notes


@dataclass
class Plan:
    note_seconds: float
    melody_tempo: float
    classifier_size: int


FULL = Plan(note_seconds=1.0, melody_tempo=200.0, classifier_size=240)
QUICK = Plan(note_seconds=0.5, melody_tempo=400.0, classifier_size=60)


@dataclass
class Request:
    kind: str                    # "note" or "melody"
    instrument: str
    controls: Controls
    seed: int
    curves: Curves | None = None
    record: dict = field(default_factory=dict)


def plan_requests(names: tuple[str, ...], quick: bool, seed: int) -> list[Request]:
    """The fixed evaluation plan: notes (pitch × instrument, level cycling) then melodies."""
    plan = QUICK if quick else FULL
    pitches = QUICK_PITCHES if quick else PITCHES
    out = []
    for j, name in enumerate(names):
        for i, p in enumerate(pitches):
            level = LEVELS[(i + j) % len(LEVELS)]
            out.append(Request("note", name, Controls(seconds=plan.note_seconds, instrument=name, pitch=float(p),
                                                      loudness=level), 0))
    melodies = MELODIES[:1] if quick else MELODIES
    for k, text in enumerate(melodies):
        name = names[k % len(names)]
        out.append(Request("melody", name, Controls(instrument=name, melody=text, tempo=plan.melody_tempo,
                                                    loudness=MELODY_LEVEL), 0))
    for i, r in enumerate(out):
        r.seed = seed + i
    return out


# ---- measurement -------------------------------------------------------------------------------
def _sustained(curves: Curves, start: float, end: float) -> slice:
    hop, sr = curves.hop_length, curves.sample_rate
    return slice(int(math.ceil(start * sr / hop)), max(int(math.ceil(start * sr / hop)) + 1, int(end * sr / hop)))


def _median_midi(f0: np.ndarray) -> float | None:
    voiced = f0[f0 > 0]
    return float(np.median(hz_to_midi(voiced))) if len(voiced) else None


def yin_midi(audio: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """Per-frame pitch (MIDI) by YIN with no voicing decision: a diagnostic for clips too rough for
    pYIN to call voiced — it says where the pitch is, not whether it is stable."""
    import librosa

    frame_length = 1 << int(np.ceil(np.log2(2 * sample_rate / PITCH_FMIN)))
    shifted = np.pad(np.asarray(audio, dtype=np.float32)[hop // 2:], (0, hop + frame_length))
    f0 = librosa.yin(shifted, fmin=PITCH_FMIN, fmax=min(PITCH_FMAX, sample_rate / 2 - 1), sr=sample_rate,
                     frame_length=frame_length, hop_length=hop, center=True)
    return hz_to_midi(f0)


def measure(audio: np.ndarray, req: Request, sample_rate: int, hop: int) -> dict:
    """Measure one clip against its request → a JSON-ready record."""
    curves = req.curves
    f0 = pitch_track(audio, sample_rate, hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)
    loud = frame_loudness_db(audio, hop)
    rec: dict = {"kind": req.kind, "instrument": req.instrument, "seed": req.seed}
    if req.kind == "note":
        n = curves.notes[0]
        sl = _sustained(curves, 0.2 * n.duration, 0.9 * n.duration)
        got = _median_midi(f0[sl])
        yin = float(np.nanmedian(yin_midi(audio, sample_rate, hop)[sl]))
        rec.update(pitch=n.midi, loudness=n.level_db, measured_pitch=got,
                   cents=None if got is None else 100 * (got - n.midi), yin_cents=100 * (yin - n.midi),
                   measured_loudness=float(np.median(loud[sl])), voiced_fraction=float(np.mean(f0[sl] > 0)))
    else:
        notes = []
        frames = []
        for n in curves.notes:
            sl = _sustained(curves, n.start + 0.05, n.start + n.duration - 0.02)
            got = _median_midi(f0[sl])
            notes.append({"pitch": n.midi, "start": round(n.start, 4), "measured_pitch": got,
                          "cents": None if got is None else 100 * (got - n.midi)})
            frames.append(np.arange(sl.start, min(sl.stop, len(f0))))
        sel = np.concatenate(frames)
        rec.update(melody=req.controls.melody, tempo=req.controls.tempo, loudness=req.controls.loudness, notes=notes,
                   measured_loudness=float(np.median(loud[sel])), voiced_fraction=float(np.mean(f0[sel] > 0)))
    rec["silent"] = bool(rec["measured_loudness"] < SILENT_DB)
    rec["noise_only"] = bool(not rec["silent"] and rec["voiced_fraction"] < MIN_VOICED)
    return rec


# ---- timbre classifier ---------------------------------------------------------------------------
def mfcc_stats(audio: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """Mean and standard deviation of MFCC 1–19 over the frames above -50 dB (c0, the level, left out)."""
    import librosa

    loud = frame_loudness_db(audio, hop)
    n_fft = 1 << int(np.ceil(np.log2(sample_rate * 0.064)))
    m = librosa.feature.mfcc(y=np.asarray(audio, dtype=np.float32), sr=sample_rate, n_mfcc=20, n_fft=n_fft, hop_length=hop)
    n = min(m.shape[1], len(loud))
    sel = loud[:n] > -50
    if sel.sum() < 3:
        sel = np.ones(n, dtype=bool)
    m = m[1:, :n][:, sel]
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


class TimbreClassifier:
    """Nearest centroid on MFCC statistics, distances in the (shrunk) pooled within-class metric."""

    def __init__(self, names: tuple[str, ...], sample_rate: int, hop: int, size: int, seed: int = CLASSIFIER_SEED,
                 shrink: float = 0.3):
        from .data.corpus import NoteCorpus

        self.names, self.sample_rate, self.hop = tuple(names), sample_rate, hop
        corpus = NoteCorpus(sample_rate=sample_rate, hop_length=hop, seed=seed, size=size, seconds=1.0,
                            phrase_share=0.0, instruments=self.names)
        x = np.array([mfcc_stats(e.audio, sample_rate, hop) for e in corpus])
        y = np.array([e.instrument for e in corpus])
        self.mu, self.sd = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = (x - self.mu) / self.sd
        self.centroids = np.stack([z[y == k].mean(axis=0) for k in range(len(self.names))])
        within = sum(np.cov((z[y == k] - self.centroids[k]).T) for k in range(len(self.names))) / len(self.names)
        self.metric = np.linalg.inv(within + shrink * np.eye(len(within)))

    def predict(self, audio: np.ndarray) -> str:
        d = (mfcc_stats(audio, self.sample_rate, self.hop) - self.mu) / self.sd - self.centroids
        return self.names[int(np.argmin(np.einsum("kd,de,ke->k", d, self.metric, d)))]


# ---- summaries -----------------------------------------------------------------------------------
def _cents_summary(cents: list) -> tuple[float | None, float | None]:
    if not cents:
        return None, None
    err = np.array([abs(c) if c is not None else np.inf for c in cents])
    return float(np.median(err)), float(np.mean(err <= 50))


def summarise(records: list[dict]) -> dict:
    notes = [r for r in records if r["kind"] == "note"]
    med, within = _cents_summary([r["cents"] for r in notes])
    req = np.array([r["loudness"] for r in notes], dtype=float)
    got = np.array([r["measured_loudness"] for r in notes], dtype=float)
    r_val = float(np.corrcoef(req, got)[0, 1]) if len(notes) > 2 and np.std(got) > 0 and np.std(req) > 0 else None
    timbre = [r for r in notes if r.get("predicted") is not None]
    melody_cents = [n["cents"] for r in records if r["kind"] == "melody" for n in r["notes"]]
    _, mel_within = _cents_summary(melody_cents)
    silent = sum(r["silent"] for r in records)
    noise = sum(r["noise_only"] for r in records)
    yin = [abs(r["yin_cents"]) for r in notes if r.get("yin_cents") is not None and math.isfinite(r["yin_cents"])]
    return {
        "pitch_median_cents": med, "pitch_within_50": within, "pitch_notes": len(notes),
        "pitch_unvoiced_notes": sum(r["cents"] is None for r in notes),
        "pitch_yin_median_cents": float(np.median(yin)) if yin else None,
        "timbre_accuracy": float(np.mean([r["predicted"] == r["instrument"] for r in timbre])) if timbre else None,
        "loudness_r": r_val, "loudness_mae_db": float(np.mean(np.abs(req - got))) if len(notes) else None,
        "melody_within_50": mel_within, "melody_notes": len(melody_cents),
        "silent": silent, "noise_only": noise, "failures": silent + noise, "clips": len(records),
    }


def check_targets(metrics: dict) -> dict:
    out = {}
    for key, (op, target) in TARGETS.items():
        v = metrics.get(key)
        out[key] = None if v is None else bool(v <= target if op == "<=" else v >= target)
    return out


# ---- corpus ceiling --------------------------------------------------------------------------------
def corpus_clip(req: Request, sample_rate: int, hop: int) -> tuple[np.ndarray, Request]:
    """The corpus synthesiser playing a request; the request's curves become its exact labels."""
    from .data.corpus import Note, frame_f0, render_notes

    curves = req.curves
    rng = np.random.default_rng([CLASSIFIER_SEED, req.seed])
    level = req.controls.loudness
    # the corpus's note level is a peak gain; +3 dB puts a sine-like tone's RMS near the request
    notes = [Note(n.midi, n.start, n.duration, min(-1.0, level + 3.0)) for n in curves.notes]
    audio, f0 = render_notes(req.instrument, notes, curves.n_samples / sample_rate, sample_rate, rng)
    labels = frame_loudness_db(audio, hop)
    label_f0 = frame_f0(f0, labels, hop)
    ceiling = Request(req.kind, req.instrument, req.controls, req.seed)
    ceiling.curves = Curves(curves.n_samples, sample_rate, hop, label_f0, labels, curves.notes)
    return audio, ceiling


def _label_loudness(rec: dict, req: Request) -> None:
    """For corpus audio the requested loudness is its own label over the same frames."""
    if req.kind == "note":
        n = req.curves.notes[0]
        rec["loudness"] = float(np.median(req.curves.loudness_db[_sustained(req.curves, 0.2 * n.duration, 0.9 * n.duration)]))


# ---- evaluation -------------------------------------------------------------------------------------
def pick_method(method: str | None = None) -> str:
    """'fast' when the compiled generator is installed, else the slow 'reference' sampler."""
    if method:
        return method
    return "fast" if importlib.util.find_spec("wavenet_core.fast") is not None else "reference"


def _stack_inputs(items: list):
    from .generate import concat_inputs
    return concat_inputs(items)


def generate_requests(model, requests: list[Request], *, temperature: float, batch: int, method: str,
                      log: Callable = print, guidance: float = 1.0) -> list[np.ndarray]:
    """Generate every request (its own seed), ``batch`` streams of equal length per call."""
    from .conditioning import model_inputs
    from .generate import generate

    cfg = model.config
    inputs = [model_inputs(r.controls, cfg) for r in requests]
    audio: list = [None] * len(requests)
    groups: dict[int, list[int]] = {}
    for i, inp in enumerate(inputs):
        groups.setdefault(inp.n_samples, []).append(i)
    done = 0
    for n_samples, idx in groups.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k: k + batch]
            out = generate(model, _stack_inputs([inputs[i] for i in chunk]), temperature=temperature,
                           seed=[requests[i].seed for i in chunk], method=method, guidance=guidance)
            for i, clip in zip(chunk, out):
                audio[i] = clip
            done += len(chunk)
            log(f"  generated {done}/{len(requests)} clips")
    return audio


def evaluate_wavenet(model, *, seed: int = 0, quick: bool = False, batch: int = 16, temperature: float = 1.0,
                     method: str | None = None, ceiling: bool = True, save_audio: str | Path | None = None,
                     log: Callable = print, guidance: float = 1.0) -> dict:
    """Generate the evaluation plan with ``model`` and measure it; returns the report dict."""
    from .data.corpus import INSTRUMENTS

    cfg = model.config
    if getattr(cfg, "local_dim", 0) == 0:
        raise ValueError("This model has no pitch/loudness conditioning, so there is nothing to evaluate; "
                         "use a model trained with the corpus's labels (e.g. notes).")
    if batch < 1:
        raise ValueError(f"--batch must be at least 1; got {batch}.")
    names = tuple(cfg.instrument_names) or tuple(INSTRUMENTS[: cfg.n_instruments])
    if not names:
        raise ValueError("This model has no instrument conditioning; evaluation needs the instrument names.")
    method = pick_method(method)
    sr, hop = cfg.sample_rate, cfg.hop_length
    t_start = time.perf_counter()
    requests = plan_requests(names, quick, seed)
    for r in requests:
        r.curves = requested_curves(r.controls, sr, hop)
    total_s = sum(r.curves.n_samples for r in requests) / sr
    log(f"generating {len(requests)} clips ({total_s:.1f} s of audio) with the {method} generator, batch {batch}")
    t0 = time.perf_counter()
    audio = generate_requests(model, requests, temperature=temperature, batch=batch, method=method, log=log,
                              guidance=guidance)
    gen_s = time.perf_counter() - t0
    if save_audio:
        from .audio_io import write_wav
        for r, a in zip(requests, audio):
            write_wav(Path(save_audio) / f"{r.kind}-{r.instrument}-seed{r.seed}.wav", a, sr)

    corpus_names = tuple(n for n in names if n in INSTRUMENTS)
    classifier = None
    if corpus_names:
        log("fitting the timbre classifier on corpus notes")
        classifier = TimbreClassifier(corpus_names, sr, hop, size=(QUICK if quick else FULL).classifier_size)
    log("measuring")
    records = []
    for r, a in zip(requests, audio):
        rec = measure(a, r, sr, hop)
        if r.kind == "note" and classifier is not None and r.instrument in corpus_names:
            rec["predicted"] = classifier.predict(a)
        records.append(rec)
    metrics = summarise(records)
    report = {
        "model_kind": "wavenet", "method": method, "seed": seed, "quick": quick, "temperature": temperature,
        "guidance": guidance,
        "batch": batch, "sample_rate": sr, "hop_length": hop, "instruments": list(names),
        "training": getattr(model, "training_info", {}) or {},
        "targets": {k: {"op": op, "value": v} for k, (op, v) in TARGETS.items()},
        "metrics": metrics, "passed": check_targets(metrics),
        "generation_seconds": round(gen_s, 2), "audio_seconds": round(total_s, 2),
        "clips": records,
    }
    if ceiling and corpus_names:
        log("measuring the corpus ceiling")
        c_records = []
        for r in requests:
            if r.instrument not in corpus_names:
                continue
            a, cr = corpus_clip(r, sr, hop)
            rec = measure(a, cr, sr, hop)
            _label_loudness(rec, cr)
            if r.kind == "note":
                rec["predicted"] = classifier.predict(a)
            c_records.append(rec)
        report["ceiling"] = summarise(c_records)
    report["wall_seconds"] = round(time.perf_counter() - t_start, 2)
    return report


def evaluate_model(name_or_path: str, *, out: str | Path | None = None, seed: int = 0, quick: bool = False,
                   batch: int = 16, temperature: float = 1.0, method: str | None = None,
                   save_audio: str | Path | None = None, log: Callable = print, guidance: float = 1.0) -> dict:
    """Evaluate a checkpoint by kind; writes the JSON report to ``out`` when given."""
    from .audio_io import atomic_write_bytes
    from .checkpoint import load_checkpoint_metadata, load_model

    kind = load_checkpoint_metadata(name_or_path).get("kind", "wavenet")
    if kind == "autoencoder":
        import inspect

        from .autoencoder_eval import evaluate_autoencoder   # the autoencoder's own module
        offered = dict(seed=seed, quick=quick, batch=batch, temperature=temperature, method=method, log=log)
        accepted = inspect.signature(evaluate_autoencoder).parameters
        report = evaluate_autoencoder(load_model(name_or_path), **{k: v for k, v in offered.items() if k in accepted})
        report.setdefault("model_kind", "autoencoder")
    else:
        report = evaluate_wavenet(load_model(name_or_path), seed=seed, quick=quick, batch=batch,
                                  temperature=temperature, method=method, save_audio=save_audio, log=log,
                                  guidance=guidance)
    report = {"model": str(name_or_path), **json_safe(report, digits=4)}
    if out:
        text = json.dumps(report, indent=2)
        atomic_write_bytes(out, lambda tmp: Path(tmp).write_text(text))
    return report


# ---- table -------------------------------------------------------------------------------------------
_ROWS = [
    ("pitch_median_cents", "pitch: median error (cents)", "{:.1f}"),
    ("pitch_within_50", "pitch: notes within 50 cents", "{:.0%}"),
    ("timbre_accuracy", "timbre: identified instrument", "{:.0%}"),
    ("loudness_r", "loudness: correlation r", "{:.3f}"),
    ("loudness_mae_db", "loudness: mean abs error (dB)", "{:.2f}"),
    ("melody_within_50", "melody: notes within 50 cents", "{:.0%}"),
    ("failures", "silent or noise-only clips", "{:d}"),
]


def _fmt(fmt: str, v, unvoiced: bool = False) -> str:
    if v is None:
        return "∞" if unvoiced else "n/a"        # median over notes, most of them unvoiced
    return fmt.format(int(v)) if fmt == "{:d}" else fmt.format(v)


def format_table(report: dict) -> str:
    """The report's metrics next to their targets and the corpus ceiling, as a text table."""
    m, c = report.get("metrics", {}), report.get("ceiling", {}) or {}
    lines = [f"{'metric':32s} {'target':>9s} {'model':>8s} {'corpus':>8s}  ok"]
    for key, label, fmt in _ROWS:
        op, target = TARGETS[key]
        tgt = ("≤ " if op == "<=" else "≥ ") + (_fmt(fmt, target))
        ok = report.get("passed", {}).get(key)
        unvoiced = key == "pitch_median_cents"
        model_v = _fmt(fmt, m.get(key), unvoiced and m.get("pitch_unvoiced_notes", 0) > 0)
        corpus_v = _fmt(fmt, c.get(key), unvoiced and c.get("pitch_unvoiced_notes", 0) > 0)
        lines.append(f"{label:32s} {tgt:>9s} {model_v:>8s} {corpus_v:>8s}  {'—' if ok is None else ('yes' if ok else 'NO')}")
    if m.get("pitch_yin_median_cents") is not None:
        lines.append(f"{'  diagnostic: YIN median (cents)':32s} {'':>9s} {m['pitch_yin_median_cents']:8.1f} "
                     f"{_fmt('{:.1f}', c.get('pitch_yin_median_cents')):>8s}  (no voicing decision)")
    lines.append(f"{'  notes pYIN found unvoiced':32s} {'':>9s} {m.get('pitch_unvoiced_notes', 0):8d} "
                 f"{c.get('pitch_unvoiced_notes', 0):8d}")
    lines.append(f"({m.get('pitch_notes', 0)} notes, {m.get('melody_notes', 0)} melody notes, {m.get('clips', 0)} clips; "
                 f"{report.get('method', '?')} generator, seed {report.get('seed')}, {report.get('wall_seconds', '?')} s)")
    return "\n".join(lines)
