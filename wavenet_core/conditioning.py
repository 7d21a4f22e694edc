"""Musical controls → the model's conditioning inputs.

Local features (one row per frame of ``hop_length`` samples), the contract between the corpus,
training, the controls and the generator:

====  ==============  =====================================================================
row   name            value
====  ==============  =====================================================================
0     voiced          1 where a pitch is requested, else 0
1     pitch           (MIDI − 60) / 12 where voiced, else 0
2     f0              f0 in kHz where voiced, else 0 (a linear-frequency hint for the period)
3     pitch_known     1 when pitch is specified, 0 when left free (rows 0–2 are then 0)
4     loudness        (dB + 40) / 20
5     loudness_known  1 when loudness is specified, 0 when left free (row 4 is then 0)
====  ==============  =====================================================================
"""
from __future__ import annotations

import numpy as np

LOCAL_FEATURES: tuple[str, ...] = ("voiced", "pitch", "f0", "pitch_known", "loudness", "loudness_known")
LOCAL_DIM = len(LOCAL_FEATURES)


def encode_local(f0_hz: np.ndarray | None, loudness_db: np.ndarray | None, n_frames: int | None = None) -> np.ndarray:
    """Per-frame f0 (Hz, 0 = silent) and loudness (dB) → (LOCAL_DIM, frames) float32 features.

    Pass None for a control left free; ``n_frames`` is then taken from the other one or required.
    """
    if n_frames is None:
        ref = f0_hz if f0_hz is not None else loudness_db
        if ref is None:
            raise ValueError("encode_local needs n_frames when both pitch and loudness are free.")
        n_frames = len(ref)
    out = np.zeros((LOCAL_DIM, n_frames), dtype=np.float32)
    if f0_hz is not None:
        f0 = np.nan_to_num(np.asarray(f0_hz, dtype=np.float64)[:n_frames], nan=0.0)
        voiced = f0 > 0
        midi = np.where(voiced, 69 + 12 * np.log2(np.maximum(f0, 1e-6) / 440.0), 60.0)
        out[0, : len(f0)] = voiced
        out[1, : len(f0)] = np.where(voiced, (midi - 60) / 12, 0)
        out[2, : len(f0)] = np.where(voiced, f0 / 1000, 0)
        out[3] = 1
    if loudness_db is not None:
        loud = np.asarray(loudness_db, dtype=np.float64)[:n_frames]
        out[4, : len(loud)] = (loud + 40) / 20
        out[5] = 1
    return out


# ---- controls ----------------------------------------------------------------------------------
from dataclasses import dataclass  # noqa: E402

import torch  # noqa: E402


@dataclass
class Controls:
    """What a musician asks for. Every field left as None is left free for the model to choose.

    ``instrument``: a name, an index, or a timbre mix {name: weight} (weights are normalised).
    ``pitch``: constant MIDI note. ``loudness``: constant level in dB.
    """
    seconds: float = 1.0
    instrument: str | int | dict | None = None
    pitch: float | None = None
    loudness: float | None = None


def instrument_weights(instrument, names: tuple[str, ...], n_instruments: int) -> torch.Tensor:
    """A name, an index, a {name: weight} mix or None (free) → (1, n_instruments + 1) weights."""
    w = torch.zeros(1, n_instruments + 1)
    if instrument is None:
        w[0, n_instruments] = 1.0
        return w
    mix = instrument if isinstance(instrument, dict) else {instrument: 1.0}
    for key, weight in mix.items():
        if isinstance(key, (int, np.integer)):
            if not 0 <= key < n_instruments:
                raise ValueError(f"Instrument index {key} out of range 0..{n_instruments - 1}.")
            idx = int(key)
        else:
            if key not in names:
                raise ValueError(f"Unknown instrument {key!r}; choose from: {', '.join(names)}.")
            idx = names.index(key)
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"Timbre weight for {key!r} must be a non-negative number; got {weight}.")
        w[0, idx] += float(weight)
    if w.sum() <= 0:
        raise ValueError("Timbre mix weights sum to zero; give at least one instrument a positive weight.")
    return w / w.sum()


def model_inputs(controls: Controls, config) -> "ModelInputs":
    """Controls → the conditioning tensors of a model with this config."""
    from .generate import ModelInputs

    if not np.isfinite(controls.seconds) or controls.seconds <= 0:
        raise ValueError(f"Duration must be a positive number of seconds; got {controls.seconds}.")
    n_samples = int(round(controls.seconds * config.sample_rate))
    inputs = ModelInputs(n_samples=n_samples)
    if config.n_instruments:
        inputs.instrument = instrument_weights(controls.instrument, config.instrument_names, config.n_instruments)
    if config.local_dim:
        n_frames = -(-n_samples // config.hop_length)
        f0 = None if controls.pitch is None else np.full(n_frames, 440.0 * 2 ** ((controls.pitch - 69) / 12))
        loud = None if controls.loudness is None else np.full(n_frames, float(controls.loudness))
        inputs.local_cond = torch.from_numpy(encode_local(f0, loud, n_frames))[None]
    return inputs
