"""Autoencoder sub-commands: encode, decode, reconstruct, interpolate (input manipulation), sliders."""
from __future__ import annotations

from pathlib import Path

from ..cli import command, progress_bar


def _common(p, decoding: bool = True) -> None:
    p.add_argument("--model", default="autoencoder", help="shipped autoencoder name or checkpoint path")
    if decoding:
        p.add_argument("--seed", type=int, default=0, help="sampling seed (every α of a morph shares it)")
        p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0 = argmax)")
        p.add_argument("--reference", action="store_true", help="use the slow reference sampler instead of the fast one")
        p.add_argument("--offset", action="append", default=[], metavar="K=SIGMAS",
                       help="slider: move along principal direction K by SIGMAS corpus std, e.g. --offset 0=1.5 "
                            "(`wavenet sliders` names what each direction moves)")
        p.add_argument("--scale", action="append", default=[], metavar="K=FACTOR",
                       help="slider: scale the coordinate along principal direction K, e.g. --scale 1=0")


def _input_args(p) -> None:
    p.add_argument("--truncate", action="store_true",
                   help="cut clips longer than the model's limit (10 s for the shipped model) instead of refusing them")


def _pairs(items: list[str], flag: str) -> dict[int, float]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[int(k)] = float(v)
        except ValueError:
            raise ValueError(f"{flag} expects K=VALUE with an integer direction K, got {item!r}.") from None
    return out


def load_model_arg(args):
    from .. import load_model
    from ..controls.autoencoder import check_autoencoder
    return check_autoencoder(load_model(args.model))


def read_clip_arg(model, path: str, truncate: bool):
    from ..audio_io import load_audio
    from ..controls.autoencoder import check_clip
    cfg = model.config
    audio = load_audio(path, cfg.sample_rate, max_seconds=cfg.max_seconds, truncate=truncate)
    return check_clip(model, audio, Path(path).name, truncate)


def _edits(model, z, args):
    from ..controls.autoencoder import edit
    offsets, scales = _pairs(args.offset, "--offset"), _pairs(args.scale, "--scale")
    return edit(model, z, offsets=offsets, scales=scales) if offsets or scales else z


def _decode(model, latents, args, f0=None):
    from ..controls.autoencoder import decode
    return decode(model, latents, temperature=args.temperature, seed=args.seed,
                  method="reference" if args.reference else None, progress=progress_bar("decode"), f0=f0)


# ---- encode ---------------------------------------------------------------------------------
def _encode_args(p):
    p.add_argument("input", help="audio file (any rate or channel count; mixed down and resampled)")
    p.add_argument("--out", default="z.npy", help="latent .npy: float32 (frames, dims), one frame per hop samples")
    _common(p, decoding=False)
    _input_args(p)


@command("encode", "encode an audio clip to an autoencoder latent (.npy)", _encode_args)
def cmd_encode(args):
    from ..controls.autoencoder import encode, save_latent
    model = load_model_arg(args)
    z = encode(model, read_clip_arg(model, args.input, args.truncate))
    save_latent(args.out, z)
    cfg = model.config
    print(f"wrote {args.out} ({z.shape[0]} frames × {z.shape[1]} dims at {cfg.frame_rate:g} frames/s "
          f"= {z.shape[0] * cfg.hop_length / cfg.sample_rate:.2f} s)")


# ---- decode ---------------------------------------------------------------------------------
def _decode_args(p):
    p.add_argument("latent", help="latent .npy written by `wavenet encode`")
    p.add_argument("--out", default="out.wav")
    _common(p)


@command("decode", "decode an autoencoder latent (.npy) to audio", _decode_args)
def cmd_decode(args):
    from ..audio_io import write_wav
    from ..controls.autoencoder import load_latent
    model = load_model_arg(args)
    z = _edits(model, load_latent(args.latent, model), args)
    audio = _decode(model, z, args)
    write_wav(args.out, audio, model.config.sample_rate)
    print(f"wrote {args.out} ({len(audio) / model.config.sample_rate:.2f} s, seed {args.seed})")


# ---- reconstruct ----------------------------------------------------------------------------
def _reconstruct_args(p):
    p.add_argument("input", help="audio file to encode and decode again")
    p.add_argument("--out", default="out.wav")
    p.add_argument("--transpose", type=float, default=0.0, metavar="SEMITONES",
                   help="pitch-aware autoencoders: move the clip's own pitch by this many semitones (exact, "
                        "through the decoder's excitation), e.g. --transpose 7")
    p.add_argument("--flatten", nargs="?", const="median", default=None, metavar="NOTE",
                   help="pitch-aware autoencoders: hold one note (the clip's median pitch, or NOTE such as A3)")
    _common(p)
    _input_args(p)


def _flatten(value: str | None):
    if value is None:
        return None
    if value == "median":
        return True
    from ..controls.conditioning import parse_note
    try:
        return parse_note(value)
    except ValueError as e:
        raise ValueError(f"--flatten: {e}.") from None


