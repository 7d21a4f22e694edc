"""``wavenet sample``: rejection sampling against target properties (see docs/sampling.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..cli import command


def _sample_args(p):
    p.add_argument("--model", default="notes", help="shipped model name or checkpoint path")
    p.add_argument("--seconds", type=float, default=1.0, help="length of every candidate in seconds")
    p.add_argument("--target", action="append", default=[], metavar="NAME=LOW..HIGH",
                   help="a target range, repeatable: pitch=55..62 (or G3..D4), loudness=-24..-12, brightness=800..2000, "
                        "noisiness=0..0.05, onset_rate=0..2, sounding_seconds=0.5.., voiced_fraction=0.8.., "
                        "novelty=0.5.., timbre=bell; an end may be left empty")
    p.add_argument("--keep", type=int, default=4, help="stop once this many candidates meet every target")
    p.add_argument("--max-candidates", type=int, default=64, help="budget: candidates generated at most")
    p.add_argument("--max-seconds", type=float, default=None, help="budget: wall-clock seconds at most")
    p.add_argument("--seed", type=int, default=0, help="candidate i uses seed + i (recorded in the report)")
    p.add_argument("--batch", type=int, default=16, help="candidates generated together")
    p.add_argument("--instrument", default=None, help="fix the timbre (an instrument name or a mix like bell=0.5,pluck=0.5)")
    p.add_argument("--pitch", default=None, help="fix the pitch: a note name or MIDI number (A4, F#3, 60)")
    p.add_argument("--loudness", type=float, default=None, help="fix the level in dB FS")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--no-early-rejection", action="store_true",
                   help="generate every candidate to full length (early rejection never drops a candidate that would pass)")
    p.add_argument("--no-novelty", action="store_true",
                   help="skip the novelty measurement (distance to the nearest training clip)")
    p.add_argument("--out-dir", default="picks", help="folder for the picked WAVs and report.json")


@command("sample", "rejection sampling: generate candidates until some meet target ranges; writes WAVs and a JSON report",
         _sample_args)
def cmd_sample(args):
    from ..audio_io import atomic_write_bytes, write_wav
    from ..model.checkpoint import load_model
    from ..controls.conditioning import Controls
    from ..controls.sampling import RejectionSampler, corpus_params_for, parse_target

    if not args.target:
        raise ValueError("Give at least one --target NAME=LOW..HIGH, e.g. --target pitch=55..62.")
    targets = [parse_target(t) for t in args.target]      # refuse bad targets before loading anything
    model = load_model(args.model)
    novelty = None
    if not args.no_novelty or any(t.name == "novelty" for t in targets):
        if corpus_params_for(args.model) is not None:
            novelty = True
        elif any(t.name == "novelty" for t in targets):
            raise ValueError("This model was not trained on the built-in corpus, so novelty cannot be measured; "
                             "drop the novelty target.")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    from ..controls.verdict import parse_pitch
    try:
        pitch = None if args.pitch is None else parse_pitch(args.pitch)
    except ValueError as e:
        raise ValueError(f"--pitch: {e}.") from None
    controls = Controls(instrument=args.instrument, pitch=pitch, loudness=args.loudness)
    sampler = RejectionSampler(model, targets, controls=controls, seconds=args.seconds, temperature=args.temperature,
                               keep=args.keep, max_candidates=args.max_candidates, max_seconds=args.max_seconds,
                               seed=args.seed, batch=args.batch, early_rejection=not args.no_early_rejection,
                               novelty=novelty, model_name=str(args.model), log=log)
    result = sampler.run()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for rank, cand in enumerate(result.picks, 1):
        kind = "pick" if cand.meets_targets else "closest"
        path = write_wav(out / f"{kind}-{rank:02d}-seed-{cand.seed}.wav", cand.audio, result.sample_rate)
        files.append(path.name)
    report = result.to_dict()
    report["files"] = files
    atomic_write_bytes(out / "report.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))
    s = result.summary()
    print(f"{s['accepted']} of {s['candidates_generated']} candidates met {', '.join(str(t) for t in result.targets)} "
          f"(acceptance {100 * s['acceptance_rate']:.0f} %); stopped by {s['stop_reason']}")
    print(f"generated {s['seconds_of_audio_generated']:.1f} s of audio; early rejection saved "
          f"{100 * s['saved_fraction']:.0f} % ({s['early_rejected']} candidates stopped early); "
          f"{s['wall_seconds']:.1f} s wall, {s['cpu_seconds']:.1f} s CPU")
    for cand, name in zip(result.picks, files):
        d = cand.descriptors or {}
        bits = [f"{k}={d[k]:.4g}" for k in ("pitch", "loudness", "brightness") if d.get(k) is not None]
        if cand.novelty is not None:
            bits.append(f"novelty={cand.novelty:.2f}")
        flag = "" if cand.meets_targets else f"  (misses: {'; '.join(cand.reasons)}; distance {cand.distance:.2f})"
        print(f"  {name}: {' '.join(bits)}{flag}")
    if len(result.accepted) < args.keep:
        print(f"warning: only {len(result.accepted)} of {args.keep} met the targets; the closest ones are written as "
              "closest-*.wav", file=sys.stderr)
    print(f"wrote {len(files)} WAVs and {out / 'report.json'}")
