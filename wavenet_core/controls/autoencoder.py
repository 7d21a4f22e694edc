"""The autoencoder's manipulation API (numpy in, numpy out; latents are float32 arrays of shape
(frames, dims)): ``encode``, ``decode``, ``reconstruct`` (keep, transpose or flatten the pitch),
``edit`` (the sliders), ``slider_meanings`` (what each slider moves, by name), ``interpolate``,
``morph``, ``latent_pitch`` / ``shift_pitch``, ``save_latent`` / ``load_latent``. The network itself is in ``model/autoencoder.py``."""

from __future__ import annotations

import math
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from ..model.autoencoder import MAX_LATENT_BYTES, WaveNetAutoencoder


# ---- manipulation API -----------------------------------------------------------------------
def check_autoencoder(model) -> "WaveNetAutoencoder":
    if getattr(model, "kind", None) != "autoencoder":
        raise ValueError("This needs an autoencoder model (kind 'autoencoder'), e.g. --model autoencoder.")
    return model


def pad_to_frames(audio: np.ndarray, hop: int) -> np.ndarray:
    """Zero-pad at the end to a whole number of latent frames (at least one)."""
    n = max(1, -(-len(audio) // hop)) * hop
    return np.pad(audio, (0, n - len(audio)))


def check_clip(model, audio: np.ndarray, name: str = "audio", truncate: bool = False) -> np.ndarray:
    """Mono float audio within the model's length limit (or cut to it with ``truncate``)."""
    from ..audio_io import AudioError, check_audio
    audio = check_audio(audio, name)
    cfg = model.config
    limit = int(cfg.max_seconds * cfg.sample_rate)
    if len(audio) > limit:
        if not truncate:
            raise AudioError(f"{name}: {len(audio) / cfg.sample_rate:.1f} s is longer than the autoencoder's "
                             f"{cfg.max_seconds:g} s limit; trim it or pass --truncate.")
        audio = audio[:limit]
    return np.clip(audio, -1.0, 1.0)


@torch.no_grad()
def encode(model, audio: np.ndarray, truncate: bool = False) -> np.ndarray:
    """Mono float32 audio at the model's rate → latent float32 (frames, latent_dim), frames = ceil(len / hop)."""
    model = check_autoencoder(model)
    audio = pad_to_frames(check_clip(model, audio, truncate=truncate), model.config.hop_length)
    model.eval()
    z = model.encode(torch.from_numpy(audio)[None])[0]
    return z.T.contiguous().numpy().astype(np.float32)


@torch.no_grad()
def encode_batch(model, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Encode several clips (each zero-padded to the longest for one pass, then cut back)."""
    model = check_autoencoder(model)
    hop = model.config.hop_length
    clips = [pad_to_frames(check_clip(model, c, f"clip {i}"), hop) for i, c in enumerate(clips)]
    longest = max(len(c) for c in clips)
    batch = torch.from_numpy(np.stack([np.pad(c, (0, longest - len(c))) for c in clips]))
    model.eval()
    z = model.encode(batch).transpose(1, 2).numpy().astype(np.float32)
    return [z[i, : len(c) // hop].copy() for i, c in enumerate(clips)]


def silence_latent(model) -> np.ndarray:
    """The code the encoder gives silent audio (dims,): what a shorter clip is padded with."""
    z = encode(model, np.zeros(9 * model.config.hop_length, dtype=np.float32))
    return z[4]


def check_latent(model, latent, name: str = "latent") -> np.ndarray:
    """A (frames, latent_dim) finite float array within the length limit, as float32."""
    cfg = model.config
    z = np.asarray(latent)
    if z.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected a float array, got dtype {z.dtype}; encode a clip with `wavenet encode`.")
    if z.ndim != 2 or z.shape[1] != cfg.latent_dim:
        raise ValueError(f"{name}: expected shape (frames, {cfg.latent_dim}) for this model, got {z.shape}; "
                         "encode the clip with the same model.")
    max_frames = int(math.ceil(cfg.max_seconds * cfg.sample_rate / cfg.hop_length))
    if not 1 <= z.shape[0] <= max_frames:
        raise ValueError(f"{name}: {z.shape[0]} frames; a latent must have 1 to {max_frames} frames "
                         f"({cfg.max_seconds:g} s at {cfg.frame_rate:g} frames/s).")
    z = z.astype(np.float32)
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name}: contains NaN or infinite values; re-encode the clip.")
    return z


PITCH_FMIN, PITCH_FMAX = 60.0, 1100.0        # pitch-track range for clips (MIDI ~35 … ~85)


def clip_f0(model, audio: np.ndarray) -> np.ndarray:
    """The clip's f0 per latent frame (frames,) in Hz, 0 where unvoiced or silent (pYIN), aligned
    with ``encode``'s frames: what drives the decoder's excitation in ``reconstruct``."""
    from ..measure.descriptors import f0_contour
    model = check_autoencoder(model)
    cfg = model.config
    audio = pad_to_frames(np.asarray(audio, dtype=np.float32), cfg.hop_length)
    return f0_contour(audio, cfg.sample_rate, cfg.hop_length, fmin=PITCH_FMIN, fmax=PITCH_FMAX)


def latent_f0(model, latent: np.ndarray) -> np.ndarray:
    """f0 per frame (Hz, 0 = unvoiced) as the latent's pitch probe reads it: the decoder's pitch
    when a latent comes without its clip (a .npy file, an interpolation, an edit)."""
    voiced, midi = latent_pitch(model, latent)
    return np.where(voiced > 0.5, 440.0 * 2.0 ** ((np.clip(midi, 0, 127) - 69.0) / 12.0), 0.0).astype(np.float32)


def plan_f0(f0: np.ndarray, transpose: float = 0.0, flatten: float | bool | None = None) -> np.ndarray:
    """The pitch control: keep f0 (Hz per frame), ``transpose`` it by semitones, or ``flatten`` it to
    one note (True: the clip's median pitch; a number: that MIDI note). Unvoiced frames stay 0."""
    f0 = np.asarray(f0, dtype=np.float64)
    if not math.isfinite(transpose) or abs(transpose) > 48:
        raise ValueError(f"Transpose must be between -48 and 48 semitones; got {transpose}.")
    voiced = f0 > 0
    if flatten is not None and flatten is not False and voiced.any():
        midi = (float(np.median(69 + 12 * np.log2(f0[voiced] / 440.0))) if flatten is True else float(flatten))
        if not 0 <= midi <= 127:
            raise ValueError(f"Flatten needs a MIDI note from 0 to 127; got {midi:g}.")
        f0 = np.where(voiced, 440.0 * 2.0 ** ((midi - 69) / 12), 0.0)
    out = np.where(voiced, f0 * 2.0 ** (transpose / 12.0), 0.0)
    return out.astype(np.float32)


def decode(model, latents, *, temperature: float = 1.0, seed: int | Sequence[int] = 0, method: str | None = None,
           progress: Callable[[int, int], None] | None = None, cancel: Callable[[], bool] | None = None,
           f0=None) -> np.ndarray:
    """Latent(s) → audio float32.

    ``latents``: one (frames, dims) array → audio (frames·hop,); a list / (B, frames, dims)
    array of equal length → (B, frames·hop), decoded in one batched call. ``seed``: one int
    (every stream uses it, so streams differ only by their latents) or one per stream.
    ``f0`` (decoders with an excitation): Hz per latent frame — one (frames,) array for every
    stream or one per stream; None reads it from each latent's pitch probe (``latent_f0``).
    """
    from ..generation.inputs import ModelInputs
    from ..generation.generate import generate
    model = check_autoencoder(model)
    single = isinstance(latents, np.ndarray) and latents.ndim == 2
    batch = [latents] if single else list(latents)
    if not batch:
        raise ValueError("Nothing to decode: give at least one latent.")
    batch = [check_latent(model, z, f"latent {i}") for i, z in enumerate(batch)]
    if len({z.shape[0] for z in batch}) != 1:
        raise ValueError("Latents decoded together must have the same number of frames; align them with interpolate().")
    local = torch.from_numpy(np.stack(batch).transpose(0, 2, 1).copy())
    n_frames = local.shape[-1]
    n_samples = n_frames * model.config.hop_length
    inputs = ModelInputs(n_samples, local_cond=local)
    if model.decoder.config.excitation_dim:
        if f0 is None:
            f0s = [latent_f0(model, z) for z in batch]
        elif isinstance(f0, np.ndarray) and f0.ndim == 1:
            f0s = [f0] * len(batch)
        else:
            f0s = list(f0)
        if len(f0s) != len(batch):
            raise ValueError(f"Got {len(f0s)} pitch contours for {len(batch)} latents.")
        fit = [np.pad(np.nan_to_num(np.asarray(f, dtype=np.float32))[:n_frames], (0, max(0, n_frames - len(f))))
               for f in f0s]
        inputs.f0_hz = torch.from_numpy(np.stack(fit))
    seeds = [int(s) for s in seed] if isinstance(seed, (list, tuple, np.ndarray)) else [int(seed)] * len(batch)
    audio = generate(model.decoder, inputs, temperature=temperature, seed=seeds,
                     batch=len(batch), method=method or "fast", progress=progress, cancel=cancel)
    return audio[0] if single else audio


def reconstruct(model, audio: np.ndarray, *, transpose: float = 0.0, flatten: float | bool | None = None,
                **decode_kwargs) -> np.ndarray:
    """Encode then decode one clip; the result has ceil(len / hop)·hop samples. With an excitation
    decoder the clip's own pitch track drives it — kept, ``transpose``d (semitones) or ``flatten``ed
    (see ``plan_f0``); without one, pitch comes from the latent and these must stay at their defaults."""
    z = encode(model, audio)
    if model.decoder.config.excitation_dim:
        decode_kwargs["f0"] = plan_f0(clip_f0(model, audio), transpose, flatten)
    elif transpose or (flatten is not None and flatten is not False):
        raise ValueError("This autoencoder takes its pitch from the latent (no excitation); "
                         "transpose or flatten needs a pitch-aware autoencoder.")
    return decode(model, z, **decode_kwargs)


# ---- PCA and edits --------------------------------------------------------------------------
def fit_pca(model, clips: Sequence[np.ndarray], batch: int = 32) -> None:
    """Fit the principal directions on the latents of ``clips`` and store them in ``model.pca``."""
    model = check_autoencoder(model)
    frames = []
    for i in range(0, len(clips), batch):
        frames += encode_batch(model, clips[i: i + batch])
    z = np.concatenate(frames).astype(np.float64)
    if len(z) < 2:
        raise ValueError("PCA needs at least two latent frames; give more or longer clips.")
    mean = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    std = s / math.sqrt(len(z) - 1)
    # a fixed sign per direction (largest coefficient positive) so refits give the same sliders
    vt *= np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]
    dim = model.config.latent_dim
    comps = np.eye(dim)
    comps[: len(vt)] = vt
    stds = np.ones(dim)
    stds[: len(std)] = std
    model.pca.mean.copy_(torch.from_numpy(mean).float())
    model.pca.components.copy_(torch.from_numpy(comps).float())
    model.pca.std.copy_(torch.from_numpy(np.maximum(stds, 1e-8)).float())
    model.pca.fitted.fill_(1)


def principal_directions(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (dims,), directions (dims, dims) — orthonormal rows by falling variance, std (dims,))."""
    model = check_autoencoder(model)
    if not int(model.pca.fitted):
        raise ValueError("This autoencoder has no PCA directions yet; run fit_pca() on a corpus (wavenet train does).")
    return (model.pca.mean.numpy().astype(np.float64), model.pca.components.numpy().astype(np.float64),
            model.pca.std.numpy().astype(np.float64))


def _by_index(values, dims: int, what: str) -> dict[int, float]:
    if values is None:
        return {}
    items = values.items() if isinstance(values, Mapping) else enumerate(values)
    out = {}
    for k, v in items:
        k, v = int(k), float(v)
        if not 0 <= k < dims:
            raise ValueError(f"{what}: direction {k} does not exist; use 0 to {dims - 1}.")
        if not math.isfinite(v):
            raise ValueError(f"{what}: value for direction {k} must be finite, got {v}.")
        out[k] = v
    return out


def edit(model, latent: np.ndarray, offsets=None, scales=None) -> np.ndarray:
    """The sliders: move a latent along its principal directions, every frame alike.

    ``scales`` {k: s} multiplies the coordinate along direction k (about the corpus mean) by s;
    ``offsets`` {k: o} then adds o corpus standard deviations along direction k. Either may be
    a dict or a sequence indexed by direction (0 = most variance). Returns a new latent.
    """
    z = check_latent(model, latent).astype(np.float64)
    mean, comps, std = principal_directions(model)
    dims = len(mean)
    scales, offsets = _by_index(scales, dims, "scales"), _by_index(offsets, dims, "offsets")
    coords = (z - mean) @ comps.T                     # (frames, dims) coordinates along the directions
    delta = np.zeros_like(coords)
    for k, s in scales.items():
        delta[:, k] += (s - 1.0) * coords[:, k]
    for k, o in offsets.items():
        delta[:, k] += o * std[k]
    return (z + delta @ comps).astype(np.float32)


def pca_coordinates(model, latent: np.ndarray) -> np.ndarray:
    """(frames, dims) coordinates of a latent along the principal directions, in corpus std units."""
    z = check_latent(model, latent).astype(np.float64)
    mean, comps, std = principal_directions(model)
    return ((z - mean) @ comps.T / std).astype(np.float32)


@torch.no_grad()
def latent_pitch(model, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the pitch probe reads from each frame: (voiced probability, MIDI note) per frame."""
    z = torch.from_numpy(check_latent(model, latent))
    out = model.pitch_head(z)
    return torch.sigmoid(out[:, 0]).numpy(), (60 + 12 * out[:, 1]).numpy()


def shift_pitch(model, latent: np.ndarray, semitones: float) -> np.ndarray:
    """Move every frame along the pitch probe's direction so the probe reads ``semitones`` more.

    The smallest latent change that does so (w / |w|² scaled); whether the decoder follows is
    the model's to show — measure the decoded audio.
    """
    z = check_latent(model, latent).astype(np.float64)
    w = model.pitch_head.weight[1].detach().numpy().astype(np.float64)
    return (z + (float(semitones) / 12.0) * w / max(float(w @ w), 1e-12)).astype(np.float32)


# ---- interpolation --------------------------------------------------------------------------
def align(z_a: np.ndarray, z_b: np.ndarray, pad: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bring two latents to the same length: the shorter is extended at the END with ``pad``
    (a (dims,) code; ``silence_latent(model)`` makes it sound as if the clip were followed by
    silence) or, when ``pad`` is None, by repeating its last frame. Frame f stays aligned with f."""
    z_a, z_b = np.asarray(z_a, dtype=np.float32), np.asarray(z_b, dtype=np.float32)
    if z_a.ndim != 2 or z_b.ndim != 2 or z_a.shape[1] != z_b.shape[1]:
        raise ValueError(f"Latents must be (frames, dims) with the same dims; got {z_a.shape} and {z_b.shape}.")
    n = max(len(z_a), len(z_b))

    def extend(z):
        if len(z) == n:
            return z
        fill = np.asarray(pad, dtype=np.float32) if pad is not None else z[-1]
        return np.concatenate([z, np.broadcast_to(fill, (n - len(z), z.shape[1]))])
    return extend(z_a), extend(z_b)


def interpolate(z_a: np.ndarray, z_b: np.ndarray, alpha, pad: np.ndarray | None = None) -> np.ndarray:
    """(1 − α)·z_a + α·z_b after ``align``; α = 0 gives z_a and α = 1 gives z_b exactly.

    ``alpha`` a number → (frames, dims); a sequence → (len(alpha), frames, dims).
    """
    a, b = align(z_a, z_b, pad)
    alphas = np.atleast_1d(np.asarray(alpha, dtype=np.float32))
    if not np.all(np.isfinite(alphas)):
        raise ValueError("alpha must be finite numbers (0 = first clip, 1 = second).")
    out = np.stack([(np.float32(1) - t) * a + t * b for t in alphas]).astype(np.float32)
    return out[0] if np.ndim(alpha) == 0 else out


def blend_f0(f0_a: np.ndarray, f0_b: np.ndarray, alpha: float) -> np.ndarray:
    """Pitch between two contours (Hz per frame, same length): log-frequency interpolation where both
    are voiced; elsewhere the contour of the nearer clip (a for α < ½, else b), voicing included."""
    a, b = np.asarray(f0_a, dtype=np.float64), np.asarray(f0_b, dtype=np.float64)
    both = (a > 0) & (b > 0)
    out = a if alpha < 0.5 else b
    with np.errstate(divide="ignore", invalid="ignore"):
        mix = np.exp((1 - alpha) * np.log(np.maximum(a, 1e-9)) + alpha * np.log(np.maximum(b, 1e-9)))
    return np.where(both, mix, out).astype(np.float32)


MORPH_PITCH = ("a", "b", "blend")


def morph(model, audio_a: np.ndarray, audio_b: np.ndarray, alphas: Sequence[float], pitch: str = "a",
          **decode_kwargs) -> np.ndarray:
    """Encode two clips, interpolate (shorter padded with the silence code), decode every α in one
    batched call → (len(alphas), frames·hop). With an excitation decoder the pitch follows clip
    ``"a"``, clip ``"b"`` or a ``"blend"`` of the two (``blend_f0``) while the timbre moves."""
    if pitch not in MORPH_PITCH:
        raise ValueError(f"Morph pitch must be one of {', '.join(MORPH_PITCH)}; got {pitch!r}.")
    z_a, z_b = encode(model, audio_a), encode(model, audio_b)
    zs = interpolate(z_a, z_b, list(alphas), pad=silence_latent(model))
    if model.decoder.config.excitation_dim:
        n = zs.shape[1]
        f_a, f_b = (np.pad(f, (0, n - len(f))) for f in (clip_f0(model, audio_a), clip_f0(model, audio_b)))
        choice = {"a": lambda t: f_a, "b": lambda t: f_b, "blend": lambda t: blend_f0(f_a, f_b, t)}[pitch]
        decode_kwargs["f0"] = [choice(float(t)) for t in alphas]
    return decode(model, zs, **decode_kwargs)


# ---- .npy latents ---------------------------------------------------------------------------
def save_latent(path: str | os.PathLike, latent: np.ndarray) -> Path:
    """Write a (frames, dims) float32 latent as .npy (atomically)."""
    from ..audio_io import atomic_write_bytes
    z = np.ascontiguousarray(latent, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError(f"A latent is (frames, dims); got shape {z.shape}.")

    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, z, allow_pickle=False)
    return atomic_write_bytes(path, write)


def _check_npy_header(path: Path, f) -> None:
    """Refuse a .npy whose header claims more data than the file holds (before np.load allocates it)."""
    from numpy.lib import format as npy_format
    f.seek(0)
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(f)
        else:
            shape, _, dtype = npy_format.read_array_header_2_0(f)
    except Exception:  # noqa: BLE001 - numpy raises several kinds for a broken header
        raise ValueError(f"{path.name}: not a valid .npy array; save latents with wavenet_core.controls.autoencoder.save_latent.") from None
    if dtype.hasobject:
        return                                   # np.load(allow_pickle=False) refuses it with its own message
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need != path.stat().st_size - f.tell():
        raise ValueError(f"{path.name}: the header says {tuple(shape)} {dtype} but the file holds "
                         f"{path.stat().st_size - f.tell()} bytes of data; the file is truncated or corrupt.")


def load_latent(path: str | os.PathLike, model=None) -> np.ndarray:
    """Read a latent .npy safely (never unpickles); with ``model``, check it fits that model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such latent file; make one with `wavenet encode`.")
    if path.stat().st_size > MAX_LATENT_BYTES:
        raise ValueError(f"{path.name}: {path.stat().st_size / 1e6:.0f} MB is far too large for a latent; "
                         "make one with `wavenet encode`.")
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise ValueError(f"{path.name}: not a .npy file; make one with `wavenet encode`.")
        _check_npy_header(path, f)     # the claimed shape must match the bytes present: nothing huge is allocated
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as e:
        why = "it holds Python objects (pickle), which are never loaded" if "pickle" in str(e).lower() else "not a valid .npy array"
        raise ValueError(f"{path.name}: {why}; save latents with wavenet_core.controls.autoencoder.save_latent.") from None
    except (OSError, EOFError):
        raise ValueError(f"{path.name}: not a .npy file; make one with `wavenet encode`.") from None
    if not isinstance(z, np.ndarray):
        raise ValueError(f"{path.name}: expected one array in .npy format, not an archive; use `wavenet encode`.")
    if z.dtype.kind not in "fiu":
        raise ValueError(f"{path.name}: expected a float array, got dtype {z.dtype}; make one with `wavenet encode`.")
    if z.ndim != 2:
        raise ValueError(f"{path.name}: expected shape (frames, dims), got {z.shape}; make one with `wavenet encode`.")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{path.name}: contains NaN or infinite values; re-encode the clip.")
    if model is not None:
        z = check_latent(model, z, path.name)
    return z.astype(np.float32)


def finish_training(model, examples, log=print) -> None:
    """Called by the training loop after the last step: fit the PCA sliders on the training clips."""
    fit_pca(model, [e.audio for e in examples])
    std = model.pca.std.numpy()
    share = std ** 2 / max(float((std ** 2).sum()), 1e-12)
    log(f"PCA on {len(examples)} clips: first 4 directions explain "
        f"{', '.join(f'{100 * s:.0f}%' for s in share[:4])} of latent variance")


# ---- what each slider moves ------------------------------------------------------------------
# Per-frame descriptors a slider is named after: name -> (word for the + side, word for the − side).
SLIDER_DESCRIPTORS: dict[str, tuple[str, str]] = {
    "brightness": ("brighter", "darker"),
    "loudness": ("louder", "quieter"),
    "noisiness": ("noisier", "purer"),
    "attack": ("sharper attack", "softer attack"),
    "pitch": ("higher", "lower"),
}
SLIDER_NAME_MIN_R = 0.5           # |r| a direction needs with its best descriptor to be named after it
SLIDER_CORPUS_SEED = 4242         # held out: neither the training seed (0) nor the evaluation's (9001)
SLIDER_CLIPS, SLIDER_SECONDS = 48, 1.5
SLIDER_SOUNDING_DB = -40.0        # frames quieter than this are left out (their brightness is noise)


@dataclass(frozen=True)
class SliderMeaning:
    """What moving one PCA slider up does, measured on held-out clips.

    ``correlations``: Pearson r between the direction's coordinate and each per-frame descriptor
    in ``SLIDER_DESCRIPTORS`` over the sounding frames (pitch: voiced frames) of the clips; None
    when a descriptor does not vary. ``name`` is the + side's word for the descriptor with the
    largest |r| when that |r| ≥ ``SLIDER_NAME_MIN_R``, else "mixed"."""
    direction: int
    name: str
    descriptor: str | None        # the descriptor the name comes from (None when "mixed")
    r: float | None               # its correlation (signed)
    correlations: dict
    frames: int

    @property
    def label(self) -> str:
        """e.g. 'direction 0: brighter (r = +0.82 with brightness)' — what a UI prints beside a slider."""
        if self.descriptor is None:
            best = max(((k, v) for k, v in self.correlations.items() if v is not None), key=lambda kv: abs(kv[1]),
                       default=None)
            why = f" (strongest: {best[0]} r = {best[1]:+.2f})" if best else ""
            return f"direction {self.direction}: mixed{why}"
        return f"direction {self.direction}: {self.name} (r = {self.r:+.2f} with {self.descriptor})"

    def to_dict(self) -> dict:
        return {"direction": self.direction, "name": self.name, "descriptor": self.descriptor, "r": self.r,
                "correlations": dict(self.correlations), "frames": self.frames, "label": self.label}


def frame_descriptors(audio: np.ndarray, sample_rate: int, hop: int, f0: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-frame descriptors (frames = ceil(len / hop)), frame f centred on sample f·hop + hop/2 like the
    latent's: ``loudness`` dB FS, ``brightness`` spectral centroid Hz, ``noisiness`` spectral
    flatness 0..1, ``attack`` the level's rise from the previous frame in dB (0 when it falls),
    ``pitch`` MIDI (NaN where unvoiced; from ``f0`` Hz per frame when given, else pYIN)."""
    from ..measure.descriptors import frame_loudness_db, hz_to_midi, pitch_track, spectral_features
    audio = np.asarray(audio, dtype=np.float32)
    n = max(1, -(-len(audio) // hop))
    loud = frame_loudness_db(audio, hop).astype(np.float64)[:n]
    # spectral_features centres frame k on sample k·hop: start its input half a hop in
    shifted = np.pad(audio[hop // 2:], (0, hop))
    centroid, flatness = spectral_features(shifted, sample_rate, hop)
    fit = lambda x: np.pad(np.asarray(x, dtype=np.float64)[:n], (0, max(0, n - len(x))))   # noqa: E731
    if f0 is None:
        f0 = pitch_track(audio, sample_rate, hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)
    attack = np.maximum(0.0, np.diff(loud, prepend=loud[0]))
    return {"brightness": fit(centroid), "loudness": loud, "noisiness": fit(flatness), "attack": attack,
            "pitch": fit(hz_to_midi(fit(f0)))}


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def name_direction(correlations: Mapping[str, float | None]) -> tuple[str, str | None, float | None]:
    """(name, descriptor, r) for one direction's correlations: the + side's word for the strongest
    descriptor when |r| ≥ ``SLIDER_NAME_MIN_R``, else ("mixed", None, None)."""
    known = [(k, v) for k, v in correlations.items() if v is not None and k in SLIDER_DESCRIPTORS]
    if not known:
        return "mixed", None, None
    k, r = max(known, key=lambda kv: abs(kv[1]))
    if abs(r) < SLIDER_NAME_MIN_R:
        return "mixed", None, None
    up, down = SLIDER_DESCRIPTORS[k]
    return (up if r > 0 else down), k, float(r)


_SLIDER_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def slider_meanings(model, clips: Sequence | None = None) -> list[SliderMeaning]:
    """What each PCA slider moves, one ``SliderMeaning`` per latent direction (0 = most variance).

    Encode the clips, project every frame on the principal directions (``pca_coordinates``) and
    correlate each direction's coordinate with the per-frame descriptors of ``frame_descriptors``
    over the sounding frames. ``clips``: audio arrays or corpus ``Example``s (their exact f0 labels
    are used for pitch); None: ``SLIDER_CLIPS`` held-out ``NoteCorpus`` clips (seed
    ``SLIDER_CORPUS_SEED``). Deterministic; the default set's result is cached per model (and per
    fitted PCA), so a UI can call it on every redraw."""
    model = check_autoencoder(model)
    mean, comps, std = principal_directions(model)
    key = None
    if clips is None:
        key = hash((mean.tobytes(), comps.tobytes(), std.tobytes()))
        hit = _SLIDER_CACHE.get(model)
        if hit is not None and hit[0] == key:
            return list(hit[1])
        from ..data.corpus import NoteCorpus
        cfg = model.config
        clips = list(NoteCorpus(sample_rate=cfg.sample_rate, hop_length=cfg.hop_length, seed=SLIDER_CORPUS_SEED,
                                size=SLIDER_CLIPS, seconds=SLIDER_SECONDS))
    if not len(clips):
        raise ValueError("slider_meanings needs at least one clip.")
    cfg = model.config
    audios = [np.asarray(getattr(c, "audio", c), dtype=np.float32) for c in clips]
    labels = [getattr(c, "f0", None) for c in clips]
    latents = []
    for i in range(0, len(audios), 32):
        latents += encode_batch(model, audios[i: i + 32])
    coords, descs = [], {k: [] for k in SLIDER_DESCRIPTORS}
    for audio, f0, z in zip(audios, labels, latents):
        d = frame_descriptors(audio, cfg.sample_rate, cfg.hop_length, f0)
        n = min(len(z), len(d["loudness"]))
        keep = d["loudness"][:n] >= SLIDER_SOUNDING_DB
        coords.append(pca_coordinates(model, z[:n])[keep].astype(np.float64))
        for k in descs:
            descs[k].append(d[k][:n][keep])
    c = np.concatenate(coords)
    d = {k: np.concatenate(v) for k, v in descs.items()}
    out = []
    for j in range(c.shape[1]):
        corr = {}
        for k, v in d.items():
            ok = np.isfinite(v)
            r = _pearson(c[ok, j], v[ok])
            corr[k] = None if r is None else round(r, 4)
        name, desc, r = name_direction(corr)
        out.append(SliderMeaning(direction=j, name=name, descriptor=desc, r=r, correlations=corr, frames=int(len(c))))
    if key is not None:
        _SLIDER_CACHE[model] = (key, tuple(out))
    return out
