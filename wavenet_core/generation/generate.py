"""``generate()``: conditioning in, audio out.

Two paths share one sampling rule so they give identical samples for the same seed:
stream b draws its uniforms from ``np.random.default_rng(seeds[b])`` up front, and the sample at
step t is the first class whose cumulative probability (softmax of logits / temperature, in
float64) exceeds ``u[t]``; temperature 0 means argmax.

* ``method="fast"`` (default): the compiled incremental generator in ``fast.py``;
* ``method="reference"``: the model's own forward pass over a sliding window, one sample at a
  time — slow, obviously correct, and what the tests compare the fast path with.

``guidance`` (conditioning strength) is classifier-free guidance: the model was trained with each
control dropped 15 % of the time, so it also predicts the next sample with every control left
free. Each step combines the two predictions, ``free + guidance · (conditioned − free)``, before
sampling: 1 is the plain conditioned model, 0 the free model alone, above 1 follows the controls
more strongly (at twice the cost: every stream runs with a free twin).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from ..model.wavenet import WaveNet, excitation_phase
from ..model.mulaw import SILENCE_CLASS, mu_law_decode

from .inputs import (MAX_BATCH, MAX_BATCH_SAMPLES, Cancelled, ModelInputs, ProgressFn, check_generation_args, free_inputs,
                     guided_logits, sample_from_logits, stream_uniforms)


@torch.no_grad()
def reference_classes(model: WaveNet, inputs: ModelInputs, uniforms: np.ndarray, temperature: float,
                      progress: ProgressFn | None = None, cancel: Callable[[], bool] | None = None,
                      guidance: float = 1.0, tap: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """Sliding-window sampling with the model's forward pass: O(receptive field) per sample.
    ``tap(t, classes)`` is called every 256 samples and at the end with the (B, T) classes, of
    which the first t are made."""
    cfg = model.config
    batch, n = uniforms.shape
    # The window covers the dilated stack, the context stack and the upsampler's spread, and
    # starts on a frame boundary of both frame rates so conditioning frames line up.
    align = math.lcm(cfg.hop_length, cfg.context_hop if cfg.context_layers else 1)
    margin = cfg.receptive_field + 1 + 2 * cfg.hop_length * (len(cfg.upsample_scales) + 1)
    if cfg.context_layers:
        margin += (2 ** cfg.context_layers + 1) * cfg.context_hop
    x = torch.full((batch, n), SILENCE_CLASS, dtype=torch.long)
    free = free_inputs(model, inputs) if guidance != 1.0 else None

    def window_logits(window, ins, w0, t):
        f = w0 // cfg.hop_length
        local = None if ins.local_cond is None else ins.local_cond[..., f:]
        f0 = phase0 = None
        if ins.f0_hz is not None and cfg.excitation_dim:
            f0 = ins.f0_hz[..., f:]           # the window's excitation starts at the phase of frame f
            phase0 = excitation_phase(ins.f0_hz, cfg.hop_length, cfg.sample_rate, ins.phase0)[:, f]
        return model(window, instrument=ins.instrument, global_cond=ins.global_cond, local_cond=local,
                     f0=f0, phase0=phase0)[:, :, t - w0]

    for t in range(n):
        w0 = max(0, t - margin) // align * align
        # The upsampler looks one frame ahead, and the model only uses the frames its input
        # covers: run the window to the end of the next frame (placeholder samples after t,
        # which the causal logits at t never see) so sample t gets the full clip's conditioning.
        framed = inputs.local_cond is not None or inputs.f0_hz is not None
        end = t + 1 if not framed else min(n, (t // cfg.hop_length + 2) * cfg.hop_length)
        window = x[:, w0: end]
        logits = window_logits(window, inputs, w0, t)
        if free is not None:
            logits = guided_logits(logits, window_logits(window, free, w0, t), guidance)
        x[:, t] = torch.from_numpy(sample_from_logits(logits.numpy(), uniforms[:, t], temperature))
        if (t + 1) % 256 == 0 or t + 1 == n:
            if tap is not None:
                tap(t + 1, x.numpy())
            if progress is not None:
                progress(t + 1, n)
            if cancel is not None and cancel():
                raise Cancelled("Generation cancelled.")
    return x.numpy()


def generate(model: WaveNet, inputs: ModelInputs, *, temperature: float = 1.0, seed: int | Sequence[int] = 0,
             batch: int | None = None, method: str = "fast", progress: ProgressFn | None = None,
             cancel: Callable[[], bool] | None = None, guidance: float = 1.0,
             on_audio: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    """Sample audio: returns float32 (batch, n_samples) in [-1, 1].

    ``seed`` is one int (stream b uses seed + b) or one seed per stream. ``guidance``: the
    conditioning strength (see the module notes; 1 = plain conditioning). ``on_audio(block)``
    receives each new block of samples as soon as it is made, float32 (batch, k) — after every
    chunk of the fast generator, every 256 samples of the reference one; the blocks, joined,
    are the returned audio (for playing while generating). It does not change the samples.
    """
    seeds = [int(s) for s in seed] if isinstance(seed, (list, tuple, np.ndarray)) else None
    batch = batch or (len(seeds) if seeds else inputs.batch)
    if not 1 <= batch <= MAX_BATCH:          # before any per-stream allocation: --batch 10**8 must not hang
        raise ValueError(f"Batch must be between 1 and {MAX_BATCH} streams; got {batch}.")
    seeds = seeds or [int(seed) + b for b in range(batch)]
    if len(seeds) != batch:
        raise ValueError(f"Got {len(seeds)} seeds for {batch} streams.")
    check_generation_args(inputs.n_samples, temperature, seeds, model.config.sample_rate, guidance=guidance)
    if batch * inputs.n_samples > MAX_BATCH_SAMPLES:
        raise ValueError(f"{batch} streams of {inputs.n_samples / model.config.sample_rate:g} s is more audio than one call "
                         f"makes ({MAX_BATCH_SAMPLES:,} samples); use a smaller batch or shorter clips.")
    inputs = inputs.expand(batch)
    uniforms = stream_uniforms(seeds, inputs.n_samples)
    model.eval()
    sent = 0

    def tap(t: int, classes: np.ndarray) -> None:
        """Hand on the samples made since the last call (a stop hook that never stops a stream)."""
        nonlocal sent
        if t > sent:
            on_audio(mu_law_decode(classes[:, sent:t]))
            sent = t

    hook = tap if on_audio is not None else None
    if method == "reference":
        classes = reference_classes(model, inputs, uniforms, temperature, progress, cancel, guidance=guidance, tap=hook)
    elif method == "fast":
        from .fast import fast_classes
        classes = fast_classes(model, inputs, uniforms, temperature, progress, cancel, guidance=guidance, stop=hook)
    else:
        raise ValueError(f"Unknown generation method {method!r}; use 'fast' or 'reference'.")
    if hook is not None:
        hook(classes.shape[1], classes)
    return mu_law_decode(classes)
