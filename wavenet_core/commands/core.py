"""Core sub-commands: train, generate, info."""
from __future__ import annotations

import json
from pathlib import Path

from ..cli import command, progress_bar


# ---- train ----------------------------------------------------------------------------------
def _train_args(p):
    from ..train import add_arguments
    add_arguments(p)


@command("train", "train a model on the built-in corpus or a folder of audio", _train_args)
def cmd_train(args):
    from ..train import config_from_args, train
    path = train(config_from_args(args), resume=args.resume)
    print(f"wrote {path}")


# ---- generate -------------------------------------------------------------------------------
def _generate_args(p):
    p.add_argument("--model", default="notes", help="shipped model name or checkpoint path")
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--instrument", default=None, help="instrument name (see `wavenet instruments`)")
    p.add_argument("--pitch", type=float, default=None, help="MIDI note number, e.g. 60 for middle C")
    p.add_argument("--loudness", type=float, default=None, help="level in dB FS, e.g. -18")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=1, help="number of takes (seeds seed, seed+1, …)")
    p.add_argument("--reference", action="store_true", help="use the slow reference sampler instead of the fast one")
    p.add_argument("--out", default="out.wav")


@command("generate", "generate audio with chosen conditioning", _generate_args)
def cmd_generate(args):
    from .. import Controls, generate, load_model, model_inputs
    from ..audio_io import write_wav
    model = load_model(args.model)
    controls = Controls(seconds=args.seconds, instrument=args.instrument, pitch=args.pitch, loudness=args.loudness)
    audio = generate(model, model_inputs(controls, model.config), temperature=args.temperature, seed=args.seed,
                     batch=args.batch, method="reference" if args.reference else "fast", progress=progress_bar())
    out = Path(args.out)
    for b, clip in enumerate(audio):
        path = out if args.batch == 1 else out.with_name(f"{out.stem}-{b}{out.suffix}")
        write_wav(path, clip, model.config.sample_rate)
        print(f"wrote {path} ({len(clip) / model.config.sample_rate:.2f} s, seed {args.seed + b})")


# ---- info -----------------------------------------------------------------------------------
def _info_args(p):
    p.add_argument("model", nargs="?", default="notes", help="shipped model name or checkpoint path")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


@command("info", "print a model's config, receptive field and parameter count", _info_args)
def cmd_info(args):
    from .. import load_model
    model = load_model(args.model)
    cfg = model.config
    info = {"model": str(args.model), "kind": getattr(model, "kind", "wavenet"), "config": cfg.to_dict(),
            "receptive_field_samples": model.receptive_field, "receptive_field_ms": round(model.receptive_field_ms, 2),
            "parameters": model.n_parameters, "training": getattr(model, "training_info", {})}
    if args.json:
        print(json.dumps(info, indent=2))
        return
    print(f"model            {args.model} ({info['kind']})")
    print(f"receptive field  {info['receptive_field_samples']} samples = {info['receptive_field_ms']} ms at {cfg.sample_rate} Hz")
    print(f"parameters       {info['parameters']:,}")
    for k, v in cfg.to_dict().items():
        print(f"  {k:22s} {v}")


