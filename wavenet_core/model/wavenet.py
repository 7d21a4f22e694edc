"""WaveNet (van den Oord et al., 2016): one readable model file.

Conventions
-----------
* Input ``x`` is a LongTensor (batch, time) of μ-law classes. The model shifts it right by one
  sample internally, so ``logits[:, :, t]`` is the distribution of ``x[:, t]`` given ``x[:, :t]``
  and the training loss is simply ``cross_entropy(logits, x)``.
* Global conditioning: ``instrument`` — a LongTensor (batch,) of class ids, or a FloatTensor
  (batch, n_instruments + 1) of mixture weights over the learned embeddings; the extra last id
  ``n_instruments`` means "instrument left free" (trained by conditioning dropout) — and/or
  ``global_cond``, a FloatTensor (batch, global_dim).
* Local conditioning: ``local_cond`` FloatTensor (batch, local_dim, frames) at
  ``sample_rate / hop_length`` frames per second; frame f covers samples [f·hop, (f+1)·hop).
  A learned transposed-convolution network upsamples it to the sample rate.
* Excitation (``excitation="sine"``): the requested pitch handed over as a period rather than a
  number, after neural source-filter models (Wang et al., 2019): sin(kφ), cos(kφ) for
  k = 1..``excitation_harmonics`` of the phase φ integrated from ``f0`` (Hz per frame, 0 =
  unvoiced) at the sample rate, zero where unvoiced and for harmonics above Nyquist. It is
  concatenated with the upsampled local features (it does not pass through the upsampler), so
  every layer's 1×1 conditioning projection sees the period sample by sample.
* Context stack: an optional low-rate stack over past audio; its output for frame f only
  reaches samples of frame f + 1 onwards, so the model stays causal.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .mulaw import N_CLASSES, SILENCE_CLASS, mu_law_decode


EXCITATIONS: tuple[str, ...] = ("none", "sine")


def excitation_phase(f0: torch.Tensor, hop: int, sample_rate: int, phase0: torch.Tensor | None = None) -> torch.Tensor:
    """Phase (radians, float64) at the start of every frame: (B, frames) f0 in Hz → (B, frames).

    f0 is held constant over each frame of ``hop`` samples, so the phase at sample t of frame f
    is ``phase[f] + 2π·f0[f]·(t − f·hop)/sr`` in closed form: any slice of samples gets exactly the
    values of the whole clip (the fast generator builds it chunk by chunk).
    """
    f0 = f0.double().clamp_min(0)
    step = (2 * math.pi * hop / sample_rate) * f0
    phase = torch.cumsum(step, dim=-1) - step           # exclusive cumulative sum
    if phase0 is not None:
        phase = phase + phase0.double().reshape(-1, 1)
    return phase


def sine_excitation(f0: torch.Tensor, harmonics: int, hop: int, sample_rate: int, start: int, length: int,
                    phase0: torch.Tensor | None = None, frame_phase: torch.Tensor | None = None) -> torch.Tensor:
    """Samples [start, start + length) of the sine excitation: (B, frames) f0 → (B, 2K, length) float32.

    Rows 2(k−1), 2(k−1)+1 are sin(kφ), cos(kφ); zero where the frame is unvoiced (f0 ≤ 0) and for
    harmonics at or above Nyquist. ``phase0`` (B,) is the phase at sample 0. ``frame_phase``
    (B, frames), training only: the phase at each frame's first sample taken from the audio itself
    (``Example.phase``) instead of integrating f0, so the excitation is in phase with the target.
    """
    b, n_frames = f0.shape
    t = torch.arange(start, start + length, dtype=torch.float64)
    frame = torch.clamp(torch.div(t, hop, rounding_mode="floor").long(), max=n_frames - 1)
    f0d = f0.double().clamp_min(0)
    f = f0d[:, frame]                                                      # (B, length) Hz
    start_phase = (excitation_phase(f0d, hop, sample_rate, phase0) if frame_phase is None
                   else frame_phase.double()[:, :n_frames])
    phase = start_phase[:, frame] + (2 * math.pi / sample_rate) * f * (t - frame * hop)
    phase = torch.remainder(phase, 2 * math.pi)
    k = torch.arange(1, harmonics + 1, dtype=torch.float64).reshape(1, -1, 1)
    kphase = k * phase.unsqueeze(1)                                        # (B, K, length)
    on = ((f.unsqueeze(1) > 0) & (k * f.unsqueeze(1) < sample_rate / 2)).double()
    out = torch.stack([torch.sin(kphase) * on, torch.cos(kphase) * on], dim=2)   # (B, K, 2, length)
    return out.reshape(b, 2 * harmonics, length).float()


@dataclass
class WaveNetConfig:
    sample_rate: int = 16000
    layers_per_stack: int = 10          # dilations 1, 2, …, 2**(layers_per_stack-1)
    stacks: int = 2
    residual_channels: int = 32
    gate_channels: int = 64             # split in two halves: tanh filter and sigmoid gate
    skip_channels: int = 128
    n_classes: int = N_CLASSES
    # global conditioning
    n_instruments: int = 0              # 0: no instrument embedding
    instrument_embed_dim: int = 16
    global_dim: int = 0                 # continuous global vector, 0: none
    # local conditioning
    local_dim: int = 0                  # frame features, 0: none
    hop_length: int = 160               # samples per conditioning frame
    upsample_scales: tuple[int, ...] = (4, 4, 10)   # product must equal hop_length
    upsample_channels: int = 32
    # context stack
    context_layers: int = 0             # 0: no context stack
    context_hop: int = 256
    context_channels: int = 32
    # excitation: "none", or "sine" (sin/cos of k·φ, k = 1..excitation_harmonics, from the f0 input)
    excitation: str = "none"
    excitation_harmonics: int = 4
    # names of the instruments, in id order (documentation for users; not used by the math)
    instrument_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.upsample_scales = tuple(int(s) for s in self.upsample_scales)
        self.instrument_names = tuple(self.instrument_names)
        checks = [
            (self.sample_rate >= 1000, "sample_rate must be at least 1000 Hz"),
            (self.layers_per_stack >= 1 and self.stacks >= 1, "layers_per_stack and stacks must be >= 1"),
            (self.residual_channels >= 1 and self.skip_channels >= 1, "channel counts must be >= 1"),
            (self.gate_channels >= 2 and self.gate_channels % 2 == 0, "gate_channels must be even (tanh half, sigmoid half)"),
            (self.n_classes == N_CLASSES, f"n_classes must be {N_CLASSES} (μ = 255)"),
            (self.n_instruments >= 0 and self.global_dim >= 0 and self.local_dim >= 0, "conditioning sizes must be >= 0"),
            (self.local_dim == 0 or math.prod(self.upsample_scales) == self.hop_length,
             f"upsample_scales {self.upsample_scales} must multiply to hop_length {self.hop_length}"),
            (self.context_layers >= 0 and self.context_hop >= 1, "context_layers >= 0 and context_hop >= 1"),
            (self.excitation in EXCITATIONS, f"excitation must be one of {', '.join(EXCITATIONS)}"),
            (1 <= self.excitation_harmonics <= 64, "excitation_harmonics must be between 1 and 64"),
            (not self.instrument_names or len(self.instrument_names) == self.n_instruments,
             "instrument_names must list one name per instrument"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid WaveNetConfig: {message}.")

    @property
    def dilations(self) -> list[int]:
        return [2 ** i for i in range(self.layers_per_stack)] * self.stacks

    @property
    def n_layers(self) -> int:
        return self.layers_per_stack * self.stacks

    @property
    def receptive_field(self) -> int:
        """Past samples one prediction of the dilated stack sees (kernel 2, plus the one-sample shift)."""
        return sum(self.dilations) + 1

    @property
    def receptive_field_ms(self) -> float:
        return 1000.0 * self.receptive_field / self.sample_rate

    @property
    def excitation_dim(self) -> int:
        """Per-sample excitation channels (sin and cos per harmonic), 0 without excitation."""
        return 2 * self.excitation_harmonics if self.excitation == "sine" else 0

    @property
    def global_cond_dim(self) -> int:
        return (self.instrument_embed_dim if self.n_instruments else 0) + self.global_dim

    def to_dict(self) -> dict:
        d = asdict(self)
        d["upsample_scales"] = list(self.upsample_scales)
        d["instrument_names"] = list(self.instrument_names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "WaveNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"Unknown WaveNetConfig field(s): {', '.join(unknown)}.")
        return cls(**d)


class CausalConv1d(nn.Conv1d):
    """Kernel-2 dilated convolution padded on the left only, so output t sees inputs ≤ t."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int):
        super().__init__(in_ch, out_ch, kernel_size=2, dilation=dilation)
        self.left_pad = dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class ResidualLayer(nn.Module):
    """Gated unit z = tanh(W_f∗x + V_f·h) ⊙ σ(W_g∗x + V_g·h) with residual and skip 1×1 outputs."""

    def __init__(self, cfg: WaveNetConfig, dilation: int, cond_dim: int, last: bool = False):
        super().__init__()
        half = cfg.gate_channels // 2
        self.dilation = dilation
        self.dilated = CausalConv1d(cfg.residual_channels, cfg.gate_channels, dilation)
        # One 1×1 projection of all per-sample conditioning (local + context + global, concatenated).
        self.cond = nn.Conv1d(cond_dim, cfg.gate_channels, 1, bias=False) if cond_dim else None
        # The last layer feeds only the skip path; a residual there would be an unused weight.
        self.residual = None if last else nn.Conv1d(half, cfg.residual_channels, 1)
        self.skip = nn.Conv1d(half, cfg.skip_channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None):
        h = self.dilated(x)
        if self.cond is not None:
            h = h + self.cond(cond)
        filt, gate = h.chunk(2, dim=1)
        z = torch.tanh(filt) * torch.sigmoid(gate)
        return (x if self.residual is None else x + self.residual(z)), self.skip(z)


