"""A small WaveNet autoencoder (after NSynth, Engel et al. 2017): the network and its config.

Model
-----
* **Encoder** — non-causal, over the whole clip: a fixed log-magnitude STFT front end
  (``n_fft`` window, ``encoder_hop`` samples between frames, frames centred so that every
  latent frame's analysis windows are centred on it), a 1×1 projection, then a stack of
  non-causal dilated residual convolutions (kernel 3, dilations 1, 2, 4, …) at the STFT
  frame rate, average-pooled by ``hop_length / encoder_hop`` to the latent rate and projected
  to ``latent_dim`` channels. NSynth ran 30 such layers at the audio rate; the STFT front end
  makes the encoder about a hundred times cheaper, so encoder and decoder train jointly on a
  2-core CPU.
* **Latent** — ``latent_dim`` floats per ``hop_length`` samples (default 16 dims at hop 512:
  31.25 frames/s at 16 kHz, NSynth's rate). Frame f describes samples [f·hop, (f+1)·hop); a
  latent of F frames always decodes to exactly F·hop samples.
* **Decoder** — the project's ``WaveNet`` with ``local_dim = latent_dim``: the latent is
  upsampled by its transposed-convolution network and conditions every layer. It is a plain
  ``WaveNet``, so ``generate()`` (fast or reference) decodes it unchanged.
* **Pitch hint** (optional, ``pitch_weight > 0``) — a linear probe ``pitch_head`` reads
  (voiced logit, (MIDI − 60)/12) from each latent frame and is trained on the corpus' exact f0
  labels (pYIN labels for user folders). It makes pitch linearly readable from the latent
  early in training, which is what lets a CPU-sized decoder learn to follow pitch in minutes;
  the decoder still sees only the latent.
* **PCA** — principal directions of latents over a corpus, stored as buffers ``pca.mean``,
  ``pca.components`` (rows orthonormal) and ``pca.std`` inside the same checkpoint, fitted by
  ``controls.autoencoder.finish_training`` (``wavenet train`` calls it after the last step).

The manipulation API (``encode``, ``decode``, ``reconstruct``, ``edit``, ``interpolate``,
``morph``, the pitch probe, latent files) is ``controls/autoencoder.py``; see docs/autoencoder.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .wavenet import WaveNet, WaveNetConfig

MAX_SECONDS = 10.0              # longest clip encode/reconstruct/interpolate accept (longer: refused or truncated)
MAX_LATENT_BYTES = 16 * 1024 * 1024


@dataclass
class AutoencoderConfig:
    sample_rate: int = 16000
    latent_dim: int = 16
    hop_length: int = 512               # samples per latent frame
    upsample_scales: tuple[int, ...] = (8, 8, 8)
    # encoder
    n_fft: int = 1024
    encoder_hop: int = 128              # STFT hop; must divide hop_length
    encoder_channels: int = 64
    encoder_dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    # decoder (a WaveNet)
    layers_per_stack: int = 8
    stacks: int = 2
    residual_channels: int = 32
    gate_channels: int = 64
    skip_channels: int = 64
    upsample_channels: int = 32
    # auxiliary pitch probe on the latent (0: off)
    pitch_weight: float = 0.5
    # decoder excitation from the clip's own f0 ("none" or "sine"; see model.py): pitch exact, latent the rest
    excitation: str = "none"
    excitation_harmonics: int = 4
    max_seconds: float = MAX_SECONDS

    def __post_init__(self) -> None:
        self.upsample_scales = tuple(int(s) for s in self.upsample_scales)
        self.encoder_dilations = tuple(int(d) for d in self.encoder_dilations)
        checks = [
            (self.latent_dim >= 1, "latent_dim must be >= 1"),
            (self.encoder_hop >= 1 and self.hop_length % self.encoder_hop == 0,
             f"encoder_hop {self.encoder_hop} must divide hop_length {self.hop_length}"),
            (self.n_fft >= self.encoder_hop and self.n_fft % 2 == 0, "n_fft must be even and >= encoder_hop"),
            (self.encoder_channels >= 1 and len(self.encoder_dilations) >= 1 and min(self.encoder_dilations) >= 1,
             "encoder needs channels >= 1 and at least one dilation >= 1"),
            (self.pitch_weight >= 0, "pitch_weight must be >= 0"),
            (self.max_seconds > 0, "max_seconds must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid AutoencoderConfig: {message}.")
        self.decoder_config()  # validates the WaveNet part (scales multiply to hop, …)

    def decoder_config(self) -> WaveNetConfig:
        return WaveNetConfig(sample_rate=self.sample_rate, layers_per_stack=self.layers_per_stack, stacks=self.stacks,
                             residual_channels=self.residual_channels, gate_channels=self.gate_channels,
                             skip_channels=self.skip_channels, local_dim=self.latent_dim, hop_length=self.hop_length,
                             upsample_scales=self.upsample_scales, upsample_channels=self.upsample_channels,
                             excitation=self.excitation, excitation_harmonics=self.excitation_harmonics)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def receptive_field(self) -> int:
        return self.decoder_config().receptive_field

    @property
    def receptive_field_ms(self) -> float:
        return 1000.0 * self.receptive_field / self.sample_rate

    @property
    def n_instruments(self) -> int:      # the training loop asks; the autoencoder has no instrument labels
        return 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["upsample_scales"] = list(self.upsample_scales)
        d["encoder_dilations"] = list(self.encoder_dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"Unknown AutoencoderConfig field(s): {', '.join(unknown)}.")
        return cls(**d)


PRESETS: dict[str, dict] = {
    # seconds to train; for tests and smoke runs
    "tiny": dict(latent_dim=8, hop_length=256, upsample_scales=(4, 8, 8), n_fft=512, encoder_hop=64,
                 encoder_channels=16, encoder_dilations=(1, 2, 4), layers_per_stack=4, stacks=1,
                 residual_channels=8, gate_channels=16, skip_channels=16, upsample_channels=8),
    # the shipped `autoencoder`'s size (its card says how it was trained: minutes on a GPU, then a CPU fine-tune)
    "default": dict(),
}


def autoencoder_config(preset: str = "default", **overrides) -> AutoencoderConfig:
    if preset not in PRESETS:
        raise ValueError(f"Unknown autoencoder preset {preset!r}; choose one of: {', '.join(PRESETS)}.")
    return AutoencoderConfig(**{**PRESETS[preset], **overrides})


# ---- model ----------------------------------------------------------------------------------
class EncoderBlock(nn.Module):
    """Non-causal dilated residual unit: h + 1×1(relu(dilated k=3 conv(relu(h))))."""

    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, kernel_size=3, dilation=dilation, padding=dilation)
        self.out = nn.Conv1d(ch, ch, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.out(F.relu(self.conv(F.relu(h))))


class Encoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.inp = nn.Conv1d(cfg.n_fft // 2 + 1, cfg.encoder_channels, 1)
        self.blocks = nn.ModuleList(EncoderBlock(cfg.encoder_channels, d) for d in cfg.encoder_dilations)
        self.out = nn.Conv1d(cfg.encoder_channels, cfg.latent_dim, 1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, T) float → latent (B, latent_dim, ceil(T / hop_length)); a partial last frame is zero-padded."""
        cfg = self.cfg
        n_frames = max(1, -(-audio.shape[-1] // cfg.hop_length))
        audio = F.pad(audio, (0, n_frames * cfg.hop_length - audio.shape[-1]))
        # Pad so STFT frame j is centred on sample j·encoder_hop + encoder_hop/2: the frames pooled
        # into latent frame f are then centred on that frame's samples [f·hop, (f+1)·hop).
        left = cfg.n_fft // 2 - cfg.encoder_hop // 2
        padded = F.pad(audio, (left, cfg.n_fft))
        spec = torch.stft(padded, cfg.n_fft, cfg.encoder_hop, window=self.window, center=False, return_complex=True)
        per = cfg.hop_length // cfg.encoder_hop
        feats = torch.log(spec.abs()[..., : n_frames * per] + 1e-3)
        h = self.inp(feats)
        for block in self.blocks:
            h = block(h)
        h = F.avg_pool1d(F.relu(h), per)
        return self.out(h)


class PCA(nn.Module):
    """Principal directions of corpus latents, kept as buffers so they travel in the checkpoint."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("components", torch.eye(dim))     # rows: orthonormal directions, by variance
        self.register_buffer("std", torch.ones(dim))           # standard deviation along each direction
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))


class WaveNetAutoencoder(nn.Module):
    kind = "autoencoder"

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = WaveNet(config.decoder_config())
        self.pitch_head = nn.Linear(config.latent_dim, 2)
        self.pca = PCA(config.latent_dim)

    @property
    def receptive_field(self) -> int:
        return self.decoder.receptive_field

    @property
    def receptive_field_ms(self) -> float:
        return self.decoder.receptive_field_ms

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        return self.encoder(audio)

    def forward(self, x: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, 256, T) of classes ``x`` given the latent of ``audio``."""
        return self.decoder(x, local_cond=self.encoder(audio))

    def training_loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(batch["audio"])
        excite = self.decoder.config.excitation_dim > 0
        # The excitation gets the clip's own f0 (exact labels in training; a pitch track at run time).
        logits = self.decoder(batch["x"], local_cond=z, f0=batch["f0"] if excite else None,
                              phase0=batch.get("phase0") if excite else None, x_in=batch.get("x_in"),
                              frame_phase=batch.get("frame_phase") if excite else None)
        loss = F.cross_entropy(logits.float(), batch["x"])
        acc = (logits.argmax(1) == batch["x"]).float().mean()
        if self.config.pitch_weight > 0 and "f0" in batch:
            loss = loss + self.config.pitch_weight * self._pitch_loss(z, batch["f0"])
        return loss, acc

    def _pitch_loss(self, z: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        f0 = f0[:, : z.shape[-1]].float()
        pred = self.pitch_head(z.transpose(1, 2))             # (B, F, 2)
        voiced = (f0 > 0).float()
        midi = 69 + 12 * torch.log2(torch.clamp(f0, min=1e-3) / 440.0)
        loss = F.binary_cross_entropy_with_logits(pred[..., 0], voiced)
        if voiced.sum() > 0:
            err = (pred[..., 1] - (midi - 60) / 12) ** 2
            loss = loss + (err * voiced).sum() / voiced.sum()
        return loss
