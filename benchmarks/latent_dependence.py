"""Does the autoencoder's decoder use its latent? Teacher-forced loss with each clip's own latent vs another's.

    .venv/bin/python benchmarks/latent_dependence.py                       # the shipped `autoencoder`
    .venv/bin/python benchmarks/latent_dependence.py --model runs/ae --clips 30

On held-out corpus clips (``NoteCorpus(seed=9001)``, the seed ``wavenet evaluate`` uses), the
decoder predicts each clip sample by sample (teacher forcing) conditioned on (a) the clip's own
latent and (b) the latent of the next clip in the list (a different note, usually another
instrument). A decoder that ignores its latent scores the same on both; the gap is how much the
latent tells it. Prints mean cross-entropy in nats per sample (the model card's figure).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wavenet_core import load_model  # noqa: E402
from wavenet_core.evaluation.autoencoder import EVAL_CORPUS_SEED  # noqa: E402
from wavenet_core.data.corpus import NoteCorpus  # noqa: E402
from wavenet_core.model.mulaw import mu_law_encode  # noqa: E402


@torch.no_grad()
def latent_dependence(model, clips: list[np.ndarray]) -> dict:
    """Mean teacher-forced loss (nats/sample) of each clip given its own latent and given the next clip's."""
    audio = torch.from_numpy(np.stack(clips))                  # the corpus' clips share one length
    x = mu_law_encode(audio)
    z = model.encode(audio)                                    # (clips, dims, frames)
    own = F.cross_entropy(model.decoder(x, local_cond=z), x).item()
    other = F.cross_entropy(model.decoder(x, local_cond=torch.roll(z, 1, dims=0)), x).item()
    return {"clips": len(clips), "own_latent_nats": own, "other_latent_nats": other}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="autoencoder", help="shipped autoencoder name or checkpoint path")
    p.add_argument("--clips", type=int, default=30, help="held-out clips (default 30, as `wavenet evaluate`)")
    p.add_argument("--seconds", type=float, default=1.5, help="clip length in seconds")
    args = p.parse_args(argv)
    model = load_model(args.model)
    cfg = model.config
    corpus = NoteCorpus(sample_rate=cfg.sample_rate, hop_length=cfg.hop_length, seed=EVAL_CORPUS_SEED,
                        size=args.clips, seconds=args.seconds)
    r = latent_dependence(model, [e.audio for e in corpus])
    print(f"{args.model}: teacher-forced loss on {r['clips']} held-out clips (NoteCorpus seed {EVAL_CORPUS_SEED}): "
          f"{r['own_latent_nats']:.2f} nats with each clip's own latent, {r['other_latent_nats']:.2f} with another's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
