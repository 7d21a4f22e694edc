"""Core sub-commands: train, generate, info."""
from __future__ import annotations

import json
from pathlib import Path

from ..cli import command, progress_bar


# ---- train ----------------------------------------------------------------------------------
def _train_args(p):
    from ..training.train import add_arguments
    add_arguments(p)


@command("train", "train a model on the built-in corpus or a folder of audio", _train_args)
def cmd_train(args):
    from ..training.train import config_from_args, train
    path = train(config_from_args(args), resume=args.resume)
    print(f"wrote {path}")


# ---- generate -------------------------------------------------------------------------------
def _generate_args(p):
    p.add_argument("--model", default="notes", help="shipped model name or checkpoint path")
    p.add_argument("--seconds", type=float, default=None,
                   help="duration (default: the melody's, MIDI file's or recording's length, else 1 s)")
    p.add_argument("--instrument", default=None, help="instrument name (see `wavenet instruments`)")
    p.add_argument("--timbre", default=None, help='instrument mix, e.g. "bell=0.5,pluck=0.5"')
    p.add_argument("--pitch", default=None, help="a note name or MIDI number, e.g. A4, F#3 or 60 (middle C)")
    p.add_argument("--melody", default=None, help='notes and rests with beats, e.g. "C4:0.5 E4:0.5 G4:1 r:0.25 C5:1"')
    p.add_argument("--tempo", type=float, default=120.0, help="tempo of --melody in beats per minute")
    p.add_argument("--midi", default=None, help="standard MIDI file: its first track with notes, monophonic")
    p.add_argument("--from-audio", default=None, help="follow the pitch and loudness of this recording")
    p.add_argument("--transpose", type=float, default=0.0, help="shift the requested pitch by semitones")
    p.add_argument("--glide", type=float, default=0.0, help="portamento into each note, seconds")
    p.add_argument("--vibrato-depth", type=float, default=0.0, help="vibrato depth in cents")
    p.add_argument("--vibrato-rate", type=float, default=5.5, help="vibrato rate in Hz")
    p.add_argument("--loudness", type=float, default=None, help="level in dB FS, e.g. -18")
    p.add_argument("--adsr", default=None, metavar="A,D,S,R",
                   help="per-note envelope: attack s, decay s, sustain dB below the peak, release s; e.g. 0.01,0.1,-6,0.2")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--guidance", type=float, default=1.0,
                   help="conditioning strength (classifier-free guidance): 1 plain, 0 ignores the controls, "
                        "2-3 follows them harder at twice the cost")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=1, help="number of takes (seeds seed, seed+1, …)")
    p.add_argument("--reference", action="store_true", help="use the slow reference sampler instead of the fast one")
    p.add_argument("--out", default="out.wav", help="output file: .wav or .flac (16-bit either way)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: files, seeds and each take's verdict (asked vs measured)")
    p.add_argument("--no-verdict", action="store_true", help="skip measuring the result against what was asked")


def controls_from_args(args):
    """The generate flags → ``Controls`` (shared with other commands that take the same flags)."""
    from ..controls.conditioning import Controls
    from ..controls.verdict import parse_pitch
    pitch = None
    if args.pitch is not None:
        try:
            pitch = parse_pitch(args.pitch)
        except ValueError as e:
            raise ValueError(f"--pitch: {e}.") from None
    if args.instrument is not None and args.timbre is not None:
        raise ValueError("Give --instrument or --timbre, not both (a single instrument is also a timbre).")
    return Controls(seconds=args.seconds, instrument=args.timbre if args.timbre is not None else args.instrument,
                    pitch=pitch, loudness=args.loudness, melody=args.melody, tempo=args.tempo,
                    midi_file=args.midi, from_audio=args.from_audio, adsr=args.adsr, glide=args.glide,
                    vibrato_depth=args.vibrato_depth, vibrato_rate=args.vibrato_rate, transpose=args.transpose)


@command("generate", "generate audio with chosen conditioning", _generate_args)
def cmd_generate(args):
    from .. import generate, load_model, model_inputs
    from ..audio_io import AUDIO_FORMATS, write_audio
    from ..controls.conditioning import requested_curves
    from ..jsonsafe import json_safe
    from ..controls.verdict import judge, known_pitch_range
    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1; got {args.batch}.")
    out = Path(args.out)
    if out.suffix.lower() not in AUDIO_FORMATS:
        raise ValueError(f"--out {args.out}: end the name in .wav or .flac.")
    controls = controls_from_args(args)
    model = load_model(args.model)
    cfg = model.config
    curves = requested_curves(controls, cfg.sample_rate, cfg.hop_length)
    audio = generate(model, model_inputs(controls, cfg), temperature=args.temperature, seed=args.seed,
                     batch=args.batch, method="reference" if args.reference else "fast",
                     progress=None if args.json else progress_bar(), guidance=args.guidance)
    takes = []
    for b, clip in enumerate(audio):
        path = out if args.batch == 1 else out.with_name(f"{out.stem}-{b}{out.suffix}")
        write_audio(path, clip, cfg.sample_rate)
        take = {"file": str(path), "seed": args.seed + b, "seconds": round(len(clip) / cfg.sample_rate, 4),
                "sample_rate": cfg.sample_rate, "format": path.suffix.lower().lstrip(".")}
        verdict = None
        if not args.no_verdict:
            verdict = judge(clip, controls, cfg, curves=curves, known_range=known_pitch_range(model),
                            guidance=args.guidance)
            take["verdict"] = verdict.to_dict()
        takes.append(take)
        if not args.json:
            print(f"wrote {path} ({take['seconds']:.2f} s at {cfg.sample_rate} Hz, seed {take['seed']})")
            if verdict is not None:
                print("  " + verdict.text().replace("\n", "\n  "))
    if args.json:
        print(json.dumps(json_safe({"model": str(args.model), "temperature": args.temperature,
                                    "guidance": args.guidance, "takes": takes}), indent=2, ensure_ascii=False))


# ---- info -----------------------------------------------------------------------------------
def _info_args(p):
    p.add_argument("--model", default=None, help="shipped model name or checkpoint path (default: notes)")
    # `wavenet info NAME` was the first grammar; it stays as an alias of --model, as every other command names its model
    p.add_argument("model_alias", nargs="?", default=None, metavar="MODEL", help="same as --model")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


@command("info", "print a model's config, receptive field and parameter count", _info_args)
def cmd_info(args):
    from .. import load_model
    if args.model is not None and args.model_alias is not None and args.model != args.model_alias:
        raise ValueError(f"Name the model once: --model {args.model} or {args.model_alias}, not both.")
    args.model = args.model or args.model_alias or "notes"
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


