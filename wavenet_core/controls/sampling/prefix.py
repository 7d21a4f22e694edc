"""Early rejection: bounds on a clip's prefix-safe properties from its first samples.

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

import math
from typing import Sequence

import numpy as np

from ...measure.descriptors import SOUNDING_DB, default_hop, frame_loudness_db, spectral_features
from .targets import PROPERTIES, Target

BOUND_EPS = 1e-9            # early rejection needs the bound to miss by more than this (float noise)


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
            if hi < target.low - BOUND_EPS * scale:
                reasons.append(f"early: {target.name} at most {hi:.4g} < {target.low:g} after {len(prefix) / self.sr:.2f} s")
            elif lo > target.high + BOUND_EPS * scale:
                reasons.append(f"early: {target.name} at least {lo:.4g} > {target.high:g} after {len(prefix) / self.sr:.2f} s")
        return reasons, b
