"""Sampling control: rejection sampling against target properties, with novelty and cost visible.

Generate freely (or with whatever conditioning the user fixes), measure every candidate with
``descriptors.describe``, keep the ones inside the target ranges. Simple and general, but costly
and without guarantee — so the result records what it cost (candidates, samples generated, wall
and CPU time) and how far the misses were from the targets.

* **Targets** — ranges on descriptors (``parse_target("pitch=55..62")``, open ends allowed:
  ``"loudness=-20.."``), a timbre (``"timbre=bell"``, judged by ``measure.timbre.TimbreClassifier``) and
  **novelty**, the distance to the nearest training example (``NoveltyIndex``).
* **Candidates** come from the fast generator in batches; candidate i has seed ``seed + i``
  (recorded), so ``generate(model, inputs, seed=that_seed)`` at batch 1 gives it back bit for bit.
* **Early rejection** — properties that a prefix can bound (``PREFIX_SAFE``) are checked after
  every chunk of generation; a candidate whose property can no longer end inside its range is
  stopped (``fast_classes(stop=...)``), and the samples it did not generate are reported as saved.
* **Budget** — stop at ``keep`` accepted, ``max_candidates`` started or ``max_seconds`` of wall
  time. When too few pass, the closest complete candidates are returned, flagged
  ``meets_targets=False`` with their distance to the target box.

Prefix-safe properties and why (frame f of the loudness track covers samples
[f·hop − hop/2, f·hop + 3·hop/2); a frame is *known* once all its samples exist, and a known frame
has the value it will have in the full clip; the remaining frames can take any value):

* ``sounding_seconds`` — a count of frames at ≥ ``SOUNDING_DB``: it lies between the known count
  and the known count plus the unknown frames.
* ``loudness`` — the median level of the sounding frames: the unknown frames can only add values
  in [``SOUNDING_DB``, 0 dB] (a frame's RMS of samples in [-1, 1] is at most 0 dB), and adding
  values at the bottom (top) of that interval bounds the median from below (above).
* ``noisiness`` — the median spectral flatness of the sounding frames, by the same argument with
  values in [0, 1] (an STFT frame is known when its whole window lies inside the prefix).

Not prefix-safe: ``pitch`` and ``voiced_fraction`` (pYIN decodes the whole clip with a Viterbi
path, so a prefix's voicing can change with what follows), ``brightness`` (an energy-weighted
mean: one loud unknown frame can move it anywhere), ``onset_rate`` (librosa normalises the onset
envelope by its maximum over the whole clip before peak picking, so onsets found in a prefix are
neither a subset nor a superset of the final ones), ``novelty`` and ``timbre`` (whole-clip
statistics). These are judged on the finished clip only.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..measure.descriptors import SOUNDING_DB, default_hop, describe, frame_loudness_db, spectral_features
from ..jsonsafe import json_safe

# ---- targets ---------------------------------------------------------------------------------------
# name → (unit, natural scale for distances, lowest and highest possible value)
PROPERTIES: dict[str, tuple[str, float, float, float]] = {
    "pitch": ("MIDI", 6.0, 0.0, 127.0),
    "loudness": ("dB FS", 10.0, -80.0, 0.0),
    "brightness": ("Hz", 1000.0, 0.0, math.inf),
    "noisiness": ("flatness", 0.1, 0.0, 1.0),
    "onset_rate": ("onsets/s", 2.0, 0.0, math.inf),
    "sounding_seconds": ("s", 0.25, 0.0, math.inf),
    "voiced_fraction": ("share", 0.25, 0.0, 1.0),
    "novelty": ("RMS z", 1.0, 0.0, math.inf),
}
CATEGORICAL = ("timbre",)
TARGET_NAMES: tuple[str, ...] = tuple(PROPERTIES) + CATEGORICAL
PREFIX_SAFE: tuple[str, ...] = ("loudness", "noisiness", "sounding_seconds")
NEEDS_PITCH = ("pitch", "voiced_fraction", "novelty")
MISSING_GAP = 10.0          # distance (in scale units) of a missing value, e.g. no pitch found
TIMBRE_GAP = 1.0            # distance of a timbre that is not the one asked for
_EPS = 1e-9                 # early rejection needs the bound to miss by more than this (float noise)


def _names_help() -> str:
    return ", ".join(TARGET_NAMES)


@dataclass(frozen=True)
class Target:
    """A range ``low..high`` on a descriptor (either end may be infinite), or a timbre ``label``."""
    name: str
    low: float = -math.inf
    high: float = math.inf
    label: str | None = None

    def __str__(self) -> str:
        if self.label is not None:
            return f"{self.name}={self.label}"
        lo = "" if math.isinf(self.low) else f"{self.low:g}"
        hi = "" if math.isinf(self.high) else f"{self.high:g}"
        return f"{self.name}={lo}..{hi}"

    @property
    def prefix_safe(self) -> bool:
        return self.name in PREFIX_SAFE

    def contains(self, value) -> bool:
        if self.label is not None:
            return value == self.label
        return value is not None and self.low <= float(value) <= self.high

    def gap(self, value) -> float:
        """Distance of ``value`` to the range in units of the property's scale (0 inside)."""
        if self.label is not None:
            return 0.0 if value == self.label else TIMBRE_GAP
        if value is None:
            return MISSING_GAP
        v = float(value)
        return max(0.0, self.low - v, v - self.high) / PROPERTIES[self.name][1]

    def to_dict(self) -> dict:
        d = {"name": self.name, "text": str(self)}
        if self.label is not None:
            d["label"] = self.label
        else:
            d["low"] = None if math.isinf(self.low) else self.low
            d["high"] = None if math.isinf(self.high) else self.high
        return d


