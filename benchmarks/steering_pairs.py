"""Steering on a fixed set of (clip, target) pairs: share met on every decode seed with pitch, voicing
and noisiness held, decodes used, latent distance moved.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/steering_pairs.py --out steer.json   # 20 pairs, budget 32, 2 seeds
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/steering_pairs.py --clips 2          # a subset: 8 pairs

The pairs (docs/steering.md): 5 held-out corpus clips (``NoteCorpus(seed=777, size=5, seconds=0.5)``)
× 4 targets set relative to each clip's decoded start (seed 0), so every pair asks for a change:
*brighter* (spectral centroid +500..+1500 Hz), *darker* (−1500..−500 Hz), *quieter* (loudness
−12..−6 dB) and *brighter + quieter*. Every figure is measured on decoded audio.

A pair succeeds when the final code meets its targets on every decode seed (``--seeds``, default 2)
and no untargeted property moved on any seed: pitch within 50 cents, voicing within 0.1,
noisiness not raised by more than 0.05 (``steering.HELD``). Pitch-aware autoencoders decode every
candidate with the clip's own pitch track (``autoencoder.clip_f0``), as ``wavenet steer`` does.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wavenet_core import load_model  # noqa: E402
from wavenet_core.controls.autoencoder import clip_f0, decode, encode  # noqa: E402
from wavenet_core.data.corpus import NoteCorpus  # noqa: E402
from wavenet_core.measure.descriptors import describe  # noqa: E402
from wavenet_core.controls.steering import steer, steering_targets  # noqa: E402


def pair_targets(start: dict) -> dict[str, list[str]]:
    b, loud = start["brightness"], start["loudness"]
    bright = f"brightness={b + 500:.1f}..{b + 1500:.1f}"
    quiet = f"loudness={loud - 12:.2f}..{loud - 6:.2f}"
    return {"brighter": [bright], "darker": [f"brightness={max(1.0, b - 1500):.1f}..{max(2.0, b - 500):.1f}"],
            "quieter": [quiet], "brighter + quieter": [bright, quiet]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="autoencoder")
    ap.add_argument("--budget", type=int, default=32, help="decodes per pair (each candidate costs one per seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=2, help="decode seeds every candidate is judged on")
    ap.add_argument("--clips", type=int, default=5, help="how many of the 5 clips (4 pairs each)")
    ap.add_argument("--out", help="also write every pair's result as JSON")
    args = ap.parse_args(argv)
    model = load_model(args.model)
    sr = model.config.sample_rate
    clips = list(NoteCorpus(sample_rate=sr, hop_length=160, seed=777, size=5, seconds=0.5))[: args.clips]
    excite = bool(model.decoder.config.excitation_dim)
    rows, t0 = [], time.perf_counter()
    for clip in clips:
        z = encode(model, clip.audio)
        f0 = clip_f0(model, clip.audio) if excite else None
        start = describe(decode(model, z, seed=args.seed, f0=f0), sr, pitch=False)
        for kind, targets in pair_targets(start).items():
            try:
                steering_targets(targets)
            except ValueError as e:      # e.g. "quieter" than a start that already decodes at the -80 dB floor
                rows.append({"clip": clip.name, "kind": kind, "targets": targets, "met": False, "held": None,
                             "success": False, "moved_untargeted": [], "decodes": 0, "latent_distance": 0.0,
                             "start_distance": None, "distance": None, "closer": False, "impossible": str(e)})
                print(f"{clip.name:28s} {kind:20s} miss (not steerable: {e})", flush=True)
                continue
            r = steer(model, z, targets, budget=args.budget, seed=args.seed, seeds=args.seeds, f0=f0)
            rows.append({"clip": clip.name, "kind": kind, "targets": targets, "met": r.met, "held": r.held,
                         "success": r.success, "moved_untargeted": r.moved_untargeted, "decodes": r.decodes,
                         "latent_distance": r.latent_distance, "start_distance": r.start_distance,
                         "distance": r.distance, "closer": r.distance < r.start_distance,
                         "pitch_start_final": [r.moved.get("pitch", {}).get("start"), r.moved.get("pitch", {}).get("final")]})
            print(f"{clip.name:28s} {kind:20s} {'met ' if r.met else 'miss'} "
                  f"{'held' if r.held else 'MOVED ' + ','.join(r.moved_untargeted)} decodes {r.decodes:2d} "
                  f"moved {r.latent_distance:.2f} std  distance {r.start_distance:.3f} → {r.distance:.3f}", flush=True)
            if args.out:                 # partial results survive an interrupted run
                Path(args.out).write_text(json.dumps({"summary": None, "pairs": rows}, indent=1))
    wall = time.perf_counter() - t0
    met = [r for r in rows if r["met"]]
    ok = [r for r in rows if r["success"]]
    summary = {"pairs": len(rows), "seeds": args.seeds, "success": len(ok), "success_share": len(ok) / len(rows),
               "met": len(met), "met_share": len(met) / len(rows),
               "pitch_held_share": sum("pitch" not in r["moved_untargeted"] for r in rows) / len(rows),
               "noisiness_held_share": sum("noisiness" not in r["moved_untargeted"] for r in rows) / len(rows),
               "impossible": sum("impossible" in r for r in rows),
               "median_decodes": float(np.median([r["decodes"] for r in rows])),
               "median_latent_distance": float(np.median([r["latent_distance"] for r in rows])),
               "median_latent_distance_met": float(np.median([r["latent_distance"] for r in met])) if met else None,
               "closer": sum(r["closer"] for r in rows), "budget": args.budget, "clips": len(clips), "wall_seconds": round(wall, 1),
               "by_kind": {k: sum(r["success"] for r in rows if r["kind"] == k)
                           for k in pair_targets({"brightness": 0, "loudness": 0})}}
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "pairs": rows}, indent=1))


if __name__ == "__main__":
    main()
