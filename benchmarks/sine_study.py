"""Sine instead of dilation? Four ways to hand a small WaveNet the requested pitch, measured alike.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sine_study.py                  # the study (~25 min, 1 core)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sine_study.py --quick          # smoke run (seconds)
    .venv/bin/python benchmarks/sine_study.py --steps 3000 --out runs/sine_study_long/results.json

    # on a shared machine: one single-thread process per variant (the same batches), then merge
    for v in frames sine_add sine_mask period_tap; do OMP_NUM_THREADS=1 nohup .venv/bin/python \
        benchmarks/sine_study.py --variants $v --out runs/sine_study/part_$v.json > runs/sine_study/log_$v.txt 2>&1 & done
    .venv/bin/python benchmarks/sine_study.py --merge runs/sine_study/part_*.json --out runs/sine_study/results.json

The variants (the same small WaveNet, the same data, steps, batch, segment, seed):

(a) ``frames``     — frame features only (``WaveNetConfig(excitation="none")``);
(b) ``sine_add``   — plus the sine excitation, added to every layer's conditioning
                      (``excitation="sine"``: sin/cos of k·φ, k = 1..4, φ integrated from f0);
(c) ``sine_mask``  — the same excitation as a multiplicative mask on the gates instead: each
                      layer's gated output z becomes z ⊙ (1 + tanh(W_l·e)), W_l a per-layer 1×1
                      projection initialised to zero (so training starts from (a));
(d) ``period_tap`` — frame features only plus ONE extra residual layer, between the two stacks,
                      whose second tap reads its input one period back: lag(t) = round(sr / f0(t))
                      samples, f0 held per frame (lag 1 where unvoiced), as the pitch-adaptive
                      layers of Quasi-Periodic WaveNet (Wu et al., 2019).

(c) and (d) are experiments and live here, not in ``wavenet_core``: both subclass ``WaveNet`` and
keep its ``forward(x, instrument, global_cond, local_cond, f0, phase0)``, so ``train.wavenet_loss``
and ``generate(..., method="reference")`` use them unchanged. (d) reads f0 from the local
features (row "f0", kHz), since the loss and the generator pass ``f0`` only to excitation models.

Metrics, the same for all four: held notes (6 instruments × 3 pitches in MIDI 41–77, 0.5 s,
loudness -12 dB) generated as one batch per variant at temperature 1, then ``pitch_track`` per
frame: the share of voiced frames within 50 cents of the request, the mean |error| in
semitones over voiced frames, the share of frames voiced at all, and the validation loss
(``train.evaluate_loss`` on fixed validation batches). A markdown table goes to stdout, the
figures (and the generated μ-law classes of one request per variant, for the notebook's
spectrograms) to the ``--out`` JSON; each model's weights go next to it as safetensors.

Generation: ``generate(method="reference")`` re-runs the upsampler over a ~1,400-sample window per
sample (minutes per variant here), and the compiled fast path knows only the plain WaveNet. So
the study samples all four with ``incremental_run`` — O(layers) per sample, the same uniforms and
sampling rule — which the tests check against ``forward`` (logits) and against
``generate(method="reference")`` (identical samples); ``--method reference`` runs the real thing.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wavenet_core.controls.conditioning import LOCAL_DIM, LOCAL_FEATURES, Controls, model_inputs, requested_curves  # noqa: E402
from wavenet_core.data.corpus import INSTRUMENTS  # noqa: E402
from wavenet_core.measure.descriptors import pitch_track  # noqa: E402
from wavenet_core.generation.inputs import ModelInputs, concat_inputs, sample_from_logits, stream_uniforms
from wavenet_core.generation.generate import generate  # noqa: E402
from wavenet_core.model.wavenet import ResidualLayer, WaveNet, WaveNetConfig  # noqa: E402
from wavenet_core.model.mulaw import SILENCE_CLASS, mu_law_decode, mu_law_encode  # noqa: E402
from wavenet_core.training.train import LossModule, TrainConfig, TrainingData, evaluate_loss, load_examples, lr_at  # noqa: E402

VARIANTS: tuple[str, ...] = ("frames", "sine_add", "sine_mask", "period_tap")
LABELS = {
    "frames": "(a) frame features only",
    "sine_add": "(b) + sine, additive",
    "sine_mask": "(c) + sine, mask on gates",
    "period_tap": "(d) + one period-lag layer",
}
F0_ROW = LOCAL_FEATURES.index("f0")         # local feature row holding f0 in kHz (0 = unvoiced or free)
DEFAULT_OUT = "runs/sine_study/results.json"
SHIPPED = ROOT / "benchmarks" / "results" / "sine_study.json"


# ---- (c): the excitation as a multiplicative mask on the gates ----------------------------------
class MaskedLayer(ResidualLayer):
    """ResidualLayer whose gated output is scaled per sample by the excitation:
    z ← z ⊙ (1 + tanh(W·e)), W a 1×1 (excitation_dim → gate/2) projection, zero at the start."""

    def __init__(self, cfg: WaveNetConfig, dilation: int, cond_dim: int, last: bool = False):
        super().__init__(cfg, dilation, cond_dim, last)
        # No bias: where the excitation is zero (unvoiced, pitch free) the mask is exactly 1.
        self.mask = nn.Conv1d(cfg.excitation_dim, cfg.gate_channels // 2, 1, bias=False)
        nn.init.zeros_(self.mask.weight)     # identity at the start: (c) begins where (a) begins

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None, excitation: torch.Tensor | None = None):
        """x (B, R, T), cond (B, cond_dim, T), excitation (B, 2K, T) → (residual (B, R, T), skip (B, S, T))."""
        h = self.dilated(x)
        if self.cond is not None:
            h = h + self.cond(cond)
        filt, gate = h.chunk(2, dim=1)
        z = torch.tanh(filt) * torch.sigmoid(gate)
        if excitation is not None:
            z = z * (1 + torch.tanh(self.mask(excitation)))
        return (x if self.residual is None else x + self.residual(z)), self.skip(z)


class SineMaskWaveNet(WaveNet):
    """WaveNet with ``excitation="sine"`` whose excitation masks every layer's gates instead of
    entering the additive conditioning (the layers' 1×1 ``cond`` projections see local + global only)."""

    def __init__(self, config: WaveNetConfig):
        if config.excitation != "sine" or config.context_layers:
            raise ValueError("SineMaskWaveNet needs excitation='sine' and no context stack.")
        super().__init__(config)
        self.cond_dim -= config.excitation_dim
        self.layers = nn.ModuleList(MaskedLayer(config, d, self.cond_dim, last=i == config.n_layers - 1)
                                    for i, d in enumerate(config.dilations))

    def forward(self, x: torch.Tensor, instrument=None, global_cond=None, local_cond=None,
                f0: torch.Tensor | None = None, phase0: torch.Tensor | None = None,
                x_in: torch.Tensor | None = None, frame_phase: torch.Tensor | None = None) -> torch.Tensor:
        """As ``WaveNet.forward``: x (B, T) classes → logits (B, 256, T); f0 (B, frames) Hz, phase0 (B,) rad;
        ``x_in`` (the past read, training only), ``frame_phase`` (B, frames) rad (training only)."""
        _check_x(x)
        ps = self.per_sample(x.shape[0], x.shape[1], instrument, global_cond, local_cond, f0, phase0, frame_phase)
        return self.stack(x if x_in is None else x_in, ps)

    def per_sample(self, batch: int, length: int, instrument=None, global_cond=None, local_cond=None, f0=None,
                   phase0=None, frame_phase=None) -> dict[str, torch.Tensor | None]:
        """Everything but the audio, per sample: "cond" (B, cond_dim, T), "excitation" (B, 2K, T)."""
        return {"cond": _frame_and_global_cond(self, batch, length, instrument, global_cond, local_cond),
                "excitation": self.excitation(f0, length, batch, phase0, frame_phase=frame_phase)}

    def stack(self, x: torch.Tensor, per_sample: dict) -> torch.Tensor:
        """x (B, T) classes (the past read) and ``per_sample`` (time-aligned with x) → logits (B, 256, T)."""
        h = self.embed(F.pad(x[:, :-1], (1, 0), value=SILENCE_CLASS)).transpose(1, 2)
        skips = 0
        for layer in self.layers:
            h, s = layer(h, per_sample["cond"], per_sample["excitation"])
            skips = skips + s
        return self.head2(F.relu(self.head1(F.relu(skips))))


# ---- (d): one extra layer whose second tap sits one period back -----------------------------------
def period_lag(f0: torch.Tensor, length: int, hop: int, sample_rate: int, default: int = 1,
               max_lag: int | None = None) -> torch.Tensor:
    """Per-sample lag (B, length) long: round(sr / f0) samples with f0 (B, frames) Hz held per frame
    of ``hop`` samples (the frame of sample t is t // hop, the last frame beyond the end),
    ``default`` where f0 ≤ 0, clamped to [1, max_lag] (default sr // 50: 50 Hz, the pitch
    tracker's floor, which keeps the tap inside the reference generator's window)."""
    max_lag = max_lag or sample_rate // 50
    frame = torch.clamp(torch.arange(length, device=f0.device) // hop, max=f0.shape[-1] - 1)
    f = f0.double()[:, frame]
    lag = torch.where(f > 0, torch.round(sample_rate / f.clamp_min(1e-6)), torch.full_like(f, float(default)))
    return lag.clamp(1, max_lag).long()


def lagged(h: torch.Tensor, lag: torch.Tensor) -> torch.Tensor:
    """h (B, C, T), lag (B, T) ≥ 1 → out (B, C, T) with out[..., t] = h[..., t − lag[t]] (zeros before
    the start): causal, each sample reads one earlier sample of its own stream."""
    t = torch.arange(h.shape[-1], device=h.device)
    src = t.unsqueeze(0) - lag                                        # (B, T)
    out = torch.gather(h, 2, src.clamp_min(0).unsqueeze(1).expand(-1, h.shape[1], -1))
    return out * (src >= 0).unsqueeze(1).to(h.dtype)


class PeriodLayer(nn.Module):
    """Gated residual layer whose two taps are x[t] and x[t − lag(t)] (lag given per sample)."""

    def __init__(self, cfg: WaveNetConfig, cond_dim: int):
        super().__init__()
        half = cfg.gate_channels // 2
        self.now = nn.Conv1d(cfg.residual_channels, cfg.gate_channels, 1)
        self.past = nn.Conv1d(cfg.residual_channels, cfg.gate_channels, 1, bias=False)
        self.cond = nn.Conv1d(cond_dim, cfg.gate_channels, 1, bias=False) if cond_dim else None
        self.residual = nn.Conv1d(half, cfg.residual_channels, 1)
        self.skip = nn.Conv1d(half, cfg.skip_channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None, lag: torch.Tensor):
        """x (B, R, T), cond (B, cond_dim, T), lag (B, T) → (residual (B, R, T), skip (B, S, T))."""
        h = self.now(x) + self.past(lagged(x, lag))
        if self.cond is not None:
            h = h + self.cond(cond)
        filt, gate = h.chunk(2, dim=1)
        z = torch.tanh(filt) * torch.sigmoid(gate)
        return x + self.residual(z), self.skip(z)


class PeriodTapWaveNet(WaveNet):
    """Frame-feature WaveNet plus one ``PeriodLayer`` after the first stack, so the second stack
    builds on the sample one period back. f0 comes from ``f0`` when given, else from the local
    features' f0 row — what training and the reference generator pass to a model without excitation."""

    def __init__(self, config: WaveNetConfig, default_lag: int = 1):
        if config.excitation != "none" or config.context_layers or config.local_dim != LOCAL_DIM:
            raise ValueError(f"PeriodTapWaveNet needs excitation='none', no context stack and the {LOCAL_DIM} local features.")
        super().__init__(config)
        self.period = PeriodLayer(config, self.cond_dim)
        self.insert_after = config.layers_per_stack - 1     # after the first stack
        self.default_lag = default_lag

    def lags(self, length: int, local_cond: torch.Tensor, f0: torch.Tensor | None = None) -> torch.Tensor:
        """(B, length) per-sample lag from f0 (B, frames) Hz, or from local_cond (B, 6, frames)."""
        cfg = self.config
        hz = f0 if f0 is not None else local_cond[:, F0_ROW] * 1000.0
        return period_lag(hz, length, cfg.hop_length, cfg.sample_rate, self.default_lag)

    def forward(self, x: torch.Tensor, instrument=None, global_cond=None, local_cond=None,
                f0: torch.Tensor | None = None, phase0: torch.Tensor | None = None,
                x_in: torch.Tensor | None = None, frame_phase: torch.Tensor | None = None) -> torch.Tensor:
        """As ``WaveNet.forward``: x (B, T) classes → logits (B, 256, T); ``x_in`` the past read (training
        only); ``phase0`` and ``frame_phase`` are unused (no excitation)."""
        _check_x(x)
        ps = self.per_sample(x.shape[0], x.shape[1], instrument, global_cond, local_cond, f0, phase0)
        return self.stack(x if x_in is None else x_in, ps)

    def per_sample(self, batch: int, length: int, instrument=None, global_cond=None, local_cond=None, f0=None,
                   phase0=None, frame_phase=None) -> dict[str, torch.Tensor | None]:
        """Everything but the audio, per sample: "cond" (B, cond_dim, T), "lag" (B, T) samples."""
        return {"cond": _frame_and_global_cond(self, batch, length, instrument, global_cond, local_cond),
                "lag": self.lags(length, local_cond, f0)}

    def stack(self, x: torch.Tensor, per_sample: dict) -> torch.Tensor:
        """x (B, T) classes (the past read) and ``per_sample`` (time-aligned with x) → logits (B, 256, T)."""
        cond = per_sample["cond"]
        h = self.embed(F.pad(x[:, :-1], (1, 0), value=SILENCE_CLASS)).transpose(1, 2)
        skips = 0
        for i, layer in enumerate(self.layers):
            h, s = layer(h, cond)
            skips = skips + s
            if i == self.insert_after:
                h, s = self.period(h, cond, per_sample["lag"])
                skips = skips + s
        return self.head2(F.relu(self.head1(F.relu(skips))))

    @property
    def extra_context(self) -> int:
        """Samples of past the period tap adds to the receptive field (at most)."""
        return self.config.sample_rate // 50


def _check_x(x: torch.Tensor) -> None:
    if x.dim() != 2 or x.dtype != torch.long:
        raise ValueError(f"x must be a LongTensor (batch, time) of μ-law classes, got {x.dtype} {tuple(x.shape)}.")


def _frame_and_global_cond(model: WaveNet, batch: int, length: int, instrument, global_cond, local_cond
                           ) -> torch.Tensor | None:
    """(B, cond_dim, length): upsampled local features and the global vector, never the excitation."""
    parts = []
    if model.upsampler is not None:
        if local_cond is None:
            raise ValueError("This model needs local_cond (frame features); see wavenet_core.controls.conditioning.")
        parts.append(model.upsample_local(local_cond, length))
    g = model.global_vector(batch, instrument, global_cond)
    if g is not None:
        parts.append(g.unsqueeze(-1).expand(-1, -1, length))
    return torch.cat(parts, dim=1) if parts else None


# ---- generation: the reference rule over a short window, the conditioning computed once -------------
def per_sample_inputs(model: WaveNet, inputs: ModelInputs) -> dict[str, torch.Tensor | None]:
    """The whole clip's per-sample conditioning (B, C, n_samples) — plus (c)'s excitation or (d)'s
    lag (B, n_samples) — exactly what a forward pass over the whole clip computes."""
    b, n = inputs.batch, inputs.n_samples
    if hasattr(model, "per_sample"):
        return model.per_sample(b, n, inputs.instrument, inputs.global_cond, inputs.local_cond, inputs.f0_hz,
                                inputs.phase0)
    if model.config.context_layers:
        raise ValueError("the windowed generator does not take a context stack; use method='reference'")
    excite = model.config.excitation_dim > 0
    return {"cond": model.conditioning(torch.zeros(b, n, dtype=torch.long), inputs.instrument, inputs.global_cond,
                                       inputs.local_cond, f0=inputs.f0_hz if excite else None,
                                       phase0=inputs.phase0 if excite else None)}


def run_stack(model: WaveNet, x: torch.Tensor, per_sample: dict) -> torch.Tensor:
    """The dilated stack and head of any variant: x (B, T), per-sample inputs aligned with x → logits (B, 256, T)."""
    if hasattr(model, "stack"):
        return model.stack(x, per_sample)
    h = model.embed(F.pad(x[:, :-1], (1, 0), value=SILENCE_CLASS)).transpose(1, 2)
    skips = 0
    for layer in model.layers:
        h, s = layer(h, per_sample["cond"])
        skips = skips + s
    return model.head2(F.relu(model.head1(F.relu(skips))))


@torch.no_grad()
def windowed_generate(model: WaveNet, inputs: ModelInputs, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """``generate(method="reference")``'s samples at a fraction of its cost → float32 (B, n_samples).

    The reference path re-runs the upsampler over a ~1,400-sample window per sample; here the
    conditioning is computed once for the whole clip and each sample runs only the stack over
    its receptive field (+ the period tap's reach for (d), + 2: the one-sample shift and the
    silence it pads). The same uniforms (seed + b per stream) and ``sample_from_logits``;
    tests/test_sine_study.py checks the classes equal the reference path's.
    """
    model.eval()
    b, n = inputs.batch, inputs.n_samples
    per_sample = per_sample_inputs(model, inputs)
    window = model.config.receptive_field + getattr(model, "extra_context", 0) + 2
    uniforms = stream_uniforms([seed + i for i in range(b)], n)
    x = torch.full((b, n), SILENCE_CLASS, dtype=torch.long)
    for t in range(n):
        w0 = max(0, t + 1 - window)
        ps = {k: None if v is None else v[..., w0: t + 1] for k, v in per_sample.items()}
        logits = run_stack(model, x[:, w0: t + 1], ps)[:, :, -1]
        x[:, t] = torch.from_numpy(sample_from_logits(logits.numpy(), uniforms[:, t], temperature))
    return mu_law_decode(x.numpy())


@torch.no_grad()
def incremental_run(model: WaveNet, inputs: ModelInputs, uniforms: np.ndarray | None = None, temperature: float = 1.0,
                    forced: torch.Tensor | None = None) -> tuple[np.ndarray, torch.Tensor | None]:
    """Sample by sample with O(layers) work per sample, for all four variants (after Paine et al., 2016).

    Every layer keeps the history of its inputs (B, R, n), so a sample reads its dilated tap — or
    (d)'s tap one period back — instead of recomputing the receptive field; the conditioning
    projections, (c)'s masks and (d)'s lags are computed once for the whole clip.

    ``uniforms`` (B, n) float64 → sampled classes (B, n) by ``sample_from_logits``. With ``forced``
    (B, n) classes instead, the model is teacher-forced on them and the logits (B, 256, n) are
    returned too: tests compare those with ``forward`` (the same math, summed in another order).
    """
    model.eval()
    cfg = model.config
    b, n = inputs.batch, inputs.n_samples
    ps = per_sample_inputs(model, inputs)
    cond, excitation, lag = ps.get("cond"), ps.get("excitation"), ps.get("lag")
    half = cfg.gate_channels // 2

    def unpack(layer, conv_now, conv_past, dilation):
        """One gated layer as plain matrices, its conditioning projected over the whole clip."""
        return {"now": conv_now, "past": conv_past, "d": dilation,
                "cond": None if layer.cond is None else layer.cond(cond),                 # (B, G, n)
                "mask": (1 + torch.tanh(layer.mask(excitation))) if hasattr(layer, "mask") else None,
                "res": None if layer.residual is None else (layer.residual.weight[..., 0], layer.residual.bias),
                "skip": (layer.skip.weight[..., 0], layer.skip.bias),
                "hist": torch.zeros(b, cfg.residual_channels, n)}

    layers = []
    for layer in model.layers:
        w = layer.dilated.weight                                   # (G, R, 2): tap 0 reads t − d, tap 1 reads t
        layers.append(unpack(layer, (w[..., 1], layer.dilated.bias), w[..., 0], layer.dilated.dilation[0]))
    period = None
    if isinstance(model, PeriodTapWaveNet):
        p = model.period
        period = unpack(p, (p.now.weight[..., 0], p.now.bias), p.past.weight[..., 0], None)
    rows = torch.arange(b)
    x = torch.full((b, n), SILENCE_CLASS, dtype=torch.long) if forced is None else forced
    logits_all = torch.zeros(b, cfg.n_classes, n) if forced is not None else None

    def step(L, h, t, past):
        L["hist"][:, :, t] = h
        g = h @ L["now"][0].T + L["now"][1] + past @ L["past"].T
        if L["cond"] is not None:
            g = g + L["cond"][:, :, t]
        z = torch.tanh(g[:, :half]) * torch.sigmoid(g[:, half:])
        if L["mask"] is not None:
            z = z * L["mask"][:, :, t]
        s = z @ L["skip"][0].T + L["skip"][1]
        return (h if L["res"] is None else h + z @ L["res"][0].T + L["res"][1]), s

    zeros = torch.zeros(b, cfg.residual_channels)
    for t in range(n):
        h = model.embed(x[:, t - 1] if t else torch.full((b,), SILENCE_CLASS, dtype=torch.long))
        skips = 0
        for i, L in enumerate(layers):
            h, s = step(L, h, t, L["hist"][:, :, t - L["d"]] if t >= L["d"] else zeros)
            skips = skips + s
            if period is not None and i == model.insert_after:
                src = t - lag[:, t]
                past = period["hist"][rows, :, src.clamp_min(0)] * (src >= 0).unsqueeze(1)
                h, s = step(period, h, t, past)
                skips = skips + s
        logits = F.linear(F.relu(F.linear(F.relu(skips), model.head1.weight[..., 0], model.head1.bias)),
                          model.head2.weight[..., 0], model.head2.bias)
        if forced is None:
            x[:, t] = torch.from_numpy(sample_from_logits(logits.numpy(), uniforms[:, t], temperature))
        else:
            logits_all[:, :, t] = logits
    return x.numpy(), logits_all


def incremental_generate(model: WaveNet, inputs: ModelInputs, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """``incremental_run`` with ``generate``'s uniforms (stream b: seed + b) → float32 audio (B, n_samples)."""
    uniforms = stream_uniforms([seed + i for i in range(inputs.batch)], inputs.n_samples)
    return mu_law_decode(incremental_run(model, inputs, uniforms, temperature)[0])


# ---- building, saving, loading ----------------------------------------------------------------------
SMALL = dict(layers_per_stack=6, stacks=2, residual_channels=16, gate_channels=32, skip_channels=32,
             upsample_channels=16, instrument_embed_dim=8)
TINY = dict(layers_per_stack=3, stacks=2, residual_channels=8, gate_channels=16, skip_channels=16,
            upsample_channels=8, instrument_embed_dim=4)


def variant_config(variant: str, quick: bool = False) -> WaveNetConfig:
    """The shared small config, with the excitation each variant needs."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}.")
    return WaveNetConfig(**(TINY if quick else SMALL), local_dim=LOCAL_DIM, n_instruments=len(INSTRUMENTS),
                         instrument_names=INSTRUMENTS,
                         excitation="sine" if variant in ("sine_add", "sine_mask") else "none")


def build_variant(variant: str, config: WaveNetConfig) -> WaveNet:
    if variant == "sine_mask":
        return SineMaskWaveNet(config)
    if variant == "period_tap":
        return PeriodTapWaveNet(config)
    return WaveNet(config)


def save_variant(model: WaveNet, variant: str, path: Path, info: dict) -> None:
    """Weights (safetensors) with the variant name, config and training info in the metadata."""
    from safetensors.torch import save_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"variant": variant, "config": json.dumps(model.config.to_dict()),
                                            "info": json.dumps(info)})


def load_variant(path: str | Path) -> tuple[str, WaveNet]:
    """A file written by ``save_variant`` → (variant, model in eval mode)."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    variant = meta["variant"]
    model = build_variant(variant, WaveNetConfig.from_dict(json.loads(meta["config"])))
    model.load_state_dict(load_file(str(path)))
    return variant, model.eval()


# ---- the study --------------------------------------------------------------------------------------
@dataclass
class StudyConfig:
    steps: int = 400
    batch_size: int = 8
    segment: int = 1600              # samples per training window (10 frames)
    lr: float = 3e-3
    warmup: int = 60
    seed: int = 0
    corpus_size: int = 240
    corpus_seconds: float = 1.0
    val_batches: int = 8
    input_noise: float = 0.2         # train.TrainConfig.input_noise, as the shipped notes recipe (0: clean past)
    minutes_per_variant: float = 0.0  # > 0: cap the (shared) step count so the slowest variant fits
    pitches: tuple[int, ...] = (41, 54, 67)   # + 2·(instrument index): 18 distinct notes in MIDI 41–77
    seconds: float = 0.5
    loudness: float = -12.0
    temperature: float = 1.0
    method: str = "incremental"      # generator for all four: "incremental", "windowed" or "reference"
    quick: bool = False


QUICK = dict(steps=30, batch_size=4, segment=1600, warmup=5, lr=1e-2, corpus_size=24, corpus_seconds=0.5,
             val_batches=1, pitches=(48,), seconds=0.06, quick=True)


def requests(sc: StudyConfig) -> list[tuple[str, float]]:
    """(instrument, MIDI) per stream: every instrument, each pitch offset by 2·index."""
    names = INSTRUMENTS[:2] if sc.quick else INSTRUMENTS
    return [(name, float(p + 2 * i)) for i, name in enumerate(names) for p in sc.pitches]


def train_variant(variant: str, sc: StudyConfig, data: TrainingData, steps: int, log=print) -> tuple[WaveNet, dict]:
    """A plain loop over ``train``'s pieces: the same batches (a pure function of seed and step),
    AdamW, warm-up + cosine, clipping — what ``train.train`` does, minus checkpoints and DDP."""
    tc = _train_config(sc, steps)
    torch.manual_seed(sc.seed)
    model = build_variant(variant, variant_config(variant, sc.quick))
    loss_fn = LossModule(model)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    model.train()
    for step in range(steps):
        batch = data.batch(tc.seed, step, tc.batch_size)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        loss, _ = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        if (step + 1) % max(1, steps // 6) == 0:
            log(f"  {variant}: step {step + 1}/{steps} loss {loss.item():.3f}")
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    val_loss, val_acc = evaluate_loss(model, data, tc, "cpu")
    info = {"steps": steps, "train_seconds": train_s, "train_cpu_seconds": train_cpu, "val_loss": val_loss,
            "val_acc": val_acc, "final_train_loss": float(loss.item()), "parameters": model.n_parameters}
    return model.eval(), info


def _train_config(sc: StudyConfig, steps: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=sc.batch_size, segment=sc.segment, lr=sc.lr,
                       warmup=min(sc.warmup, max(1, steps // 5)), seed=sc.seed, val_batches=sc.val_batches,
                       corpus_size=sc.corpus_size, corpus_seconds=sc.corpus_seconds, input_noise=sc.input_noise)


def calibrate_steps(sc: StudyConfig, data: TrainingData, log=print, probe: int = 8) -> int:
    """The shared step count under ``--minutes-per-variant``: the slowest variant's measured step time
    (``probe`` steps each, after one warm-up step) decides, so all four still train equally long."""
    tc = _train_config(sc, sc.steps)
    slowest = 0.0
    for variant in VARIANTS:
        torch.manual_seed(sc.seed)
        model = build_variant(variant, variant_config(variant, sc.quick))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for i in range(probe + 1):
            if i == 1:
                t0 = time.perf_counter()
            loss, _ = LossModule(model)(data.batch(tc.seed, i, tc.batch_size))
            opt.zero_grad()
            loss.backward()
            opt.step()
        slowest = max(slowest, (time.perf_counter() - t0) / probe)
    steps = max(1, min(sc.steps, int(sc.minutes_per_variant * 60 / slowest)))
    log(f"--minutes-per-variant {sc.minutes_per_variant:g}: slowest {slowest * 1000:.0f} ms/step → {steps} steps each")
    return steps


def pitch_metrics(clips: np.ndarray, requested_hz: list[float], sample_rate: int, hop: int) -> dict:
    """clips (N, T) float audio, one requested f0 (Hz) per clip → pooled per-frame pitch metrics:
    ``within_50`` share of voiced frames within 50 cents; ``mean_abs_semitones`` mean |error| over
    voiced frames; ``median_abs_cents``; ``voiced_share`` share of all frames voiced."""
    errs, n_frames = [], 0
    for audio, hz in zip(clips, requested_hz):
        f = pitch_track(audio, sample_rate, hop)
        n_frames += len(f)
        v = f > 0
        errs.append(12 * np.log2(f[v] / hz))
    err = np.abs(np.concatenate(errs)) if errs else np.zeros(0)
    voiced = len(err)
    return {"within_50": float(np.mean(err <= 0.5)) if voiced else 0.0,
            "mean_abs_semitones": float(np.mean(err)) if voiced else None,
            "median_abs_cents": float(100 * np.median(err)) if voiced else None,
            "voiced_share": voiced / max(1, n_frames), "voiced_frames": voiced, "frames": n_frames}


def generate_variant(model: WaveNet, variant: str, sc: StudyConfig) -> tuple[np.ndarray, dict]:
    """The request plan, all streams in one batch → (audio (N, T) float32, metrics)."""
    cfg = model.config
    plan = requests(sc)
    controls = [Controls(seconds=sc.seconds, instrument=name, pitch=midi, loudness=sc.loudness) for name, midi in plan]
    inputs = concat_inputs([model_inputs(c, cfg) for c in controls])
    # One path for all four (their extra operations exist only in their forward, so the compiled
    # generator cannot run (c) and (d)): "incremental", O(layers) per sample; "windowed" and
    # "reference" give generate(method="reference")'s exact samples at 10-100× the cost.
    t0 = time.perf_counter()
    if sc.method == "incremental":
        audio = incremental_generate(model, inputs, sc.temperature, sc.seed)
    elif sc.method == "windowed":
        audio = windowed_generate(model, inputs, sc.temperature, sc.seed)
    elif sc.method == "reference":
        audio = generate(model, inputs, temperature=sc.temperature, seed=sc.seed, method="reference")
    else:
        raise ValueError(f"unknown method {sc.method!r}: use incremental, windowed or reference")
    method = sc.method
    gen_s = time.perf_counter() - t0
    hz = [float(requested_curves(c, cfg.sample_rate, cfg.hop_length).f0_hz[0]) for c in controls]
    m = pitch_metrics(audio, hz, cfg.sample_rate, cfg.hop_length)
    m.update(generation_seconds=gen_s, generation_method=method, clips=len(plan))
    return audio, m


def run_study(sc: StudyConfig, out: Path | None = None, log=print, variants: tuple[str, ...] = VARIANTS) -> dict:
    """Train, save and measure each variant; returns (and writes to ``out``) the results dict."""
    torch.manual_seed(sc.seed)
    tc = _train_config(sc, sc.steps)
    hop = variant_config("frames", sc.quick).hop_length
    examples, _ = load_examples(tc, hop, log=log)
    rf = max(variant_config(v, sc.quick).receptive_field for v in variants)
    data = TrainingData(examples, hop, sc.segment, len(INSTRUMENTS), tc.cond_dropout, tc.free_share, history=rf,
                        input_noise=tc.input_noise)
    steps = calibrate_steps(sc, data, log) if sc.minutes_per_variant > 0 else sc.steps
    log(f"{len(data.train)} train / {len(data.val)} val clips; {steps} steps × batch {sc.batch_size} × "
        f"{data.segment} samples per variant")
    results = {"study": "sine instead of dilation", "settings": {**asdict(sc), "steps": steps},
               "command": " ".join(["benchmarks/sine_study.py", *sys.argv[1:]]) if out is not None else "",
               "requests": [{"instrument": n, "midi": m} for n, m in requests(sc)], "variants": {}}
    example_index = _example_index(sc)
    for variant in variants:
        log(f"{LABELS[variant]}: training")
        model, info = train_variant(variant, sc, data, steps, log)
        if out is not None:
            save_variant(model, variant, out.parent / f"{variant}.safetensors", info)
        log(f"{LABELS[variant]}: generating {len(requests(sc))} notes")
        audio, metrics = generate_variant(model, variant, sc)
        classes = mu_law_encode(torch.from_numpy(audio[example_index])).numpy().astype(np.uint8)
        results["variants"][variant] = {"label": LABELS[variant], **info, **metrics,
                                        "receptive_field": model.config.receptive_field,
                                        "example_mulaw_b64": base64.b64encode(classes.tobytes()).decode()}
        log(format_row(variant, results["variants"][variant]))
        if out is not None:
            write_json(out, results)
    return results


def _example_index(sc: StudyConfig) -> int:
    """The request whose outputs the notebook shows side by side: organ (flat, sustained) at its middle pitch."""
    plan = requests(sc)
    names = [n for n, _ in plan]
    return names.index("organ") + len(sc.pitches) // 2 if "organ" in names else 0


def example_request(results: dict) -> dict:
    """{"instrument", "midi", "seconds"} of the request stored as each variant's example output."""
    sc = StudyConfig(**{k: v for k, v in results["settings"].items() if k in StudyConfig.__dataclass_fields__})
    sc.pitches = tuple(sc.pitches)
    return {**results["requests"][_example_index(sc)], "seconds": sc.seconds}


def example_audio(results: dict, variant: str) -> np.ndarray:
    """The stored example output of a variant as float audio (decoded μ-law)."""
    raw = np.frombuffer(base64.b64decode(results["variants"][variant]["example_mulaw_b64"]), dtype=np.uint8)
    return mu_law_decode(raw.astype(np.int64))


def write_json(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, path)


def format_row(variant: str, r: dict) -> str:
    def f(v, fmt):
        return "—" if v is None else fmt.format(v)
    return (f"| {r['label']} | {f(r['within_50'], '{:.0%}')} | {f(r['mean_abs_semitones'], '{:.2f}')} | "
            f"{f(r['voiced_share'], '{:.0%}')} | {r['val_loss']:.3f} | {r['parameters']:,} | "
            f"{r['train_cpu_seconds'] / 60:.1f} |")


def format_table(results: dict) -> str:
    """The results as a markdown table, one row per variant."""
    head = ("| variant | voiced frames within 50 cents | mean abs. pitch error (semitones) | frames voiced | "
            "validation loss | parameters | training, CPU min |\n|---|---|---|---|---|---|---|")
    return "\n".join([head] + [format_row(v, r) for v, r in results["variants"].items()])


def merge_results(parts: list[dict]) -> dict:
    """Runs of variant subsets (``--variants``, e.g. one process per variant) → one results dict,
    variants in study order. Refuses runs whose settings differ: the budget must be equal."""
    if not parts:
        raise ValueError("nothing to merge")
    settings = parts[0]["settings"]
    for r in parts[1:]:
        if r["settings"] != settings:
            diff = sorted(k for k in settings if settings[k] != r["settings"].get(k))
            raise ValueError(f"cannot merge runs with different settings ({', '.join(diff)})")
    merged = {**parts[0], "variants": {}, "command": [r.get("command", "") for r in parts]}
    found = {v: r for part in parts for v, r in part["variants"].items()}
    for v in VARIANTS:
        if v in found:
            merged["variants"][v] = found[v]
    merged["total_seconds"] = max(r.get("total_seconds", 0.0) for r in parts)
    return merged


def main(argv: list[str] | None = None) -> None:
    d = StudyConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tens of steps, a tiny model and a two-note plan (seconds)")
    p.add_argument("--steps", type=int, default=None, help=f"training steps per variant (default {d.steps})")
    p.add_argument("--minutes-per-variant", type=float, default=0.0,
                   help="cap the shared step count so the slowest variant trains in about this long")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--segment", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=["incremental", "windowed", "reference"], default="incremental",
                   help="generator for all four: incremental (O(layers) per sample), windowed (generate's "
                        "reference samples exactly, ~20x slower) or reference (generate(method='reference'), slowest)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    p.add_argument("--out", default=DEFAULT_OUT, help="results JSON; the models are saved next to it")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="combine results of --variants runs into --out, print the table")
    a = p.parse_args(argv)
    if a.merge:
        results = merge_results([json.loads(Path(m).read_text()) for m in a.merge])
        write_json(Path(a.out), results)
        print(format_table(results))
        return
    torch.set_num_threads(1)           # one core: the study must not slow the machine's other job
    sc = StudyConfig(**QUICK) if a.quick else StudyConfig()
    sc = replace(sc, seed=a.seed, method=a.method, minutes_per_variant=a.minutes_per_variant,
                 **{k: v for k, v in (("steps", a.steps), ("batch_size", a.batch_size), ("segment", a.segment)) if v})
    variants = tuple(v.strip() for v in a.variants.split(",") if v.strip())
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"error: unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    out = Path(a.out)
    t0 = time.perf_counter()
    results = run_study(sc, out, log=lambda m: print(m, file=sys.stderr, flush=True), variants=variants)
    results["total_seconds"] = time.perf_counter() - t0
    write_json(out, results)
    print(format_table(results))
    print(f"\nresults: {out}  (total {results['total_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
