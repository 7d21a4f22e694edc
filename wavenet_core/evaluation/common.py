"""What every evaluation shares: the seeds of its runs, when a clip counts as silent, and how runs
are combined into a mean with a 95 % confidence interval."""
from __future__ import annotations

import math

import numpy as np

N_SEEDS = 3
SEED_STRIDE = 1000                # run k's clip i uses seed + SEED_STRIDE·k + i
SILENT_DB = -50.0                 # a clip whose loudest frame is under this is silent
# Student t, 97.5th percentile, by degrees of freedom (n − 1 runs)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


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