def _parse_value(name: str, text: str, whole: str) -> float:
    text = text.strip()
    if name == "pitch" and text and not re.match(r"^-?[\d.]+$", text):
        from .conditioning import parse_note
        try:
            return parse_note(text)
        except ValueError as e:
            raise ValueError(f"Target {whole!r}: {e}.") from None
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"Target {whole!r}: {text!r} is not a number; write {name}=LOW..HIGH, e.g. "
                         f"{_example(name)}.") from None
    if not math.isfinite(v):
        raise ValueError(f"Target {whole!r}: bounds must be finite numbers (leave an end empty for no bound).")
    return v


def _example(name: str) -> str:
    return {"pitch": "pitch=55..62 or pitch=G3..D4", "loudness": "loudness=-24..-12", "brightness": "brightness=800..2000",
            "noisiness": "noisiness=0..0.05", "onset_rate": "onset_rate=0..2", "sounding_seconds": "sounding_seconds=0.5..",
            "voiced_fraction": "voiced_fraction=0.8..", "novelty": "novelty=0.5..", "timbre": "timbre=bell"}[name]


def parse_target(text: str, instruments: Sequence[str] | None = None) -> Target:
    """``"pitch=55..62"``, ``"pitch=G3..D4"``, ``"loudness=-20.."``, ``"novelty=0.5.."``, ``"timbre=bell"`` → Target.

    Refused with a one-line message: unknown names (the message lists the valid ones), missing or
    inverted bounds, empty ranges, and ranges outside what the property can measure.
    """
    whole = str(text).strip()
    name, sep, spec = whole.partition("=")
    name = name.strip().lower().replace("-", "_")
    if not sep or not name:
        raise ValueError(f"Target {whole!r}: write NAME=LOW..HIGH, e.g. pitch=55..62; names: {_names_help()}.")
    if name not in TARGET_NAMES:
        raise ValueError(f"Unknown target {name!r}; valid names: {_names_help()}.")
    spec = spec.strip()
    if name == "timbre":
        label = spec.lower()
        if not label:
            raise ValueError(f"Target {whole!r}: name an instrument, e.g. timbre=bell.")
        if instruments is not None and label not in instruments:
            raise ValueError(f"Target {whole!r}: unknown instrument {label!r}; choose from: {', '.join(instruments)}.")
        return Target(name, label=label)
    if ".." not in spec:
        raise ValueError(f"Target {whole!r}: give a range LOW..HIGH (either end may be left empty), e.g. {_example(name)}.")
    lo_text, _, hi_text = spec.partition("..")
    if ".." in hi_text:
        raise ValueError(f"Target {whole!r}: one '..' only; write {name}=LOW..HIGH.")
    if not lo_text.strip() and not hi_text.strip():
        raise ValueError(f"Target {whole!r}: the range has no bounds; give at least one, e.g. {_example(name)}.")
    lo = _parse_value(name, lo_text, whole) if lo_text.strip() else -math.inf
    hi = _parse_value(name, hi_text, whole) if hi_text.strip() else math.inf
    if lo > hi:
        raise ValueError(f"Target {whole!r}: the range is inverted ({lo:g} > {hi:g}); write the lower bound first.")
    if lo == hi:
        raise ValueError(f"Target {whole!r}: the range is empty ({lo:g}..{hi:g}); give it some width.")
    unit, _, pmin, pmax = PROPERTIES[name]
    if hi < pmin or lo > pmax:
        raise ValueError(f"Target {whole!r} can never be met: {name} lies between {pmin:g} and {pmax:g} {unit}.")
    return Target(name, lo, hi)


def parse_targets(texts: Sequence[str | Target], instruments: Sequence[str] | None = None) -> list[Target]:
    """Several targets; a property given twice is refused."""
    out: list[Target] = []
    for t in texts:
        target = t if isinstance(t, Target) else parse_target(t, instruments)
        if any(o.name == target.name for o in out):
            raise ValueError(f"Target {target.name!r} is given twice; combine them into one range.")
        out.append(target)
    return out


def distance_to_targets(values: dict, targets: Sequence[Target]) -> float:
    """Root sum of squares of each target's normalised gap (0 inside every range)."""
    return float(math.sqrt(sum(t.gap(values.get(t.name)) ** 2 for t in targets)))


def failed_targets(values: dict, targets: Sequence[Target]) -> list[str]:
    """One reason per target that ``values`` misses, e.g. ``"pitch 64.2 above 62"``."""
    reasons = []
    for t in targets:
        v = values.get(t.name)
        if t.contains(v):
            continue
        if v is None:
            reasons.append(f"{t.name}: none measured")
        elif t.label is not None:
            reasons.append(f"timbre {v} is not {t.label}")
        else:
            reasons.append(f"{t.name} {float(v):.4g} {'below' if float(v) < t.low else 'above'} "
                           f"{t.low if float(v) < t.low else t.high:g}")
    return reasons


# ---- early rejection: bounds from a prefix ----------------------------------------------------------
def _median_bounds(known: np.ndarray, unknown: int, floor: float, ceiling: float) -> tuple[float, float]:
    """Bounds on the median of ``known`` plus up to ``unknown`` more values in [floor, ceiling]."""
    lo = np.median(np.concatenate([np.full(unknown, floor), known]))
    hi = np.median(np.concatenate([known, np.full(unknown, ceiling)]))
    return float(lo), float(hi)


