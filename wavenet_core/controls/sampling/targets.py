"""Sampling targets: ranges on descriptors (``pitch=55..62``), a timbre (``timbre=bell``) or
novelty; parsing with one-line refusals, and the distance of measured values to the targets."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

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
        from ..conditioning import parse_note
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