class Upsampler(nn.Module):
    """Frame-rate features → sample rate by learned transposed convolutions (one per scale)."""

    def __init__(self, cfg: WaveNetConfig):
        super().__init__()
        ch = cfg.upsample_channels
        self.inp = nn.Conv1d(cfg.local_dim, ch, 3, padding=1)
        self.ups = nn.ModuleList(nn.ConvTranspose1d(ch, ch, kernel_size=2 * s, stride=s) for s in cfg.upsample_scales)
        self.scales = cfg.upsample_scales

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.inp(frames))
        n = frames.shape[-1]
        for up, s in zip(self.ups, self.scales):
            n *= s
            # kernel 2s, stride s: each frame spreads over itself and its successor; crop the tail.
            h = F.leaky_relu(up(h)[..., :n], 0.4)
        return h


class ContextStack(nn.Module):
    """Low-rate causal stack over past audio: one frame = context_hop samples."""

    def __init__(self, cfg: WaveNetConfig):
        super().__init__()
        ch = cfg.context_channels
        self.hop = cfg.context_hop
        self.frame = nn.Conv1d(1, ch, kernel_size=cfg.context_hop, stride=cfg.context_hop)
        self.layers = nn.ModuleList(CausalConv1d(ch, ch, 2 ** i) for i in range(cfg.context_layers))

    def frames(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, T) float → (B, ch, T // hop): feature f summarises samples < (f+1)·hop."""
        h = torch.tanh(self.frame(audio.unsqueeze(1)))
        for layer in self.layers:
            h = h + torch.tanh(layer(h))
        return h

    def forward(self, audio: torch.Tensor, length: int) -> torch.Tensor:
        """Per-sample context for samples 0..length-1, using complete frames strictly in the past."""
        n_frames = audio.shape[1] // self.hop
        if n_frames == 0:  # no complete frame in the past yet
            return audio.new_zeros(audio.shape[0], self.frame.out_channels, length)
        feats = F.pad(self.frames(audio[:, : n_frames * self.hop]), (1, 0))  # shift one frame: frame f's summary first reaches frame f+1
        per_sample = feats.repeat_interleave(self.hop, dim=-1)
        if per_sample.shape[-1] < length:
            per_sample = F.pad(per_sample, (0, length - per_sample.shape[-1]))
        return per_sample[..., :length]


class WaveNet(nn.Module):
    def __init__(self, config: WaveNetConfig):
        super().__init__()
        cfg = self.config = config
        self.embed = nn.Embedding(cfg.n_classes, cfg.residual_channels)
        self.instrument_embed = nn.Embedding(cfg.n_instruments + 1, cfg.instrument_embed_dim) if cfg.n_instruments else None
        self.upsampler = Upsampler(cfg) if cfg.local_dim else None
        self.context = ContextStack(cfg) if cfg.context_layers else None
        self.cond_dim = (cfg.upsample_channels if cfg.local_dim else 0) + (cfg.context_channels if cfg.context_layers else 0)
        self.cond_dim += cfg.excitation_dim + cfg.global_cond_dim
        self.layers = nn.ModuleList(ResidualLayer(cfg, d, self.cond_dim, last=i == cfg.n_layers - 1)
                                    for i, d in enumerate(cfg.dilations))
        self.head1 = nn.Conv1d(cfg.skip_channels, cfg.skip_channels, 1)
        self.head2 = nn.Conv1d(cfg.skip_channels, cfg.n_classes, 1)

    # ---- introspection -------------------------------------------------------------------
    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    @property
    def receptive_field_ms(self) -> float:
        return self.config.receptive_field_ms

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- conditioning --------------------------------------------------------------------
    def cond_blocks(self) -> list[tuple[str, int]]:
        """The per-sample conditioning's column blocks in order, as ``conditioning`` concatenates them."""
        cfg = self.config
        blocks = [("local", cfg.upsample_channels if cfg.local_dim else 0), ("excitation", cfg.excitation_dim),
                  ("context", cfg.context_channels if cfg.context_layers else 0),
                  ("instrument", cfg.instrument_embed_dim if cfg.n_instruments else 0), ("global", cfg.global_dim)]
        return [(name, width) for name, width in blocks if width]

    def global_vector(self, batch: int, instrument=None, global_cond=None, device=None) -> torch.Tensor | None:
        """(batch, global_cond_dim) vector broadcast over time, or None without global conditioning."""
        cfg = self.config
        parts = []
        if self.instrument_embed is not None:
            if instrument is None:
                instrument = torch.full((batch,), cfg.n_instruments, dtype=torch.long, device=device)
            if instrument.dtype.is_floating_point:
                if instrument.shape != (batch, cfg.n_instruments + 1):
                    raise ValueError(f"instrument weights must have shape ({batch}, {cfg.n_instruments + 1}), got {tuple(instrument.shape)}.")
                parts.append(instrument @ self.instrument_embed.weight)
            else:
                parts.append(self.instrument_embed(instrument.reshape(batch)))
        if cfg.global_dim:
            if global_cond is None:
                global_cond = torch.zeros(batch, cfg.global_dim, device=device)
            if global_cond.shape != (batch, cfg.global_dim):
                raise ValueError(f"global_cond must have shape ({batch}, {cfg.global_dim}), got {tuple(global_cond.shape)}.")
            parts.append(global_cond)
        return torch.cat(parts, dim=1) if parts else None

    def upsample_local(self, local_cond: torch.Tensor, length: int) -> torch.Tensor:
        cfg = self.config
        if local_cond.dim() != 3 or local_cond.shape[1] != cfg.local_dim:
            raise ValueError(f"local_cond must have shape (batch, {cfg.local_dim}, frames), got {tuple(local_cond.shape)}.")
        needed = -(-length // cfg.hop_length)
        if local_cond.shape[-1] < needed:
            raise ValueError(f"local_cond has {local_cond.shape[-1]} frames but {length} samples need {needed}.")
        return self.upsampler(local_cond[..., :needed])[..., :length]

    def excitation(self, f0: torch.Tensor | None, length: int, batch: int, phase0: torch.Tensor | None = None,
                   start: int = 0, frame_phase: torch.Tensor | None = None) -> torch.Tensor:
        """Samples [start, start + length) of the excitation (batch, excitation_dim, length);
        ``f0`` (batch, frames) in Hz, None = pitch left free (all zeros)."""
        cfg = self.config
        if f0 is None:
            return torch.zeros(batch, cfg.excitation_dim, length)
        if f0.dim() != 2 or f0.shape[0] != batch:
            raise ValueError(f"f0 must have shape ({batch}, frames), got {tuple(f0.shape)}.")
        needed = -(-(start + length) // cfg.hop_length)
        if f0.shape[-1] < needed:
            raise ValueError(f"f0 has {f0.shape[-1]} frames but {start + length} samples need {needed}.")
        return sine_excitation(f0[:, :needed], cfg.excitation_harmonics, cfg.hop_length, cfg.sample_rate,
                               start, length, phase0, None if frame_phase is None else frame_phase[:, :needed])

    def conditioning(self, x: torch.Tensor, instrument=None, global_cond=None, local_cond=None,
                     context_audio: torch.Tensor | None = None, f0: torch.Tensor | None = None,
                     phase0: torch.Tensor | None = None, frame_phase: torch.Tensor | None = None) -> torch.Tensor | None:
        """Per-sample conditioning (batch, cond_dim, time) fed to every layer's 1×1 projection."""
        batch, length = x.shape
        parts = []
        if self.upsampler is not None:
            if local_cond is None:
                raise ValueError("This model needs local_cond (frame features); see wavenet_core.controls.conditioning.")
            parts.append(self.upsample_local(local_cond, length))
        if self.config.excitation_dim:
            parts.append(self.excitation(f0, length, batch, phase0, frame_phase=frame_phase).to(x.device))
        if self.context is not None:
            # The context sees decoded past audio; x is the sequence being predicted.
            audio = mu_law_decode(x) if context_audio is None else context_audio
            parts.append(self.context(audio, length))
        g = self.global_vector(batch, instrument, global_cond, device=x.device)
        if g is not None:
            parts.append(g.unsqueeze(-1).expand(-1, -1, length))
        return torch.cat(parts, dim=1) if parts else None

    # ---- forward -------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, instrument=None, global_cond=None, local_cond=None,
                f0: torch.Tensor | None = None, phase0: torch.Tensor | None = None,
                x_in: torch.Tensor | None = None, frame_phase: torch.Tensor | None = None) -> torch.Tensor:
        """x (batch, time) classes → logits (batch, n_classes, time); logits[..., t] predicts x[..., t].

        ``f0`` (batch, frames) Hz and ``phase0`` (batch,) radians drive the excitation (used only when
        ``config.excitation != "none"``; None = pitch left free). ``x_in`` (training only): the past
        the model reads, when it differs from the targets ``x`` (a noisy copy, see ``train``);
        ``frame_phase`` (training only): the excitation's phase per frame from the audio (see
        ``sine_excitation``)."""
        if x.dim() != 2 or x.dtype != torch.long:
            raise ValueError(f"x must be a LongTensor (batch, time) of μ-law classes, got {x.dtype} {tuple(x.shape)}.")
        cond = self.conditioning(x, instrument, global_cond, local_cond, f0=f0, phase0=phase0, frame_phase=frame_phase)
        shifted = F.pad((x if x_in is None else x_in)[:, :-1], (1, 0), value=SILENCE_CLASS)
        h = self.embed(shifted).transpose(1, 2)
        skips = 0
        for layer in self.layers:
            h, s = layer(h, cond)
            skips = skips + s
        return self.head2(F.relu(self.head1(F.relu(skips))))


PRESETS: dict[str, dict] = {
    # trains in seconds; for tests and smoke runs
    "tiny": dict(layers_per_stack=4, stacks=1, residual_channels=8, gate_channels=16, skip_channels=16,
                 instrument_embed_dim=4, upsample_channels=8, context_channels=8),
    # the shipped `notes` model's size (its card says how it was trained: minutes on a GPU, then a CPU fine-tune)
    "default": dict(layers_per_stack=8, stacks=2, residual_channels=32, gate_channels=64, skip_channels=64),
    # the fixed benchmark config of public implementations: 20 layers, R32 / G64 / S128
    "reference": dict(layers_per_stack=10, stacks=2, residual_channels=32, gate_channels=64, skip_channels=128),
}


def preset_config(name: str, **overrides) -> WaveNetConfig:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}.")
    return WaveNetConfig(**{**PRESETS[name], **overrides})