@command("reconstruct", "encode a clip and decode it again (optionally edited with --offset/--scale, "
                        "transposed with --transpose or held on one note with --flatten)", _reconstruct_args)
def cmd_reconstruct(args):
    from ..audio_io import write_wav
    from ..controls.autoencoder import clip_f0, encode, plan_f0
    model = load_model_arg(args)
    clip = read_clip_arg(model, args.input, args.truncate)
    z = _edits(model, encode(model, clip), args)
    flatten = _flatten(args.flatten)
    f0 = None
    if model.decoder.config.excitation_dim:
        f0 = plan_f0(clip_f0(model, clip), args.transpose, flatten)
    elif args.transpose or flatten is not None:
        raise ValueError(f"{args.model} takes its pitch from the latent (no excitation); --transpose and --flatten "
                         "need a pitch-aware autoencoder such as the shipped `autoencoder`.")
    audio = _decode(model, z, args, f0=f0)
    write_wav(args.out, audio, model.config.sample_rate)
    print(f"wrote {args.out} ({len(audio) / model.config.sample_rate:.2f} s, seed {args.seed})")


# ---- interpolate ----------------------------------------------------------------------------
def _interpolate_args(p):
    p.add_argument("a", help="first clip (α = 0)")
    p.add_argument("b", help="second clip (α = 1)")
    p.add_argument("--alpha", type=float, nargs="+", default=[0.25, 0.5, 0.75], help="mix values, 0 = a, 1 = b")
    p.add_argument("--out-dir", default="morph", help="folder for alpha-<α>.wav files")
    p.add_argument("--pitch", choices=["a", "b", "blend"], default="a",
                   help="pitch-aware autoencoders: the morph keeps clip a's pitch, b's, or a blend of the two")
    _common(p)
    _input_args(p)


@command("interpolate", "morph between two clips by mixing their latents (all α decoded in one batch)", _interpolate_args)
def cmd_interpolate(args):
    from ..audio_io import write_wav
    from ..controls.autoencoder import encode, interpolate, silence_latent
    model = load_model_arg(args)
    for a in args.alpha:
        if not -1.0 <= a <= 2.0:
            raise ValueError(f"--alpha {a} is out of range; use values from 0 (first clip) to 1 (second clip).")
    a_clip, b_clip = read_clip_arg(model, args.a, args.truncate), read_clip_arg(model, args.b, args.truncate)
    z_a, z_b = encode(model, a_clip), encode(model, b_clip)
    mixes = [_edits(model, z, args) for z in interpolate(z_a, z_b, list(args.alpha), pad=silence_latent(model))]
    f0 = None
    if model.decoder.config.excitation_dim:
        import numpy as np

        from ..controls.autoencoder import blend_f0, clip_f0
        n = len(mixes[0])
        f_a, f_b = (np.pad(f, (0, n - len(f))) for f in (clip_f0(model, a_clip), clip_f0(model, b_clip)))
        f0 = [f_a if args.pitch == "a" else f_b if args.pitch == "b" else blend_f0(f_a, f_b, t) for t in args.alpha]
    audio = _decode(model, mixes, args, f0=f0)
    out = Path(args.out_dir)
    for a, clip in zip(args.alpha, audio):
        path = out / f"alpha-{a:g}.wav"
        write_wav(path, clip, model.config.sample_rate)
        print(f"wrote {path} (α = {a:g}, {len(clip) / model.config.sample_rate:.2f} s)")


# ---- sliders --------------------------------------------------------------------------------
def _sliders_args(p):
    p.add_argument("--model", default="autoencoder", help="shipped autoencoder name or checkpoint path")
    p.add_argument("--json", action="store_true", help="print every direction's correlations as JSON")


@command("sliders", "name what each PCA slider (--offset K=…, --scale K=…) moves: its measured correlation "
                    "with brightness, loudness, noisiness, attack and pitch on held-out clips", _sliders_args)
def cmd_sliders(args):
    import json

    from ..controls.autoencoder import SLIDER_CLIPS, SLIDER_DESCRIPTORS, slider_meanings
    model = load_model_arg(args)
    meanings = slider_meanings(model)
    if args.json:
        print(json.dumps([m.to_dict() for m in meanings], indent=1))
        return
    names = list(SLIDER_DESCRIPTORS)
    print(f"what each slider's + side does (Pearson r per frame, {meanings[0].frames} sounding frames of "
          f"{SLIDER_CLIPS} held-out corpus clips):")
    print(f"{'K':>3}  {'name':16s} " + " ".join(f"{n:>10s}" for n in names))
    for m in meanings:
        cells = " ".join(f"{'—' if m.correlations[n] is None else format(m.correlations[n], '+.2f'):>10s}" for n in names)
        print(f"{m.direction:>3}  {m.name:16s} {cells}")
