"""Re-judge the studio's one-click examples on an installed model (the script behind each example's
"measured" note):

    .venv/bin/python -m wavenet_core.studio.check_examples [--model notes] [--model-dir DIR] [--seeds 0,1]
"""
from __future__ import annotations

import argparse
import dataclasses

from .examples import EXAMPLES, example_settings


def check_examples(model, seeds: tuple[int, ...] | None = None) -> list[dict]:
    """Run every example on ``model`` and judge it (``verdict.judge``): one row per example and seed."""
    from .. import generate, model_inputs
    from ..controls.verdict import judge, known_pitch_range
    from .generate import GenerateRequest, conditioning_controls
    from .server import instrument_names
    rows = []
    names = instrument_names(model)
    for i, ex in enumerate(EXAMPLES):
        settings = example_settings(i, names)
        for seed in seeds if seeds is not None else (settings.get("seed", 0),):
            r = dataclasses.replace(GenerateRequest(), **{**settings, "seed": seed})
            controls, _, _ = conditioning_controls(model.config, r)
            audio = generate(model, model_inputs(controls, model.config), seed=seed)[0]
            v = judge(audio, controls, model.config, known_range=known_pitch_range(model))
            rows.append({"example": ex["title"], "seed": seed, "met": v.met, "headline": v.headline})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Judge the studio's one-click examples on an installed model.")
    p.add_argument("--model", default="notes")
    p.add_argument("--model-dir", default=None)
    p.add_argument("--seeds", default=None, help="comma-separated seeds to try (default: each example's own)")
    args = p.parse_args(argv)
    from .. import load_model
    model = load_model(args.model, args.model_dir)
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else None
    for row in check_examples(model, seeds):
        print(f"{'met ' if row['met'] else 'MISS'}  seed {row['seed']:<3d} {row['example']:28s} {row['headline']}")


if __name__ == "__main__":
    main()
