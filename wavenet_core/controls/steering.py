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
* **Generation 0** decodes the start latent (1 decode) to measure where the clip begins.
* **Generation 1** probes ± ``step`` along each direction (a coordinate line search around the
  start); later generations are a seeded (1+λ)-evolution strategy: λ = ``population`` Gaussian
  candidates around the best code so far, with the step size grown ×1.5 after an improvement
  and shrunk ×0.6 otherwise.
* **One batched call per generation** — all λ candidates are decoded together by the fast
  generator with the *same* sampling seed (common random numbers: candidates differ only by
  their latent, so the comparison is not swamped by sampling noise), then measured with
  ``descriptors.describe`` (pYIN only when a pitch/voicing target asks for it).
* **Score** = ``sampling.distance_to_targets`` (root sum of squares of each target's gap in its
  natural scale: 6 semitones, 10 dB, 1000 Hz, 0.1 flatness …; 0 inside) + ``penalty`` · ``|c|``.
  The search stops as soon as the best code meets every target, so among codes that do it keeps
  the closest one it found.

Pitch-aware autoencoders (a decoder excitation): every candidate decodes with the *same* pitch
contour — the clip's own (``f0``, e.g. ``autoencoder.clip_f0``) or, without it, what the start
code's pitch probe reads — so steering timbre and level cannot move the pitch. Whatever the
search was not asked to change is reported: ``SteerResult.moved`` compares the start and the
final audio on pitch (50 cents), voicing (0.1) and noisiness (0.05) — the properties in
``HELD`` not named by a target — and says which moved past its tolerance.

Budget: ``budget`` decodes (each decoded candidate counts one, the start included) and/or
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

    def to_dict(self) -> dict:
        return {"step": self.step, "decodes": self.decodes, "latent_distance": self.latent_distance,
                "distance": self.distance, "descriptors": self.descriptors, "step_size": self.step_size}


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
    moved: dict = field(default_factory=dict)   # untargeted property -> {start, final, tolerance, moved}

    @property
    def moved_untargeted(self) -> list[str]:
        """Properties the search was not asked to change that moved past their tolerance."""
        return [name for name, m in self.moved.items() if m["moved"]]

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
                "moved": self.moved, "moved_untargeted": self.moved_untargeted,
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


def held_properties(start: dict, final: dict, targets: Sequence[Target]) -> dict:
    """Start vs final on the ``HELD`` properties that no target names: {name: {start, final,
    tolerance, moved}}; a pitch found in one clip and not the other counts as moved."""
    named = {t.name for t in targets}
    out = {}
    for name, tol in HELD.items():
        if name in named:
            continue
        a, b = start.get(name), final.get(name)
        moved = (a is None) != (b is None) or (a is not None and abs(float(b) - float(a)) > tol)
        out[name] = {"start": a, "final": b, "tolerance": tol, "moved": bool(moved)}
    return out