class PrefixJudge:
    """Bounds on the prefix-safe properties of a clip of ``n_samples`` from its first samples."""

    def __init__(self, targets: Sequence[Target], n_samples: int, sample_rate: int, hop: int | None = None,
                 sounding_db: float = SOUNDING_DB):
        self.targets = [t for t in targets if t.prefix_safe]
        self.n, self.sr = n_samples, sample_rate
        self.hop = hop or default_hop(sample_rate)
        self.sounding_db = sounding_db
        self.n_frames = max(1, -(-n_samples // self.hop))
        self.check_every = 4 * self.hop          # samples between checks (the generator's chunks can be 64)
        self.first_check = self._first_check()
        self.n_fft = None
        if any(t.name == "noisiness" for t in self.targets):
            # descriptors.spectral_features' default FFT size
            self.n_fft = 1 << int(np.ceil(np.log2(max(4 * self.hop, sample_rate * 0.04))))

    @property
    def active(self) -> bool:
        return bool(self.targets)

    def _first_check(self) -> int:
        """The first prefix length at which any target could be found hopeless (checks before are skipped)."""
        hop, sr, f = self.hop, self.sr, self.n_frames
        first = self.n
        for t in self.targets:
            if t.name == "sounding_seconds":
                if math.isfinite(t.high):               # more frames already sounding than allowed
                    first = min(first, (int(t.high * sr / hop) + 3) * hop)
                if math.isfinite(t.low):                # too few left to reach the minimum
                    first = min(first, max(0, f - int(math.ceil(t.low * sr / hop))) * hop)
            else:                                       # a median is bounded once over half the frames are known
                first = min(first, (f // 2 + 2) * hop)
        return int(max(0, first))

    def known_frames(self, t: int) -> int:
        """Loudness frames whose whole window [f·hop − hop/2, f·hop + 2·hop − hop/2) lies in the first t samples."""
        if t >= self.n:
            return self.n_frames
        return int(min(self.n_frames, max(0, (t - 2 * self.hop + self.hop // 2) // self.hop + 1)))

    def bounds(self, prefix: np.ndarray) -> dict[str, tuple[float, float]]:
        """{property: (lowest, highest) value the full clip can still have}."""
        t = len(prefix)
        k = self.known_frames(t)
        m = self.n_frames - k
        loud = frame_loudness_db(prefix, self.hop).astype(np.float64)[:k]
        sounding = loud >= self.sounding_db
        out: dict[str, tuple[float, float]] = {}
        for target in self.targets:
            if target.name == "sounding_seconds":
                c = int(sounding.sum())
                out["sounding_seconds"] = (c * self.hop / self.sr, (c + m) * self.hop / self.sr)
            elif target.name == "loudness":
                # No sounding frame known yet: the final value could still be anything.
                out["loudness"] = _median_bounds(loud[sounding], m, self.sounding_db, 0.0) if sounding.any() else (-80.0, 0.0)
            elif target.name == "noisiness":
                out["noisiness"] = self._noisiness(prefix, sounding, k)
        return out

    def _noisiness(self, prefix: np.ndarray, sounding: np.ndarray, k: int) -> tuple[float, float]:
        if not sounding.any():
            return 0.0, 1.0
        t = len(prefix)
        # STFT frame f (centred) covers [f·hop − n_fft/2, f·hop + n_fft/2): known once inside the prefix.
        k2 = min(k, max(0, (t - self.n_fft // 2) // self.hop + 1)) if t < self.n else k
        if k2 == 0:
            return 0.0, 1.0
        _, flat = spectral_features(prefix, self.sr, self.hop, self.n_fft)
        known = flat[:k2][sounding[:k2]]
        # frames past k2 (and the loudness frames not yet known) are unknown: values in [0, 1] or absent
        unknown = self.n_frames - k2
        if len(known) == 0:
            return 0.0, 1.0
        return _median_bounds(known.astype(np.float64), unknown, 0.0, 1.0)

    def hopeless(self, prefix: np.ndarray) -> tuple[list[str], dict]:
        """(reasons the clip can no longer meet its prefix-safe targets, the bounds)."""
        b = self.bounds(prefix)
        reasons = []
        for target in self.targets:
            lo, hi = b[target.name]
            scale = PROPERTIES[target.name][1]
            if hi < target.low - _EPS * scale:
                reasons.append(f"early: {target.name} at most {hi:.4g} < {target.low:g} after {len(prefix) / self.sr:.2f} s")
            elif lo > target.high + _EPS * scale:
                reasons.append(f"early: {target.name} at least {lo:.4g} > {target.high:g} after {len(prefix) / self.sr:.2f} s")
        return reasons, b


# ---- novelty ---------------------------------------------------------------------------------------
NOVELTY_VERSION = 1
_DESC_FEATURES = ("pitch", "voiced_fraction", "loudness", "log2_brightness", "log10_noisiness")
_INDEX_MEMO: dict[str, "NoveltyIndex"] = {}


SHIPPED_NOVELTY = Path(__file__).resolve().parents[2] / "assets" / "novelty"


def cache_dir() -> Path:
    """Where derived data is cached: ``$WAVENET_CACHE_DIR`` or ``~/.cache/wavenet-control-studio``."""
    return Path(os.environ.get("WAVENET_CACHE_DIR") or Path.home() / ".cache" / "wavenet-control-studio")


def _descriptor_vector(d: dict, pitch_fill: float) -> np.ndarray:
    pitch = d.get("pitch")
    return np.array([pitch_fill if pitch is None else pitch, d["voiced_fraction"], d["loudness"],
                     math.log2(max(d["brightness"], 1.0)), math.log10(d["noisiness"] + 1e-6)])


def embedding_features(audio: np.ndarray, sample_rate: int, descriptors: dict | None = None,
                       mfcc: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(descriptor features (5,) with pitch None as NaN, MFCC statistics (38,), descriptors)."""
    from ..measure.timbre import mfcc_stats

    hop = default_hop(sample_rate)
    d = descriptors if descriptors is not None else describe(audio, sample_rate, hop)
    m = mfcc if mfcc is not None else mfcc_stats(audio, sample_rate, hop)
    return _descriptor_vector(d, math.nan), np.asarray(m, dtype=np.float64), d


@dataclass
class NoveltyIndex:
    """Nearest-neighbour distance to a training corpus in a standardised feature space.

    Features of a clip: (a) five descriptors — pitch (MIDI; the corpus mean when none is found),
    voiced fraction, loudness (dB), log2 brightness, log10 noisiness — and (b) the mean and
    standard deviation of MFCC 1–19 over the frames above -50 dB (``measure.timbre.mfcc_stats``). Each
    feature is standardised by the corpus's mean and standard deviation; the distance between two
    clips is ``sqrt((mean of the squared z-differences of (a) + mean of those of (b)) / 2)`` — an
    RMS z-score in which descriptors and timbre weigh equally. Novelty = the distance to the
    nearest corpus clip: 0 for a training clip itself, about 1 for a clip one standard deviation
    away from its nearest neighbour in every feature.
    """
    desc: np.ndarray            # (N, 5) raw descriptor features of the corpus
    mfcc: np.ndarray            # (N, 38)
    names: list[str]
    params: dict
    mean: np.ndarray = field(init=False)
    std: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.pitch_fill = float(np.nanmean(self.desc[:, 0])) if np.isfinite(self.desc[:, 0]).any() else 60.0
        raw = self._raw(self.desc, self.mfcc)
        self.mean = raw.mean(axis=0)
        self.std = raw.std(axis=0) + 1e-9
        self._z = (raw - self.mean) / self.std
        nd = self.desc.shape[1]
        self._w = np.concatenate([np.full(nd, 0.5 / nd), np.full(raw.shape[1] - nd, 0.5 / (raw.shape[1] - nd))])

    def _raw(self, desc: np.ndarray, mfcc: np.ndarray) -> np.ndarray:
        desc = np.array(desc, dtype=np.float64, ndmin=2)
        desc[:, 0] = np.where(np.isfinite(desc[:, 0]), desc[:, 0], getattr(self, "pitch_fill", 60.0))
        return np.concatenate([desc, np.array(mfcc, dtype=np.float64, ndmin=2)], axis=1)

    def __len__(self) -> int:
        return len(self.names)

    def distances(self, desc: np.ndarray, mfcc: np.ndarray) -> np.ndarray:
        """Distances of one clip's features to every corpus clip."""
        z = (self._raw(desc, mfcc)[0] - self.mean) / self.std
        return np.sqrt(((self._z - z) ** 2) @ self._w)

    def novelty(self, audio: np.ndarray, sample_rate: int, descriptors: dict | None = None,
                mfcc: np.ndarray | None = None) -> tuple[float, str]:
        """(distance to the nearest corpus clip, that clip's name)."""
        if sample_rate != self.params["sample_rate"]:
            raise ValueError(f"Novelty index is for {self.params['sample_rate']} Hz audio, got {sample_rate} Hz.")
        desc, m, _ = embedding_features(audio, sample_rate, descriptors, mfcc)
        d = self.distances(desc, m)
        i = int(np.argmin(d))
        return float(d[i]), self.names[i]

    # -- building and caching --
    @classmethod
    def for_corpus(cls, *, sample_rate: int = 16000, seed: int = 0, size: int = 600, seconds: float = 1.5,
                   instruments: Sequence[str] | None = None, cache: bool | str | Path = True,
                   log: Callable[[str], None] | None = None) -> "NoveltyIndex":
        """The index of ``NoteCorpus(sample_rate, seed=seed, size=size, seconds=seconds)`` (the corpus
        ``wavenet train`` uses); built once (≈0.3 s of CPU per clip) and cached on disk keyed by these
        parameters, and kept in memory for the process."""
        from ..data.corpus import INSTRUMENTS, PITCH_RANGE, NoteCorpus

        params = {"version": NOVELTY_VERSION, "sample_rate": int(sample_rate), "hop": default_hop(sample_rate),
                  "seed": int(seed), "size": int(size), "seconds": float(seconds),
                  "instruments": list(instruments or INSTRUMENTS), "pitch_range": list(PITCH_RANGE)}
        key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        if key in _INDEX_MEMO:
            return _INDEX_MEMO[key]
        folder = None if cache is False else (cache_dir() if cache is True else Path(cache))
        path = None if folder is None else folder / f"novelty-{key}.npz"
        # The shipped models' index ships beside them (building it takes minutes of CPU).
        for found in ([] if path is None else [path]) + ([SHIPPED_NOVELTY / path.name] if cache is True else []):
            if found.is_file():
                try:
                    with np.load(found, allow_pickle=False) as z:
                        if json.loads(str(z["params"])) == params:
                            index = cls(z["desc"], z["mfcc"], [str(n) for n in z["names"]], params)
                            _INDEX_MEMO[key] = index
                            return index
                except (OSError, ValueError, KeyError):
                    pass            # a broken cache file is rebuilt
        corpus = NoteCorpus(sample_rate=sample_rate, hop_length=params["hop"], seed=seed, size=size, seconds=seconds,
                            instruments=tuple(params["instruments"]))
        desc, mfcc, names = [], [], []
        for i in range(size):
            ex = corpus.example(i)
            dv, mv, _ = embedding_features(ex.audio, sample_rate)
            desc.append(dv)
            mfcc.append(mv)
            names.append(ex.name)
            if log is not None and ((i + 1) % 50 == 0 or i + 1 == size):
                log(f"novelty index: {i + 1}/{size} corpus clips measured")
        index = cls(np.array(desc), np.array(mfcc), names, params)
        if path is not None:
            from ..audio_io import atomic_write_bytes

            def write(tmp):
                with open(tmp, "wb") as f:      # a file object: np.savez would append ".npz" to a path
                    np.savez(f, desc=index.desc, mfcc=index.mfcc, names=np.array(names), params=json.dumps(params))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, write)
        _INDEX_MEMO[key] = index
        return index


def corpus_params_for(name_or_path) -> dict | None:
    """The built-in corpus a checkpoint was trained on (from its training metadata), as keyword
    arguments of ``NoveltyIndex.for_corpus``; None when it was trained on other data."""
    from ..model.checkpoint import load_checkpoint_metadata

    meta = load_checkpoint_metadata(name_or_path)
    training = meta.get("training") or {}
    tc = training.get("train_config") or {}
    if tc.get("data", "corpus") != "corpus":
        return None
    cfg = meta.get("config") or {}
    return {"sample_rate": int(tc.get("sample_rate", cfg.get("sample_rate", 16000))), "seed": int(tc.get("seed", 0)),
            "size": int(tc.get("corpus_size", 600)), "seconds": float(tc.get("corpus_seconds", 1.5)),
            "instruments": training.get("instruments") or cfg.get("instrument_names") or None}


# ---- candidates and results ------------------------------------------------------------------------
@dataclass
class Candidate:
    """One generated candidate. ``status``: accepted (meets every target), rejected (complete,
    misses one), early_rejected (stopped when a prefix-safe target became impossible) or
    unfinished (stopped by the time budget or a cancel)."""
    index: int
    seed: int
    status: str = "unfinished"
    meets_targets: bool = False
    picked: bool = False
    rank: int | None = None            # 1-based position among the picks (accepted first, then closest)
    descriptors: dict | None = None    # describe() of the full clip (of the prefix when stopped early)
    novelty: float | None = None
    nearest: str | None = None
    timbre: str | None = None
    reasons: list[str] = field(default_factory=list)
    distance: float | None = None      # to the target box (0 inside), complete candidates only
    samples_generated: int = 0
    verified: bool = False             # regenerated at batch 1 from its seed; ``audio`` is that regeneration
    batch_mismatch: bool = False       # ... and it differed from the batched sample (then re-measured)
    bounds: dict | None = None         # prefix bounds at an early rejection
    audio: np.ndarray | None = field(default=None, repr=False)

    def values(self) -> dict:
        v = dict(self.descriptors or {})
        v["novelty"], v["timbre"] = self.novelty, self.timbre
        return v

    def to_dict(self, sample_rate: int) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "audio"}
        d["seconds_generated"] = self.samples_generated / sample_rate
        return json_safe(d)


@dataclass
class SamplingResult:
    """Everything a sampling run did: its picks, every candidate and what it all cost."""
    targets: list[Target]
    sample_rate: int
    n_samples: int
    seed: int
    temperature: float
    controls: dict
    keep: int
    max_candidates: int
    max_seconds: float | None
    early_rejection: bool
    candidates: list[Candidate] = field(default_factory=list)
    stop_reason: str = ""
    wall_seconds: float = 0.0
    generation_seconds: float = 0.0
    analysis_seconds: float = 0.0
    cpu_seconds: float = 0.0
    verification_seconds: float = 0.0
    verification_samples: int = 0
    model: str | None = None

    @property
    def picks(self) -> list[Candidate]:
        """The returned candidates: up to ``keep`` accepted ones (in seed order), topped up with the
        closest complete ones (nearest first) when fewer passed."""
        return sorted((c for c in self.candidates if c.picked), key=lambda c: c.rank)

    @property
    def accepted(self) -> list[Candidate]:
        return [c for c in self.candidates if c.meets_targets]

    @property
    def candidates_generated(self) -> int:
        return len(self.candidates)

    @property
    def samples_generated(self) -> int:
        return int(sum(c.samples_generated for c in self.candidates))

    @property
    def samples_without_early_rejection(self) -> int:
        """What the same candidates would have cost generated to full length (unfinished ones as they are)."""
        return int(sum(self.n_samples if c.status == "early_rejected" else c.samples_generated for c in self.candidates))

    @property
    def samples_saved(self) -> int:
        return self.samples_without_early_rejection - self.samples_generated

    @property
    def acceptance_rate(self) -> float:
        """Accepted / candidates judged (complete or early-rejected; unfinished ones excluded)."""
        judged = [c for c in self.candidates if c.status != "unfinished"]
        return len([c for c in judged if c.meets_targets]) / len(judged) if judged else 0.0

    def summary(self) -> dict:
        full = self.samples_without_early_rejection
        return {
            "candidates_generated": self.candidates_generated,
            "accepted": len(self.accepted), "picked": len(self.picks),
            "picks_meeting_targets": sum(c.meets_targets for c in self.picks),
            "early_rejected": sum(c.status == "early_rejected" for c in self.candidates),
            "unfinished": sum(c.status == "unfinished" for c in self.candidates),
            "acceptance_rate": self.acceptance_rate,
            "samples_generated": self.samples_generated,
            "verification_samples": self.verification_samples,
            "batch_mismatches": sum(c.batch_mismatch for c in self.candidates),
            "samples_without_early_rejection": full,
            "samples_saved": self.samples_saved,
            "saved_fraction": self.samples_saved / full if full else 0.0,
            "seconds_of_audio_generated": self.samples_generated / self.sample_rate,
            "wall_seconds": self.wall_seconds, "generation_seconds": self.generation_seconds,
            "analysis_seconds": self.analysis_seconds, "verification_seconds": self.verification_seconds,
            "cpu_seconds": self.cpu_seconds,
            "stop_reason": self.stop_reason,
        }

    def to_dict(self) -> dict:
        return json_safe({
            "model": self.model, "targets": [t.to_dict() for t in self.targets],
            "prefix_safe_targets": [t.name for t in self.targets if t.prefix_safe],
            "controls": self.controls, "seconds": self.n_samples / self.sample_rate, "sample_rate": self.sample_rate,
            "seed": self.seed, "temperature": self.temperature, "keep": self.keep,
            "budget": {"max_candidates": self.max_candidates, "max_seconds": self.max_seconds},
            "early_rejection": self.early_rejection, **self.summary(),
            "picks": [c.index for c in self.picks],
            "candidates": [c.to_dict(self.sample_rate) for c in self.candidates],
        })

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _controls_dict(controls) -> dict:
    out = {}
    for k, v in asdict(controls).items():
        if v is None or isinstance(v, (str, int, float, bool)):
            out[k] = v
        elif isinstance(v, dict):
            out[k] = {str(a): float(b) for a, b in v.items()}
        elif isinstance(v, np.ndarray):
            out[k] = f"<{len(v)} frames>"
        else:
            out[k] = str(v)
    return out


# ---- the sampler -----------------------------------------------------------------------------------
def timbre_classifier(names: Sequence[str], sample_rate: int, size: int = 120):
    """``measure.timbre.timbre_classifier`` at the sampler's hop, fitted on ``size`` corpus notes."""
    from ..measure.timbre import timbre_classifier as fitted

    return fitted(tuple(names), sample_rate, default_hop(sample_rate), size=size)


class RejectionSampler:
    """Generate candidates in batches until ``keep`` meet every target or the budget is spent.

    ``controls`` (a ``conditioning.Controls``) fixes whatever conditioning the user wants; fields
    left None stay free. Candidate i uses seed ``seed + i``; its audio is what a batch-1 run with
    that seed generates, sample for sample (``verify=True`` regenerates each pick to check it). ``novelty``: a ``NoveltyIndex`` (or
    True to build the one for ``model_name``'s training corpus); it is required by a novelty target
    and otherwise only reported. ``threads`` is handed to the fast generator.
    """

    def __init__(self, model, targets: Sequence[str | Target], *, controls=None, seconds: float | None = 1.0,
                 temperature: float = 1.0, keep: int = 4, max_candidates: int = 64, max_seconds: float | None = None,
                 seed: int = 0, batch: int = 16, early_rejection: bool = True, novelty=None,
                 model_name: str | None = None, threads: int | None = None, classifier_size: int = 120,
                 verify: bool = False, log: Callable[[str], None] | None = None):
        from dataclasses import replace

        from .conditioning import Controls, model_inputs

        cfg = model.config
        names = tuple(getattr(cfg, "instrument_names", ()) or ())
        self.targets = parse_targets(targets, names or None)
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive whole number; got {keep}.")
        if not isinstance(max_candidates, int) or max_candidates < 1:
            raise ValueError(f"max_candidates must be a positive whole number; got {max_candidates}.")
        if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
            raise ValueError(f"max_seconds must be a positive number of seconds; got {max_seconds}.")
        if not isinstance(batch, int) or not 1 <= batch <= 256:
            raise ValueError(f"batch must be between 1 and 256; got {batch}.")
        self.model, self.cfg = model, cfg
        self.controls = controls if controls is not None else Controls()
        if seconds is not None:
            self.controls = replace(self.controls, seconds=seconds)
        self.inputs = model_inputs(self.controls, cfg)
        self.n = self.inputs.n_samples
        self.sr = cfg.sample_rate
        for t in self.targets:
            if t.name == "sounding_seconds" and t.low > self.n / self.sr:
                raise ValueError(f"Target {t} can never be met by {self.n / self.sr:g} s clips; lower it or ask for longer clips.")
            if t.name == "timbre" and not names:
                raise ValueError("A timbre target needs a model with named instruments.")
        self.temperature, self.keep, self.max_candidates = float(temperature), keep, max_candidates
        self.max_seconds, self.seed, self.batch = max_seconds, int(seed), batch
        self.early_rejection, self.threads, self.log, self.verify = early_rejection, threads, log, verify
        self.model_name = model_name
        if novelty is True:
            params = corpus_params_for(model_name) if model_name else None
            if params is None:
                raise ValueError("No training corpus is known for this model, so novelty cannot be measured; "
                                 "leave the novelty target out.")
            novelty = NoveltyIndex.for_corpus(**params, log=log)
        if any(t.name == "novelty" for t in self.targets) and novelty is None:
            raise ValueError("A novelty target needs the training corpus's novelty index (novelty=True with a "
                             "shipped model, or a NoveltyIndex).")
        self.novelty_index = novelty
        self.classifier = (timbre_classifier(names, self.sr, classifier_size)
                           if any(t.name == "timbre" for t in self.targets) else None)
        self.judge = PrefixJudge(self.targets, self.n, self.sr)
        self.need_pitch = any(t.name in NEEDS_PITCH for t in self.targets) or novelty is not None

    # -- helpers --
    def seeds(self, start: int, count: int) -> list[int]:
        return [self.seed + i for i in range(start, start + count)]

    def regenerate(self, seed: int) -> np.ndarray:
        """A candidate's audio from its recorded seed: ``generate(model, inputs, seed=seed)`` at batch 1."""
        from ..generation.generate import generate
        return generate(self.model, self.inputs, temperature=self.temperature, seed=int(seed))[0]

    def measure(self, audio: np.ndarray) -> dict:
        """Every value a target can be set on: describe() + novelty + timbre."""
        hop = default_hop(self.sr)
        d = describe(audio, self.sr, hop, pitch=self.need_pitch)
        v = dict(d)
        v["novelty"] = v["nearest"] = v["timbre"] = None
        if self.novelty_index is not None:
            v["novelty"], v["nearest"] = self.novelty_index.novelty(audio, self.sr, d)
        if self.classifier is not None:
            v["timbre"] = self.classifier.predict(audio)
        return v

    def _next_batch(self, started: int, accepted: int, judged: int) -> int:
        """Batch size: the configured one, smaller near the end of the budget or when the acceptance
        seen so far says a few more candidates should do (1.5× the expected need, at least 4)."""
        size = min(self.batch, self.max_candidates - started)
        if judged:
            p = (accepted + 1) / (judged + 2)
            size = min(size, max(4, math.ceil(1.5 * (self.keep - accepted) / p)))
        return max(1, size)

    # -- the run --
    def run(self, progress: Callable[[int, int, dict], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> SamplingResult:
        """Sample until done. ``progress(candidates_started, max_candidates, summary)`` after each
        batch; ``cancel()`` returning True stops the run at the next chunk (partial result)."""
        from ..generation.fast import fast_classes
        from ..generation.inputs import check_generation_args, stream_uniforms
        from ..model.mulaw import mu_law_decode

        t_start, cpu_start = time.perf_counter(), time.process_time()
        deadline = None if self.max_seconds is None else t_start + self.max_seconds
        result = SamplingResult(self.targets, self.sr, self.n, self.seed, self.temperature, _controls_dict(self.controls),
                                self.keep, self.max_candidates, self.max_seconds, self.early_rejection, model=self.model_name)
        accepted = judged = 0
        cancelled = False
        while True:
            started = len(result.candidates)
            if accepted >= self.keep:
                result.stop_reason = "keep"
                break
            if started >= self.max_candidates:
                result.stop_reason = "max_candidates"
                break
            if deadline is not None and time.perf_counter() >= deadline:
                result.stop_reason = "max_seconds"
                break
            if cancelled or (cancel is not None and cancel()):
                result.stop_reason = "cancelled"
                break
            size = self._next_batch(started, accepted, judged)
            seeds = self.seeds(started, size)
            check_generation_args(self.n, self.temperature, seeds, self.sr)
            batch = [Candidate(index=started + i, seed=s) for i, s in enumerate(seeds)]
            stopped_at = np.full(size, self.n, dtype=np.int64)      # samples generated per stream
            alive = np.ones(size, dtype=bool)
            halted = {"budget": False}
            judging = self.early_rejection and self.judge.active
            decoded = np.zeros((size, self.n), np.float32) if judging else None
            state = {"decoded": 0, "checked": 0}

            def stop(t: int, classes: np.ndarray) -> np.ndarray | None:
                nonlocal cancelled
                halt = np.zeros(size, dtype=bool)
                over = deadline is not None and time.perf_counter() >= deadline
                if cancel is not None and cancel():
                    cancelled = True
                if over or cancelled:
                    halted["budget"] = True
                    halt[alive] = True
                elif judging and t >= self.judge.first_check and t - state["checked"] >= self.judge.check_every:
                    # decode only the new samples of the streams still running
                    rows = np.flatnonzero(alive)
                    decoded[rows, state["decoded"]:t] = mu_law_decode(classes[rows, state["decoded"]:t])
                    state["decoded"] = state["checked"] = t
                    for b in rows:
                        reasons, bounds = self.judge.hopeless(decoded[b, :t])
                        if reasons:
                            halt[b] = True
                            batch[b].status, batch[b].reasons = "early_rejected", reasons
                            batch[b].bounds = {k: list(v) for k, v in bounds.items()}
                stopped_at[halt] = t
                alive[halt] = False
                return halt if halt.any() else None

            t_gen = time.perf_counter()
            inputs = self.inputs.expand(size)
            classes = fast_classes(self.model, inputs, stream_uniforms(seeds, self.n), self.temperature,
                                   threads=self.threads, stop=stop)
            result.generation_seconds += time.perf_counter() - t_gen
            t_an = time.perf_counter()
            audio = mu_law_decode(classes)
            for b, cand in enumerate(batch):
                cand.samples_generated = int(stopped_at[b])
                if cand.status == "early_rejected":
                    part = audio[b, : stopped_at[b]]
                    cand.descriptors = describe(part, self.sr, pitch=False) if len(part) >= default_hop(self.sr) else None
                    judged += 1
                    continue
                if not alive[b]:
                    cand.status, cand.reasons = "unfinished", ["stopped: " + ("cancelled" if cancelled else "time budget spent")]
                    continue
                self._judge(cand, audio[b].copy())
                judged += 1
            result.candidates.extend(batch)
            result.analysis_seconds += time.perf_counter() - t_an
            if self.verify:
                self._verify_accepted(result)
            accepted = sum(c.meets_targets and (c.verified or not self.verify) for c in result.candidates)
            if self.log is not None:
                s = result.summary()
                self.log(f"{s['candidates_generated']} candidates: {s['accepted']} accepted, "
                         f"{s['early_rejected']} stopped early, {s['seconds_of_audio_generated']:.1f} s of audio generated")
            if progress is not None:
                progress(len(result.candidates), self.max_candidates, result.summary())
            if halted["budget"]:
                result.stop_reason = "cancelled" if cancelled else "max_seconds"
                if accepted < self.keep:
                    break
        self._pick(result)
        result.wall_seconds = time.perf_counter() - t_start
        result.cpu_seconds = time.process_time() - cpu_start
        return result

    def _judge(self, cand: Candidate, audio: np.ndarray) -> None:
        v = self.measure(audio)
        cand.audio = audio
        cand.novelty, cand.nearest, cand.timbre = v.pop("novelty"), v.pop("nearest"), v.pop("timbre")
        cand.descriptors = v
        cand.reasons = failed_targets(cand.values(), self.targets)
        cand.distance = distance_to_targets(cand.values(), self.targets)
        cand.meets_targets = not cand.reasons
        cand.status = "accepted" if cand.meets_targets else "rejected"

    def _verify(self, cand: Candidate, result: SamplingResult) -> None:
        """Regenerate ``cand`` from its seed at batch 1 — what a user reproducing it gets — and judge
        the regeneration if it differs. The fast kernel runs each stream's arithmetic the same way
        whatever its batch, so this is a check (``verify=True``), not a repair; it costs one batch-1
        generation per pick."""
        t0 = time.perf_counter()
        again = self.regenerate(cand.seed)
        result.verification_samples += self.n
        if not np.array_equal(again, cand.audio):
            cand.batch_mismatch = True
            self._judge(cand, again)
            cand.reasons.append("note: the batched sample differed from the batch-1 regeneration; judged on the regeneration")
        cand.verified = True
        result.verification_seconds += time.perf_counter() - t0

    def _verify_accepted(self, result: SamplingResult) -> None:
        """Verify accepted candidates in seed order until ``keep`` of them stand."""
        ok = sum(c.meets_targets and c.verified for c in result.candidates)
        for c in result.candidates:
            if ok >= self.keep:
                break
            if c.meets_targets and not c.verified:
                self._verify(c, result)
                ok += c.meets_targets

    def _pick(self, result: SamplingResult) -> None:
        """The first ``keep`` accepted candidates (in seed order); when fewer passed, the closest
        complete ones fill up the picks (nearest first), flagged ``meets_targets=False``. With
        ``verify``, every pick's audio is its batch-1 regeneration from its seed."""
        good = [c for c in result.candidates if c.meets_targets and (c.verified or not self.verify)][: self.keep]
        rest = sorted((c for c in result.candidates if c.status == "rejected"), key=lambda c: (c.distance, c.index))
        rest = rest[: self.keep - len(good)]
        if self.verify:
            for c in rest:
                if not c.verified:
                    self._verify(c, result)
            rest.sort(key=lambda c: (not c.meets_targets, c.distance, c.index))
        for rank, c in enumerate(good + rest, 1):
            c.picked, c.rank = True, rank


def rejection_sample(model, targets: Sequence[str | Target], **kwargs) -> SamplingResult:
    """``RejectionSampler(model, targets, **kwargs).run()``."""
    progress = kwargs.pop("progress", None)
    cancel = kwargs.pop("cancel", None)
    return RejectionSampler(model, targets, **kwargs).run(progress=progress, cancel=cancel)


# ---- comparing control methods ----------------------------------------------------------------------
@dataclass
class Goal:
    """What the user wants, e.g. "a note between G3 and D4 with the bell timbre"."""
    pitch: tuple[float, float] = (55.0, 62.0)
    instrument: str = "bell"

    @property
    def targets(self) -> list[Target]:
        return [Target("pitch", float(self.pitch[0]), float(self.pitch[1])), Target("timbre", label=self.instrument)]

    def __str__(self) -> str:
        return f"pitch {self.pitch[0]:g}..{self.pitch[1]:g} with the {self.instrument} timbre"


def compare_control_methods(model, goal: Goal | None = None, *, outputs: int = 4, seconds: float = 1.0,
                            max_candidates: int = 64, seed: int = 0, batch: int = 16, temperature: float = 1.0,
                            threads: int | None = None, classifier_size: int = 120,
                            methods: Sequence[str] = ("rejection", "conditioning", "both", "conditioning+verify"),
                            log: Callable[[str], None] | None = None) -> dict:
    """Cost and success of reaching one goal (pitch range + timbre) by each control method:

    * ``rejection`` — free generation (nothing conditioned), rejection on pitch and timbre;
    * ``conditioning`` — the timbre and the range's middle pitch conditioned, ``outputs`` takes, no rejection;
    * ``both`` — the timbre conditioned, rejection on pitch;
    * ``conditioning+verify`` — both conditioned, rejection on pitch and timbre (a check that
      conditioning did its job).

    Every output is re-measured against the whole goal (pitch by pYIN, timbre by the corpus-fitted
    nearest-centroid classifier). Returns {method: figures} with candidates, samples generated,
    wall and CPU seconds, outputs, the share of outputs meeting the goal and samples per good output.
    """
    from .conditioning import Controls

    goal = goal or Goal()
    mid = 0.5 * (goal.pitch[0] + goal.pitch[1])
    goal_targets = goal.targets
    plans = {
        "rejection": (Controls(), goal_targets),
        "conditioning": (Controls(instrument=goal.instrument, pitch=mid), None),
        "both": (Controls(instrument=goal.instrument), [goal_targets[0]]),
        "conditioning+verify": (Controls(instrument=goal.instrument, pitch=mid), goal_targets),
    }
    report = {"goal": str(goal), "targets": [str(t) for t in goal_targets], "outputs": outputs, "seconds": seconds,
              "max_candidates": max_candidates, "seed": seed, "methods": {}}
    # The judge: a sampler that measures against the whole goal (its classifier is shared by all).
    judge = RejectionSampler(model, goal_targets, seconds=seconds, keep=1, max_candidates=1, threads=threads,
                             classifier_size=classifier_size)
    for name in methods:
        controls, targets = plans[name]
        t0, c0 = time.perf_counter(), time.process_time()
        if targets is None:
            sampler = RejectionSampler(model, [goal_targets[0]], controls=controls, seconds=seconds, keep=outputs,
                                       max_candidates=outputs, seed=seed, batch=min(batch, outputs),
                                       temperature=temperature, threads=threads, early_rejection=False)
            from ..generation.generate import generate
            audio = generate(model, sampler.inputs, temperature=temperature, seed=sampler.seeds(0, outputs),
                             batch=outputs, method="fast")
            clips = list(audio)
            candidates, samples = outputs, outputs * sampler.n
        else:
            res = RejectionSampler(model, targets, controls=controls, seconds=seconds, keep=outputs,
                                   max_candidates=max_candidates, seed=seed, batch=batch, temperature=temperature,
                                   threads=threads, classifier_size=classifier_size).run()
            clips = [c.audio for c in res.picks]
            candidates, samples = res.candidates_generated, res.samples_generated
        gen_wall, gen_cpu = time.perf_counter() - t0, time.process_time() - c0
        measured = [judge.measure(a) for a in clips]
        verdicts = [not failed_targets(v, goal_targets) for v in measured]
        good = sum(verdicts)
        report["methods"][name] = {
            "conditioned": {k: v for k, v in _controls_dict(controls).items() if k in ("instrument", "pitch") and v is not None},
            "rejected_on": [str(t) for t in targets] if targets else [],
            "candidates": candidates, "samples_generated": samples, "wall_seconds": gen_wall, "cpu_seconds": gen_cpu,
            "outputs": len(clips), "meeting_goal": good, "share_meeting_goal": good / len(clips) if clips else 0.0,
            "samples_per_good_output": samples / good if good else None,
            "measured_outputs": [{"pitch": v["pitch"], "timbre": v["timbre"], "loudness": v["loudness"],
                                  "meets_goal": ok} for v, ok in zip(measured, verdicts)],
        }
        if log is not None:
            m = report["methods"][name]
            log(f"{name}: {m['meeting_goal']}/{m['outputs']} outputs meet the goal; {candidates} candidates, "
                f"{samples / model.config.sample_rate:.1f} s of audio, {gen_wall:.1f} s wall")
    return json_safe(report)
