"""Conditioning sub-commands: instruments, describe, evaluate."""
from __future__ import annotations

import json
import sys

from ..cli import command


# ---- instruments ----------------------------------------------------------------------------
def _instruments_args(p):
    p.add_argument("--model", default="notes", help="shipped model name or checkpoint path")
    p.add_argument("--json", action="store_true", help="print a JSON list")


@command("instruments", "list the instrument names a model can play (for --instrument / --timbre)", _instruments_args)
def cmd_instruments(args):
    from ..model.checkpoint import load_checkpoint_metadata
    config = load_checkpoint_metadata(args.model).get("config", {})
    names = list(config.get("instrument_names") or [])
    if not names and config.get("n_instruments"):
        names = [str(i) for i in range(int(config["n_instruments"]))]
    if args.json:
        print(json.dumps(names))
        return
    if not names:
        print(f"{args.model} has no instrument conditioning (leave --instrument/--timbre out)", file=sys.stderr)
    for name in names:
        print(name)


# ---- describe -------------------------------------------------------------------------------
def _describe_args(p):
    p.add_argument("file", help="audio file (WAV, FLAC, OGG, …)")
    p.add_argument("--sample-rate", type=int, default=16000, help="analysis sample rate (the file is resampled)")
    p.add_argument("--no-pitch", action="store_true", help="skip pitch tracking (the slow part)")


@command("describe", "print an audio file's descriptors (pitch, loudness, brightness, …) as JSON", _describe_args)
def cmd_describe(args):
    from ..audio_io import load_audio
    from ..measure.descriptors import describe
    audio = load_audio(args.file, args.sample_rate)
    d = describe(audio, args.sample_rate, pitch=not args.no_pitch)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}, indent=2))


# ---- evaluate -------------------------------------------------------------------------------
def _evaluate_args(p):
    p.add_argument("--model", default="notes", help="shipped model name or checkpoint path")
    p.add_argument("--out", default="evaluation.json", help="where to write the JSON report")
    p.add_argument("--seed", type=int, default=0, help="first seed; clip i uses seed + i (recorded in the report)")
    p.add_argument("--quick", action="store_true", help="a few short notes and one melody (for tests and smoke runs)")
    p.add_argument("--batch", type=int, default=16, help="clips generated together in one batched call")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--guidance", type=float, default=1.0,
                   help="conditioning strength (classifier-free guidance): 1 plain, >1 follows the controls harder")
    p.add_argument("--reference", action="store_true", help="use the slow reference sampler")
    p.add_argument("--save-audio", default=None, metavar="DIR", help="also write every generated clip here")
    p.add_argument("--jobs", type=int, default=1, help="processes that measure the clips (same figures for any number)")


@command("evaluate", "measure how well a model obeys its controls; writes a JSON report", _evaluate_args)
def cmd_evaluate(args):
    from ..evaluation.evaluate import evaluate_model, format_table

    def log(msg):
        print(msg, file=sys.stderr)
    report = evaluate_model(args.model, out=args.out, seed=args.seed, quick=args.quick, batch=args.batch,
                            temperature=args.temperature, method="reference" if args.reference else None,
                            guidance=args.guidance,
                            save_audio=args.save_audio, log=log, jobs=args.jobs)
    if "metrics" in report and report.get("model_kind", "wavenet") == "wavenet":
        print(format_table(report))
    elif report.get("model_kind") == "autoencoder":
        from ..evaluation.autoencoder import card_table
        print(card_table(report))
    else:
        print(json.dumps(report.get("metrics", report), indent=2))
    print(f"wrote {args.out}")
