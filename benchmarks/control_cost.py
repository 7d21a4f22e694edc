"""What control costs: rejection sampling vs conditioning, and what early rejection saves.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/control_cost.py             # full run (minutes)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/control_cost.py --quick     # smaller budgets
    .venv/bin/python benchmarks/control_cost.py --out control_cost.json       # also write the figures as JSON

With a shipped model (default ``notes``) and 1-second candidates:

1. **calibration** — a set of free candidates (seeds 10000+, never reused below) is measured; it
   fixes a brightness window holding the middle quarter of them (a target with ~25 % acceptance)
   and a loudness target "at least 6 dB louder than the median candidate" (one that rejects most);
2. **keep 4 at ~25 % acceptance** — ``RejectionSampler(keep=4)`` on the brightness window, timed
   (wall and CPU seconds; the compiled kernel is loaded before the clock starts);
3. **early rejection** — the loudness window, the same seeds with and without early rejection:
   samples generated, the share saved, and a check that both runs accepted exactly the same
   candidates;
4. **control methods** — ``compare_control_methods`` for "a note between G3 and D4 with the bell
   timbre": rejection from free generation, conditioning, both, conditioning + verification.

Timing: "wall" is elapsed time, "cpu" the process's CPU time (all threads); on a machine shared
with other jobs the CPU figure is the one to compare (a starved process waits, it does not compute).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wavenet_core import load_model  # noqa: E402
from wavenet_core.generation import fast  # noqa: E402
from wavenet_core.controls.sampling import Goal, RejectionSampler, compare_control_methods  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def calibrate(model, n: int, seconds: float) -> dict:
    """Descriptors of n free candidates (no target can reject: loudness -80..0)."""
    res = RejectionSampler(model, ["loudness=-80..0"], seconds=seconds, keep=n, max_candidates=n, batch=16,
                           seed=10000).run()
    bright = np.array([c.descriptors["brightness"] for c in res.candidates])
    loud = np.array([c.descriptors["loudness"] for c in res.candidates])
    b_lo, b_hi = np.quantile(bright, [0.375, 0.625])
    # "a loud note": 6 dB above the median candidate, up to full scale
    l_lo, l_hi = float(np.median(loud)) + 6.0, 0.0
    return {"candidates": n, "brightness": sorted(bright.round(1).tolist()), "loudness": sorted(loud.round(2).tolist()),
            "brightness_target": f"brightness={b_lo:.1f}..{b_hi:.1f}",
            "brightness_share": float(np.mean((bright >= round(b_lo, 1)) & (bright <= round(b_hi, 1)))),
            "loudness_target": f"loudness={l_lo:.2f}..{l_hi:.2f}",
            "loudness_share": float(np.mean((loud >= round(l_lo, 2)) & (loud <= round(l_hi, 2)))),
            "cpu_seconds": res.cpu_seconds, "wall_seconds": res.wall_seconds}


def keep_four(model, target: str, seconds: float, max_candidates: int) -> dict:
    res = RejectionSampler(model, [target], seconds=seconds, keep=4, max_candidates=max_candidates, batch=16,
                           seed=0).run()
    s = res.summary()
    return {"target": target, **{k: s[k] for k in ("candidates_generated", "accepted", "acceptance_rate",
                                                    "samples_generated", "saved_fraction", "wall_seconds",
                                                    "generation_seconds", "analysis_seconds",
                                                    "verification_seconds", "batch_mismatches", "cpu_seconds",
                                                    "stop_reason")}}


def early_rejection(model, target: str, seconds: float, keep: int, max_candidates: int) -> dict:
    out = {"target": target}
    runs = {}
    for flag in (False, True):
        res = RejectionSampler(model, [target], seconds=seconds, keep=keep, max_candidates=max_candidates, batch=16,
                               seed=0, early_rejection=flag).run()
        runs[flag] = res
        s = res.summary()
        out["with" if flag else "without"] = {k: s[k] for k in ("candidates_generated", "accepted", "early_rejected",
                                                                 "samples_generated", "wall_seconds", "cpu_seconds")}
    full, early = runs[False], runs[True]
    out["same_candidates_accepted"] = [c.seed for c in full.accepted] == [c.seed for c in early.accepted]
    out["saved_fraction"] = 1 - early.samples_generated / full.samples_generated
    out["saved_fraction_of_rejected"] = (early.samples_saved /
                                         max(1, sum(early.n_samples for c in early.candidates if not c.meets_targets)))
    out["wall_ratio"] = early.wall_seconds / full.wall_seconds
    out["cpu_ratio"] = early.cpu_seconds / full.cpu_seconds
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="notes")
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--quick", action="store_true", help="smaller calibration set and budgets")
    p.add_argument("--skip-methods", action="store_true", help="leave out the control-method comparison")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    report = {"model": args.model, "seconds": args.seconds, "kernel_load_seconds": fast.warmup()}
    n_cal = 16 if args.quick else 48
    log(f"calibrating on {n_cal} free candidates …")
    report["calibration"] = cal = calibrate(model, n_cal, args.seconds)
    log(f"  {cal['brightness_target']} holds {100 * cal['brightness_share']:.0f} %, "
        f"{cal['loudness_target']} holds {100 * cal['loudness_share']:.0f} % of them")
    log("keep 4 at ~25 % acceptance …")
    report["keep_four"] = k4 = keep_four(model, cal["brightness_target"], args.seconds, 32 if args.quick else 64)
    log(f"  {k4['accepted']} accepted of {k4['candidates_generated']} ({100 * k4['acceptance_rate']:.0f} %): "
        f"{k4['wall_seconds']:.1f} s wall, {k4['cpu_seconds']:.1f} s CPU")
    log("early rejection on a loudness target …")
    report["early_rejection"] = er = early_rejection(model, cal["loudness_target"], args.seconds, 4,
                                                     16 if args.quick else 32)
    log(f"  saved {100 * er['saved_fraction']:.0f} % of generated samples "
        f"({er['with']['samples_generated']} vs {er['without']['samples_generated']}); "
        f"same accepted candidates: {er['same_candidates_accepted']}")
    if not args.skip_methods:
        log("control methods …")
        report["methods"] = compare_control_methods(model, Goal((55, 62), "bell"), outputs=2 if args.quick else 4,
                                                    seconds=args.seconds, max_candidates=16 if args.quick else 32,
                                                    log=log)
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
