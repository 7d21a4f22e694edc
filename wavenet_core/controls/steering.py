"""Steering: search an encoded clip's latent for a code whose decoded audio meets descriptor targets.

"This sound, but brighter and quieter": starting from ``encode(model, clip)``, look for a nearby
latent whose *decoded audio* lands inside every target range (``sampling.parse_target`` syntax,
e.g. ``brightness=1500..2500``), staying as close to the starting code as it can.

Method (derivative-free; every score is measured on real decoded audio, never on a proxy)
---------------------------------------------------------------------------------------
* **Search space** — offsets ``c`` (in corpus standard deviations) along the top ``directions``
  PCA directions shipped in the checkpoint, applied to every frame alike (exactly what the
  sliders of ``autoencoder.edit`` do): ``z = z0 + (c · std) @ components``. The latent distance
  moved is ``|c|`` (Euclidean, in corpus std units).
* **Seeds** — a candidate is judged on ``seeds`` sampling seeds (default 2: ``seed``, ``seed + 1``):
  it meets the targets only if its decode meets them on *every* seed, so a lucky sample does
  not count. Its distance is its worst seed's.
* **Generation 0** decodes the start latent (once per seed) to measure where the clip begins.
* **Generation 1** probes ± ``step`` along each direction (a coordinate line search around the
  start); later generations are a seeded (1+λ)-evolution strategy: λ = ``population`` Gaussian
  candidates around the best code so far, with the step size grown ×1.5 after an improvement
  and shrunk ×0.6 otherwise.
* **One batched call per generation** — all λ candidates × seeds are decoded together by the fast
  generator; on each seed every candidate uses the same sampling seed (common random numbers:
  candidates differ only by their latent, so the comparison is not swamped by sampling noise),
  then measured with ``descriptors.describe`` (pYIN only when a pitch/voicing target asks for it,
  or to check the held pitch of a candidate that meets every target).
* **Held properties** — what no target names among ``HELD`` (pitch 50 cents, voicing 0.1,
  noisiness raised by at most 0.05) is compared, seed by seed, with the start's decode on the same
  seed; the excess over each tolerance (in tolerances, worst seed) is the candidate's
  ``held_violation``. Noisiness is checked on every candidate; pitch and voicing (pYIN, the slow
  part) on candidates that meet every target.
* **Score** = worst-seed ``sampling.distance_to_targets`` (root sum of squares of each target's gap
  in its natural scale: 6 semitones, 10 dB, 1000 Hz, 0.1 flatness …; 0 inside) + held violation +
  ``penalty`` · ``|c|``. The search stops as soon as the best code meets every target and holds
  every untargeted property on every seed, so among codes that do it keeps the closest one it found.

Pitch-aware autoencoders (a decoder excitation): every candidate decodes with the *same* pitch
contour — the clip's own (``f0``, e.g. ``autoencoder.clip_f0``) or, without it, what the start
code's pitch probe reads — so steering timbre and level should not move the pitch; the held check
says whether it did. ``SteerResult.moved`` reports every held property (start, final, tolerance,
moved on any seed, and seed by seed); ``met`` = targets on every seed, ``held`` = nothing untargeted
moved, ``success`` = both.

Budget: ``budget`` decodes (each candidate costs one decode per seed, the start included) and/or
``max_seconds`` of wall time (checked between generations, so one generation may run past it).
With no time limit the result is a pure function of (model, latent, targets, seed, options).

Cancelling: ``cancel()`` is checked between generations and inside every decode. A cancelled
search returns its best-so-far result with ``stopped == "cancelled"``; only a cancel during the
very first decode (nothing measured yet) raises ``generate.Cancelled``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .autoencoder import check_autoencoder, check_latent, decode, latent_f0, principal_directions
from ..measure.descriptors import describe
from .sampling import Target, distance_to_targets, failed_targets, parse_targets

# targets steering can measure on one decoded clip (novelty needs a corpus index, timbre a classifier)
STEERABLE: tuple[str, ...] = ("pitch", "loudness", "brightness", "noisiness", "voiced_fraction", "onset_rate",
                              "sounding_seconds")
PITCHED = ("pitch", "voiced_fraction")
# untargeted properties a result reports on: name -> tolerance (pitch in semitones)
HELD: dict[str, float] = {"pitch": 0.5, "voiced_fraction": 0.1, "noisiness": 0.05}
RAISE_ONLY = ("noisiness",)      # held properties where only a rise counts (a cleaner sound is no harm)
DEFAULT_SEEDS = 2                # sampling seeds every candidate is judged on
GROW, SHRINK, MAX_STEP, MIN_STEP = 1.5, 0.6, 4.0, 0.05


@dataclass
class SteerStep:
    """The best code after one generation."""
    step: int                    # generation (0 = the start latent)
    decodes: int                 # decodes used so far
    latent_distance: float       # |c| of the best code, corpus std units
    distance: float              # its distance to the target region (0 = all met)
    descriptors: dict            # measured on its decoded audio
    step_size: float             # the search's step size after this generation
    held_violation: float = 0.0  # how far its untargeted properties strayed, in tolerances (0 = held)

    def to_dict(self) -> dict:
        return {"step": self.step, "decodes": self.decodes, "latent_distance": self.latent_distance,
                "distance": self.distance, "held_violation": self.held_violation,
                "descriptors": self.descriptors, "step_size": self.step_size}


@dataclass
class Candidate:
    """One latent decoded on every seed: audio and descriptors per seed, its worst seed's distance to
    the targets, and how far its held properties strayed (in tolerances, worst seed)."""
    audio: list
    descriptors: list[dict]
    distance: float
    violation: float


@dataclass
class SteerResult:
    targets: list[Target]
    met: bool                     # every target met by the final audio
    distance: float               # final distance to the target region (0 when met)
    start_distance: float
    latent_distance: float        # how far the final code moved, corpus std units
    offsets: np.ndarray           # final offsets c along the searched directions (std units)
    latent: np.ndarray            # final latent (frames, dims)
    audio: np.ndarray             # its decoded audio (what was measured)
    start_audio: np.ndarray
    descriptors: dict             # measured on ``audio``
    start_descriptors: dict
    path: list[SteerStep]
    candidates: list[tuple[int, float, float]] = field(default_factory=list)   # (step, latent_distance, distance)
    decodes: int = 0
    budget: int = 0
    seconds: float = 0.0
    stopped: str = "budget"       # "met" | "budget" | "time" | "cancelled"
    seed: int = 0
    directions: int = 0
    sample_rate: int = 16000
    moved: dict = field(default_factory=dict)   # untargeted property -> {start, final, tolerance, moved, per_seed}
    seeds: list = field(default_factory=list)   # sampling seeds every candidate was judged on
    held_violation: float = 0.0                 # the search's view of the final code's held properties (0 = held)
    descriptors_per_seed: list = field(default_factory=list)
    start_descriptors_per_seed: list = field(default_factory=list)
    met_per_seed: list = field(default_factory=list)

    @property
    def moved_untargeted(self) -> list[str]:
        """Properties the search was not asked to change that moved past their tolerance."""
        return [name for name, m in self.moved.items() if m["moved"]]

    @property
    def held(self) -> bool:
        """True when no untargeted property moved past its tolerance on any seed."""
        return not self.moved_untargeted

    @property
    def success(self) -> bool:
        """Every target met on every seed and every untargeted property held on every seed."""
        return self.met and self.held

    @property
    def closest(self) -> bool:
        """True when the targets were not met: the result is the closest code found."""
        return not self.met

    @property
    def failed(self) -> list[str]:
        return failed_targets(self.descriptors, self.targets)

    def to_dict(self) -> dict:
        return {"targets": [t.to_dict() for t in self.targets], "met": self.met, "closest": self.closest,
                "distance": self.distance, "start_distance": self.start_distance, "failed": self.failed,
                "latent_distance": self.latent_distance, "offsets": [float(c) for c in self.offsets],
                "descriptors": self.descriptors, "start_descriptors": self.start_descriptors,
                "decodes": self.decodes, "budget": self.budget, "seconds": round(self.seconds, 3),
                "stopped": self.stopped, "seed": self.seed, "directions": self.directions,
                "moved": self.moved, "moved_untargeted": self.moved_untargeted, "held": self.held,
                "success": self.success, "seeds": list(self.seeds), "met_per_seed": list(self.met_per_seed),
                "held_violation": self.held_violation, "descriptors_per_seed": self.descriptors_per_seed,
                "start_descriptors_per_seed": self.start_descriptors_per_seed,
                "frames": int(self.latent.shape[0]), "sample_rate": self.sample_rate,
                "path": [s.to_dict() for s in self.path],
                "candidates": [{"step": s, "latent_distance": d, "distance": g} for s, d, g in self.candidates]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def steering_targets(texts: Sequence[str | Target]) -> list[Target]:
    """Parse targets (``sampling.parse_target`` syntax) and refuse those steering cannot measure."""
    targets = parse_targets(texts)
    if not targets:
        raise ValueError("Give at least one target, e.g. brightness=1500..2500.")
    for t in targets:
        if t.name not in STEERABLE:
            raise ValueError(f"Target {t}: steering cannot measure {t.name}; use {', '.join(STEERABLE)}.")
    return targets


def _measure(audio: np.ndarray, sample_rate: int, pitch: bool) -> dict:
    d = describe(audio, sample_rate, pitch=pitch)
    return {k: (None if v is None else float(v)) for k, v in d.items()}


def held_violation(start: dict, final: dict, held: dict[str, float], pitch: bool = True) -> float:
    """How far ``final`` strays from ``start`` on the held properties, in tolerances (0 = held):
    Σ max(0, |Δ| − tol) / tol for pitch and voicing, max(0, Δ − tol) / tol for noisiness (only a
    rise counts); a pitch found in one clip and not the other counts 1. ``pitch=False`` skips the
    properties that need pYIN (``final`` was measured without it)."""
    total = 0.0
    for name, tol in held.items():
        if name in PITCHED and not pitch:
            continue
        a, b = start.get(name), final.get(name)
        if (a is None) != (b is None):
            total += 1.0
        elif a is not None:
            change = float(b) - float(a)
            total += max(0.0, (change if name in RAISE_ONLY else abs(change)) - tol) / tol
    return total


def held_properties(start: dict, final: dict, targets: Sequence[Target]) -> dict:
    """Start vs final on the ``HELD`` properties that no target names: {name: {start, final,
    tolerance, moved}}; a pitch found in one clip and not the other counts as moved, and noisiness
    counts as moved only when it rose past its tolerance."""
    named = {t.name for t in targets}
    out = {}
    for name, tol in HELD.items():
        if name in named:
            continue
        a, b = start.get(name), final.get(name)
        moved = held_violation(start, final, {name: tol}) > 0
        out[name] = {"start": a, "final": b, "tolerance": tol, "moved": bool(moved)}
    return out


def decode_seeds(seed: int, seeds: int) -> list[int]:
    """The sampling seeds every candidate is decoded with: ``seed``, ``seed + 1``, … (``seeds`` of them)."""
    if not 1 <= int(seeds) <= 8:
        raise ValueError(f"seeds {seeds} must be between 1 and 8 (decodes per candidate).")
    return [int(seed) + k for k in range(int(seeds))]


def steer(model, latent: np.ndarray, targets: Sequence[str | Target], *, budget: int = 32,
          max_seconds: float | None = None, seed: int = 0, seeds: int = DEFAULT_SEEDS, population: int = 8,
          directions: int = 4, step: float = 1.0, penalty: float = 0.05, temperature: float = 1.0,
          method: str | None = None, progress: Callable[[int, int], None] | None = None,
          cancel: Callable[[], bool] | None = None, f0: np.ndarray | None = None) -> SteerResult:
    """Search the PCA span around ``latent`` for a code whose decoded audio meets ``targets`` on
    every one of ``seeds`` sampling seeds (``decode_seeds(seed, seeds)``) while the untargeted
    ``HELD`` properties stay within their tolerances on every seed.

    ``budget``: decodes at most — each candidate costs one decode per seed, the start included
    (≥ 2·seeds); ``max_seconds``: wall-time limit (None: none); ``population``: candidates decoded
    together per generation; ``directions``: how many top principal directions are searched;
    ``step``: first step size in corpus std; ``penalty``: score per std moved;
    ``progress(decodes_used, budget)`` after every generation; ``cancel()`` → True stops (see the
    module notes). ``result.audio`` is seed ``seed``'s decode: ``decode(model, result.latent,
    seed=seed, temperature=temperature, f0=<the same f0>)`` reproduces it. ``f0`` (pitch-aware
    autoencoders): the pitch every candidate is decoded with (Hz per latent frame); None holds what
    the start code's pitch probe reads.
    """
    from ..generation.inputs import Cancelled

    model = check_autoencoder(model)
    targets = steering_targets(targets)
    z0 = check_latent(model, latent).astype(np.float64)
    budget, population = int(budget), int(population)
    seed_list = decode_seeds(seed, seeds)
    n_seeds = len(seed_list)
    if budget < 2 * n_seeds:
        raise ValueError(f"budget {budget} is too small: steering on {n_seeds} seed(s) needs at least "
                         f"{2 * n_seeds} decodes (the start and one candidate, each on every seed).")
    if population < 1:
        raise ValueError(f"population {population} must be at least 1.")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds {max_seconds} must be positive (or None for no time limit).")
    if not (math.isfinite(step) and step > 0 and math.isfinite(penalty) and penalty >= 0):
        raise ValueError("step must be > 0 and penalty >= 0.")
    _, comps, std = principal_directions(model)
    k = max(1, min(int(directions), len(std)))
    basis = std[:k, None] * comps[:k]                      # (k, dims): one std along each searched direction
    sr = model.config.sample_rate
    named = {t.name for t in targets}
    held = {name: tol for name, tol in HELD.items() if name not in named}
    pitch_targeted = any(t.name in PITCHED for t in targets)
    pitch_held = any(name in PITCHED for name in held)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    used = 0
    held_f0 = None
    if model.decoder.config.excitation_dim:          # one pitch for every candidate: steering cannot move it
        held_f0 = latent_f0(model, z0.astype(np.float32)) if f0 is None else np.asarray(f0, dtype=np.float32)
    start_per_seed: list[dict] = []

    def latent_of(c: np.ndarray) -> np.ndarray:
        return (z0 + c @ basis).astype(np.float32)

    def run(cs: list[np.ndarray], first: bool = False) -> list[Candidate]:
        """Decode every candidate on every seed (one batched call) and judge it on its worst seed."""
        nonlocal used
        audio = decode(model, [latent_of(c) for c in cs for _ in seed_list], temperature=temperature,
                       seed=[s for _ in cs for s in seed_list], method=method, cancel=cancel,
                       f0=None if held_f0 is None else [held_f0] * (len(cs) * n_seeds))
        used += len(cs) * n_seeds
        out = []
        for i in range(len(cs)):
            clips = list(audio[i * n_seeds:(i + 1) * n_seeds])
            # the start is always measured with pYIN: it is the reference the held pitch is checked against
            ds = [_measure(a, sr, pitch_targeted or first) for a in clips]
            dist = max(distance_to_targets(d, targets) for d in ds)
            violation = 0.0
            if not first and held:
                with_pitch = pitch_targeted
                if dist == 0 and pitch_held and not with_pitch:
                    # meets every target on every seed: now check the held pitch and voicing (pYIN) too
                    ds, with_pitch = [_measure(a, sr, True) for a in clips], True
                violation = max(held_violation(s0, d, held, pitch=with_pitch) for s0, d in zip(start_per_seed, ds))
            out.append(Candidate(clips, ds, dist, violation))
        return out

    def score(c: np.ndarray, cand: "Candidate") -> float:
        return cand.distance + cand.violation + penalty * float(np.linalg.norm(c))

    best_c = np.zeros(k)
    start, = run([best_c], first=True)      # a cancel here raises: nothing to return yet
    start_per_seed = start.descriptors
    best = start
    best_score = score(best_c, start)
    sigma = float(step)
    path = [SteerStep(0, used, 0.0, start.distance, start.descriptors[0], sigma, 0.0)]
    candidates = [(0, 0.0, start.distance + start.violation)]
    stopped = "met" if start.distance == 0 else "budget"
    if progress:
        progress(used, budget)
    generation = 0
    while stopped != "met" and used + n_seeds <= budget:
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            stopped = "time"
            break
        if cancel is not None and cancel():
            stopped = "cancelled"
            break
        generation += 1
        lam = min(population, (budget - used) // n_seeds)
        if generation == 1:
            # a coordinate line search around the start: ± step along each direction, strongest first
            probes = [s * sigma * np.eye(k)[i] for i in range(k) for s in (1, -1)]
            extra = [best_c + sigma * rng.standard_normal(k) for _ in range(max(0, lam - len(probes)))]
            cs = (probes + extra)[:lam]
        else:
            cs = [best_c + sigma * rng.standard_normal(k) for _ in range(lam)]
        try:
            measured = run(cs)
        except Cancelled:
            stopped = "cancelled"
            break
        scores = [score(c, m) for c, m in zip(cs, measured)]
        candidates += [(generation, float(np.linalg.norm(c)), m.distance + m.violation) for c, m in zip(cs, measured)]
        i = int(np.argmin(scores))
        if scores[i] < best_score:
            best_c, best, best_score = cs[i], measured[i], scores[i]
            sigma = min(MAX_STEP, sigma * GROW)
        else:
            sigma = max(MIN_STEP, sigma * SHRINK)
        path.append(SteerStep(generation, used, float(np.linalg.norm(best_c)), best.distance, best.descriptors[0],
                              sigma, best.violation))
        if progress:
            progress(used, budget)
        if best.distance == 0 and best.violation == 0:
            stopped = "met"
    # What the search was not asked to change, on every seed, measured with pitch on both ends.
    final_per_seed = [_measure(a, sr, True) for a in best.audio]
    per_seed = [held_properties(s0, d, targets) for s0, d in zip(start_per_seed, final_per_seed)]
    moved = {name: {**per_seed[0][name], "moved": any(p[name]["moved"] for p in per_seed),
                    "per_seed": [{"seed": s, "start": p[name]["start"], "final": p[name]["final"],
                                  "moved": p[name]["moved"]} for s, p in zip(seed_list, per_seed)]}
             for name in per_seed[0]}
    met_per_seed = [distance_to_targets(d, targets) == 0 for d in best.descriptors]
    return SteerResult(targets=targets, met=best.distance == 0, distance=best.distance, start_distance=start.distance,
                       latent_distance=float(np.linalg.norm(best_c)), offsets=np.asarray(best_c, dtype=np.float64),
                       latent=latent_of(best_c), audio=np.asarray(best.audio[0], dtype=np.float32),
                       start_audio=np.asarray(start.audio[0], dtype=np.float32), descriptors=best.descriptors[0],
                       start_descriptors=start.descriptors[0], path=path, candidates=candidates, decodes=used,
                       budget=budget, seconds=time.perf_counter() - t0, stopped=stopped, seed=int(seed),
                       directions=k, sample_rate=sr, moved=moved, seeds=seed_list, held_violation=best.violation,
                       descriptors_per_seed=final_per_seed, start_descriptors_per_seed=start_per_seed,
                       met_per_seed=met_per_seed)