def steer(model, latent: np.ndarray, targets: Sequence[str | Target], *, budget: int = 32,
          max_seconds: float | None = None, seed: int = 0, population: int = 8, directions: int = 4,
          step: float = 1.0, penalty: float = 0.05, temperature: float = 1.0, method: str | None = None,
          progress: Callable[[int, int], None] | None = None,
          cancel: Callable[[], bool] | None = None, f0: np.ndarray | None = None) -> SteerResult:
    """Search the PCA span around ``latent`` for a code whose decoded audio meets ``targets``.

    ``budget``: decodes at most (≥ 2: the start plus one candidate); ``max_seconds``: wall-time
    limit (None: none); ``population``: candidates decoded together per generation;
    ``directions``: how many top principal directions are searched; ``step``: first step size
    in corpus std; ``penalty``: score per std moved; ``progress(decodes_used, budget)`` after
    every generation; ``cancel()`` → True stops (see the module notes). Decoding uses sampling
    seed ``seed`` for every candidate, so the final audio is reproduced by
    ``decode(model, result.latent, seed=seed, temperature=temperature, f0=<the same f0>)``.
    ``f0`` (pitch-aware autoencoders): the pitch every candidate is decoded with (Hz per latent
    frame); None holds what the start code's pitch probe reads.
    """
    from ..generation.inputs import Cancelled

    model = check_autoencoder(model)
    targets = steering_targets(targets)
    z0 = check_latent(model, latent).astype(np.float64)
    budget, population = int(budget), int(population)
    if budget < 2:
        raise ValueError(f"budget {budget} is too small: steering needs at least 2 decodes (the start and one candidate).")
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
    pitch = any(t.name in PITCHED for t in targets)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    used = 0
    held_f0 = None
    if model.decoder.config.excitation_dim:          # one pitch for every candidate: steering cannot move it
        held_f0 = latent_f0(model, z0.astype(np.float32)) if f0 is None else np.asarray(f0, dtype=np.float32)

    def latent_of(c: np.ndarray) -> np.ndarray:
        return (z0 + c @ basis).astype(np.float32)

    def run(cs: list[np.ndarray]) -> list[tuple[np.ndarray, dict, float]]:
        nonlocal used
        audio = decode(model, [latent_of(c) for c in cs], temperature=temperature, seed=seed, method=method,
                       cancel=cancel, f0=None if held_f0 is None else [held_f0] * len(cs))
        used += len(cs)
        out = []
        for c, a in zip(cs, audio):
            d = _measure(a, sr, pitch)
            out.append((a, d, distance_to_targets(d, targets)))
        return out

    def score(c: np.ndarray, dist: float) -> float:
        return dist + penalty * float(np.linalg.norm(c))

    best_c = np.zeros(k)
    (start_audio, start_desc, start_dist), = run([best_c])      # a cancel here raises: nothing to return yet
    best = (start_audio, start_desc, start_dist)
    best_score = score(best_c, start_dist)
    sigma = float(step)
    path = [SteerStep(0, used, 0.0, start_dist, start_desc, sigma)]
    candidates = [(0, 0.0, start_dist)]
    stopped = "met" if start_dist == 0 else "budget"
    if progress:
        progress(used, budget)
    generation = 0
    while stopped != "met" and used < budget:
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            stopped = "time"
            break
        if cancel is not None and cancel():
            stopped = "cancelled"
            break
        generation += 1
        lam = min(population, budget - used)
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
        scores = [score(c, dist) for c, (_, _, dist) in zip(cs, measured)]
        candidates += [(generation, float(np.linalg.norm(c)), m[2]) for c, m in zip(cs, measured)]
        i = int(np.argmin(scores))
        if scores[i] < best_score:
            best_c, best, best_score = cs[i], measured[i], scores[i]
            sigma = min(MAX_STEP, sigma * GROW)
        else:
            sigma = max(MIN_STEP, sigma * SHRINK)
        path.append(SteerStep(generation, used, float(np.linalg.norm(best_c)), best[2], best[1], sigma))
        if progress:
            progress(used, budget)
        if best[2] == 0:
            stopped = "met"
    audio, desc, dist = best
    # What the search was not asked to change, measured with pitch on both ends (2 pYIN runs).
    moved = held_properties(_measure(start_audio, sr, True), _measure(audio, sr, True), targets)
    return SteerResult(targets=targets, met=dist == 0, distance=dist, start_distance=start_dist,
                       latent_distance=float(np.linalg.norm(best_c)), offsets=np.asarray(best_c, dtype=np.float64),
                       latent=latent_of(best_c), audio=np.asarray(audio, dtype=np.float32),
                       start_audio=np.asarray(start_audio, dtype=np.float32), descriptors=desc,
                       start_descriptors=start_desc, path=path, candidates=candidates, decodes=used, budget=budget,
                       seconds=time.perf_counter() - t0, stopped=stopped, seed=int(seed), directions=k,
                       sample_rate=sr, moved=moved)
