"""Reports, results and app details → plain JSON values (one converter for every module)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np


def json_safe(value, digits: int | None = None):
    """Dataclasses, dicts, sequences, numpy scalars and arrays → JSON values; NaN and ±inf → None
    (JSON has no such numbers); floats rounded to ``digits`` when given; anything else → its str."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value), digits)
    if isinstance(value, dict):
        return {str(k): json_safe(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, digits) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), digits)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if not math.isfinite(v) else (v if digits is None else round(v, digits))
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, str) or value is None:
        return value
    return str(value)
