"""``wavenet steer``: steer a clip's autoencoder latent toward descriptor targets (see docs/steering.md)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..cli import command


def _steer_args(p):
    p.add_argument("input", help="audio file to steer (any rate or channel count; mixed down and resampled)")
    p.add_argument("--model", default="autoencoder", help="shipped autoencoder name or checkpoint path")
    p.add_argument("--target", action="append", default=[], metavar="NAME=LOW..HIGH",
                   help="a target range, repeatable: brightness=1500..2500, loudness=-20..-14, pitch=55..62 (or G3..D4), "
                        "noisiness=0..0.05, voiced_fraction=0.8.., onset_rate=0..2, sounding_seconds=0.5..; "
                        "an end may be left empty")
    p.add_argument("--budget", type=int, default=32,
                   help="decodes at most; every candidate (the start clip too) costs one decode per seed")
    p.add_argument("--seconds", type=float, default=None, help="wall-clock limit in seconds (checked between generations)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search and the first decode seed")
    p.add_argument("--seeds", type=int, default=None,
                   help="decode every candidate with this many sampling seeds (SEED, SEED+1, …; default 2): it "
                        "counts only if it meets the targets, and holds pitch, voicing and noisiness, on every one")
    p.add_argument("--population", type=int, default=8, help="candidates decoded together per generation")
    p.add_argument("--directions", type=int, default=4, help="how many principal directions to search")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the decoder")
    p.add_argument("--truncate", action="store_true", help="cut clips longer than the model's limit instead of refusing them")
    p.add_argument("--out", default="steered.wav", help="the steered audio")
    p.add_argument("--report", default=None, help="JSON report (default: beside --out, with .json)")


@command("steer", "search an autoencoder latent for a version of a clip that meets descriptor targets", _steer_args)
def cmd_steer(args):
    from ..audio_io import atomic_write_bytes, write_wav
    from ..controls.autoencoder import encode
    from ..controls.steering import DEFAULT_SEEDS, steering_targets, steer
    from .autoencoder import load_model_arg, read_clip_arg

    if not args.target:
        raise ValueError("Give at least one --target NAME=LOW..HIGH, e.g. --target brightness=1500..2500.")
    targets = steering_targets(args.target)            # refuse bad targets before loading anything
    args.seeds = DEFAULT_SEEDS if args.seeds is None else args.seeds
    if not 1 <= args.seeds <= 8:
        raise ValueError(f"--seeds {args.seeds} must be between 1 and 8.")
    if args.budget < 2 * args.seeds:
        raise ValueError(f"--budget {args.budget} is too small: steering on {args.seeds} seed(s) needs at least "
                         f"{2 * args.seeds} decodes (the start and one candidate, each on every seed).")
    if args.seconds is not None and not args.seconds > 0:
        raise ValueError(f"--seconds {args.seconds} must be positive.")
    if not Path(args.input).is_file():
        raise FileNotFoundError(f"{args.input}: no such audio file.")
    model = load_model_arg(args)
    clip = read_clip_arg(model, args.input, args.truncate)
    z = encode(model, clip)
    f0 = None
    if model.decoder.config.excitation_dim:           # steer timbre and level at the clip's own pitch
        from ..controls.autoencoder import clip_f0
        f0 = clip_f0(model, clip)

    def progress(used: int, budget: int) -> None:
        print(f"steer: {used}/{budget} decodes", file=sys.stderr)

    result = steer(model, z, targets, budget=args.budget, max_seconds=args.seconds, seed=args.seed, seeds=args.seeds,
                   population=args.population, directions=args.directions, temperature=args.temperature,
                   progress=progress, f0=f0)
    out = Path(args.out)
    report = Path(args.report) if args.report else out.with_suffix(".json")
    if report.resolve() == out.resolve():
        raise ValueError(f"--report {report} would overwrite the audio; give the report another name.")
    write_wav(out, result.audio, model.config.sample_rate)
    text = result.to_json()
    atomic_write_bytes(report, lambda tmp: Path(tmp).write_text(text + "\n"))
    state = f"all targets met on seeds {result.seeds}" if result.met else (f"closest found, distance {result.distance:.3f} "
                                                  f"(start {result.start_distance:.3f}): {'; '.join(result.failed)}")
    print(f"wrote {out} and {report}: {state}; moved {result.latent_distance:.2f} std in {result.decodes} decodes "
          f"({result.stopped})")
    for name, m in result.moved.items():
        seeds = [p["seed"] for p in m["per_seed"] if p["moved"]]
        print(f"{'note: ' if m['moved'] else ''}{name} {'MOVED on seed(s) ' + str(seeds) if m['moved'] else 'held'} "
              f"though not targeted: {m['start']} -> {m['final']} on seed {result.seed} (tolerance {m['tolerance']:g})")
