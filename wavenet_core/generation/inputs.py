"""The types and rules every generator shares: what a model is given (``ModelInputs``), how a
sample is drawn from logits (one rule for the reference and fast paths), the argument checks,
classifier-free guidance and cancellation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..model.wavenet import WaveNet

ProgressFn = Callable[[int, int], None]
MAX_SECONDS = 30.0
MAX_BATCH = 1024                 # streams per call
MAX_BATCH_SAMPLES = 2 ** 26      # samples per call over all streams (~1 GB of working arrays)


class Cancelled(RuntimeError):
    """Raised when a generation's ``cancel()`` callback returned True."""


@dataclass
class ModelInputs:
    """Conditioning for a batch of streams, ready for the model (see ``conditioning.py``)."""
    n_samples: int
    instrument: torch.Tensor | None = None     # (B,) long or (B, n_instruments + 1) weights
    global_cond: torch.Tensor | None = None    # (B, global_dim)
    local_cond: torch.Tensor | None = None     # (B, local_dim, frames)
    f0_hz: torch.Tensor | None = None          # (B, frames) Hz, 0 = unvoiced: drives the excitation
    phase0: torch.Tensor | None = None         # (B,) excitation phase at sample 0 (radians; None = 0)

    @property
    def batch(self) -> int:
        for t in (self.instrument, self.global_cond, self.local_cond, self.f0_hz):
            if t is not None:
                return t.shape[0]
        return 1

    def expand(self, batch: int) -> "ModelInputs":
        """Broadcast a batch-1 conditioning to ``batch`` streams."""
        def ex(t):
            if t is None or t.shape[0] == batch:
                return t
            if t.shape[0] != 1:
                raise ValueError(f"conditioning has batch {t.shape[0]}, cannot broadcast to {batch} streams.")
            return t.expand(batch, *t.shape[1:]).contiguous()
        return ModelInputs(self.n_samples, ex(self.instrument), ex(self.global_cond), ex(self.local_cond),
                           ex(self.f0_hz), ex(self.phase0))


def concat_inputs(items: Sequence[ModelInputs]) -> ModelInputs:
    """Streams of several ``ModelInputs`` (same length, each fully broadcast) as one batch. An f0
    missing from some (pitch free) becomes zeros there, which is what "free" means to the excitation."""
    if not items:
        raise ValueError("concat_inputs needs at least one ModelInputs.")

    def cat(ts):
        return None if ts[0] is None else torch.cat(ts, dim=0)
    f0 = None
    if any(i.f0_hz is not None for i in items):
        frames = max(i.f0_hz.shape[-1] for i in items if i.f0_hz is not None)
        f0 = torch.cat([torch.zeros(i.batch, frames) if i.f0_hz is None else
                        torch.nn.functional.pad(i.f0_hz.float(), (0, frames - i.f0_hz.shape[-1])) for i in items])
    phase0 = None
    if any(i.phase0 is not None for i in items):
        phase0 = torch.cat([torch.zeros(i.batch, dtype=torch.float64) if i.phase0 is None else i.phase0.double()
                            for i in items])
    return ModelInputs(items[0].n_samples, cat([i.instrument for i in items]), cat([i.global_cond for i in items]),
                       cat([i.local_cond for i in items]), f0, phase0)


def free_inputs(model: WaveNet, inputs: ModelInputs) -> ModelInputs:
    """The same streams with every control dropped the way training dropped it: instrument =
    the "free" embedding, local features and f0 zero (pitch and loudness absent); a global vector,
    which training never dropped, stays."""
    cfg = model.config
    inst = None
    if cfg.n_instruments:
        b = inputs.batch
        if inputs.instrument is not None and inputs.instrument.dtype.is_floating_point:
            inst = torch.zeros(b, cfg.n_instruments + 1, dtype=inputs.instrument.dtype)
            inst[:, cfg.n_instruments] = 1
        else:
            inst = torch.full((b,), cfg.n_instruments, dtype=torch.long)
    local = None if inputs.local_cond is None else torch.zeros_like(inputs.local_cond)
    f0 = None if inputs.f0_hz is None else torch.zeros_like(inputs.f0_hz)
    return ModelInputs(inputs.n_samples, inst, inputs.global_cond, local, f0, inputs.phase0)


def guided_logits(conditioned, free, guidance: float):
    """Classifier-free guidance: ``free + guidance · (conditioned − free)`` (torch or numpy)."""
    return free + guidance * (conditioned - free)


def stream_uniforms(seeds: Sequence[int], n_samples: int) -> np.ndarray:
    """(B, T) float64 uniforms: stream b's draws depend only on seeds[b]."""
    return np.stack([np.random.default_rng(int(s)).random(n_samples) for s in seeds])


def sample_from_logits(logits: np.ndarray, u: np.ndarray, temperature: float) -> np.ndarray:
    """logits (B, Q), u (B,) → classes (B,), with the shared sampling rule."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature <= 0:
        return logits.argmax(axis=1)
    z = logits / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    c = np.cumsum(p, axis=1)
    target = u * c[:, -1]
    return np.minimum((c <= target[:, None]).sum(axis=1), logits.shape[1] - 1)


MAX_GUIDANCE = 10.0


def check_generation_args(n_samples: int, temperature: float, seeds: Sequence[int], sample_rate: int,
                          max_seconds: float = MAX_SECONDS, guidance: float = 1.0) -> None:
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"Duration must be positive; got {n_samples} samples.")
    if n_samples > max_seconds * sample_rate:
        raise ValueError(f"Duration {n_samples / sample_rate:.1f} s is over the {max_seconds:.0f} s limit; ask for less.")
    if not math.isfinite(temperature) or temperature < 0 or temperature > 10:
        raise ValueError(f"Temperature must be between 0 and 10; got {temperature}.")
    if not math.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE:
        raise ValueError(f"Conditioning strength (guidance) must be between 0 and {MAX_GUIDANCE:g}; got {guidance}.")
    for s in seeds:
        if not 0 <= int(s) < 2 ** 63:
            raise ValueError(f"Seed must be between 0 and 2**63 - 1; got {s}.")
