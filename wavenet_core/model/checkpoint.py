"""Safe checkpoints: one ``.safetensors`` file holding the weights, with the JSON config and
training metadata in its header. Nothing is ever unpickled.

Loading validates the header before touching tensor data or building a model: the config must
name only known fields, each of the right JSON type and inside its bounds, and the model it
describes must have at most ``MAX_PARAMETERS`` parameters (counted on PyTorch's storage-less
``meta`` device); every tensor must have exactly the dtype and shape the config implies, and
offsets must lie inside the file. So a hostile or broken file is refused with one line before any
allocation of its size. Writes go to a temp file that is renamed into place.
"""
from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..audio_io import atomic_write_bytes
from .autoencoder import AutoencoderConfig, WaveNetAutoencoder
from .wavenet import WaveNet, WaveNetConfig

WEIGHTS_NAME = "model.safetensors"
MAX_HEADER_BYTES = 16 * 1024 * 1024
# The largest model a checkpoint may describe: the shipped ones have 0.1-0.3 M parameters and the
# `reference` preset 0.4 M, so 50 M (200 MB of float32) leaves ample room for user models while a
# header cannot make the loader allocate gigabytes.
MAX_PARAMETERS = 50_000_000
ASSETS_MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says why and what to do."""


def model_dirs() -> list[Path]:
    """Where shipped and user models are looked up by name ($WAVENET_MODEL_DIR first)."""
    dirs = [Path(p) for p in os.environ.get("WAVENET_MODEL_DIR", "").split(os.pathsep) if p]
    return dirs + [ASSETS_MODELS]


def list_models(model_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the models installed in ``model_dir`` (or the default directories)."""
    dirs = [Path(model_dir)] if model_dir else model_dirs()
    names = []
    for d in dirs:
        if d.is_dir():
            names += sorted(p.name for p in d.iterdir() if (p / WEIGHTS_NAME).is_file())
    return list(dict.fromkeys(names))


def resolve_path(name_or_path: str | os.PathLike, model_dir: str | os.PathLike | None = None) -> Path:
    p = Path(name_or_path)
    if p.is_dir() and (p / WEIGHTS_NAME).is_file():
        return p / WEIGHTS_NAME
    if p.is_file():
        return p
    dirs = [Path(model_dir)] if model_dir else model_dirs()
    for d in dirs:
        if (d / str(name_or_path) / WEIGHTS_NAME).is_file():
            return d / str(name_or_path) / WEIGHTS_NAME
    known = ", ".join(list_models(model_dir)) or "none installed"
    raise CheckpointError(f"No model named or at {str(name_or_path)!r}; known models: {known}.")


# ---- raw safetensors with metadata ----------------------------------------------------------
def write_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return atomic_write_bytes(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def read_header(path: str | os.PathLike) -> dict:
    """Parse and sanity-check a safetensors header without reading tensor data."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path.name}: truncated or empty file ({size} bytes); re-download or re-save the model.")
        (n,) = struct.unpack("<Q", head)
        plausible = 2 <= n <= MAX_HEADER_BYTES and n + 8 <= size
        first = f.read(1) if plausible else b""
        # The pickle/zip magic is only a diagnosis for files that are not safetensors: a real header
        # length can start with the same byte (any length of 128 + 256·k bytes begins with 0x80).
        if first != b"{" and (head[:2] == b"PK" or head[:1] == b"\x80"):
            raise CheckpointError(f"{path.name}: this is a pickle/zip (torch.save) file, which can run code; "
                                  "only .safetensors checkpoints are accepted.")
        if not plausible:
            raise CheckpointError(f"{path.name}: not a valid safetensors file (header length {n} for a {size}-byte file); "
                                  "re-save it with wavenet_core.save_model.")
        try:
            header = json.loads(first + f.read(n - 1))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise CheckpointError(f"{path.name}: corrupt safetensors header; re-save it with wavenet_core.save_model.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name}: corrupt safetensors header; re-save it with wavenet_core.save_model.")
    data_len = size - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
            dtype = info["dtype"]
            shape = info["shape"]
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"{path.name}: tensor {key!r} has a malformed entry; the file is corrupt.") from None
        # JSON may hold anything here (strings, floats, nested lists): only plain ints are offsets and sizes
        if not (_is_int(start) and _is_int(end) and isinstance(dtype, str) and isinstance(shape, list)
                and all(_is_int(d) and d >= 0 for d in shape)):
            raise CheckpointError(f"{path.name}: tensor {key!r} has a malformed entry; the file is corrupt.")
        if not (0 <= start <= end <= data_len):
            raise CheckpointError(f"{path.name}: tensor {key!r} points outside the file (truncated?); re-save the model.")
        if dtype not in _DTYPES:
            raise CheckpointError(f"{path.name}: tensor {key!r} has unsupported dtype {dtype}.")
        numel = 1
        for s in shape:
            numel *= int(s)
        if numel * torch.empty((), dtype=_DTYPES[dtype]).element_size() != end - start:
            raise CheckpointError(f"{path.name}: tensor {key!r} size does not match its shape {shape}; the file is corrupt.")
    return header


# ---- config validation ----------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)      # JSON true/false arrive as bool, a subclass of int


# field -> (kind, low, high). Bounds are generous for real models and refuse sizes whose mere
# construction would allocate a lot (the parameter count is checked on top). Fields a config
# lacks take its defaults, so older checkpoints keep loading.
_Spec = tuple[str, float, float]
_CHANNELS: _Spec = ("int", 1, 4096)
_SCALE: _Spec = ("int", 1, 65536)
_DECODER: dict[str, _Spec] = {
    "sample_rate": ("int", 1000, 192_000),
    "layers_per_stack": ("int", 1, 16),            # dilations up to 2**15: ring buffers stay small
    "stacks": ("int", 1, 16),
    "residual_channels": _CHANNELS,
    "gate_channels": ("int", 2, 8192),
    "skip_channels": _CHANNELS,
    "hop_length": _SCALE,
    "upsample_scales": ("ints", 1, 65536),
    "upsample_channels": _CHANNELS,
    "excitation": ("choice", 0, 0),
    "excitation_harmonics": ("int", 1, 64),
}
_CONFIG_SPECS: dict[str, dict[str, _Spec]] = {
    "wavenet": {
        **_DECODER,
        "n_classes": ("int", 256, 256),
        "n_instruments": ("int", 0, 1024),
        "instrument_embed_dim": ("int", 0, 1024),
        "global_dim": ("int", 0, 1024),
        "local_dim": ("int", 0, 1024),
        "context_layers": ("int", 0, 16),
        "context_hop": _SCALE,
        "context_channels": _CHANNELS,
        "instrument_names": ("names", 0, 1024),
    },
    "autoencoder": {
        **_DECODER,
        "latent_dim": ("int", 1, 1024),
        "n_fft": ("int", 2, 65536),
        "encoder_hop": _SCALE,
        "encoder_channels": _CHANNELS,
        "encoder_dilations": ("ints", 1, 65536),
        "pitch_weight": ("float", 0, 1e6),
        "max_seconds": ("float", 1e-3, 3600),
    },
}
_MAX_LIST = 64          # upsample_scales, encoder_dilations: a handful in any real model
_MAX_NAME = 100         # characters in an instrument name


def _field_problem(name: str, value: Any, spec: _Spec) -> str | None:
    """Why ``value`` is not acceptable for config field ``name`` (None when it is)."""
    kind, low, high = spec
    if kind == "int":
        if not _is_int(value):
            return f"{name} must be an integer, got {type(value).__name__} {value!r:.40}"
        if not low <= value <= high:
            return f"{name} = {value!r:.40} is outside {low:g}..{high:g}"
    elif kind == "float":
        if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            return f"{name} must be a finite number, got {value!r:.40}"
        if not low <= value <= high:
            return f"{name} = {value!r:.40} is outside {low:g}..{high:g}"
    elif kind == "ints":
        if not isinstance(value, list) or not 1 <= len(value) <= _MAX_LIST or not all(_is_int(v) for v in value):
            return f"{name} must be a list of 1 to {_MAX_LIST} integers, got {value!r:.40}"
        if not all(low <= v <= high for v in value):
            return f"{name} {value!r:.40} has a value outside {low:g}..{high:g}"
    elif kind == "choice":
        from .wavenet import EXCITATIONS
        if value not in EXCITATIONS or not isinstance(value, str):
            return f"{name} must be one of {', '.join(EXCITATIONS)}, got {value!r:.40}"
    elif kind == "names":
        if (not isinstance(value, list) or len(value) > high
                or not all(isinstance(v, str) and len(v) <= _MAX_NAME for v in value)):
            return f"{name} must be a list of at most {high:g} names of at most {_MAX_NAME} characters"
    return None


def validate_config(kind: str, raw: Any, source: str = "checkpoint"):
    """A checkpoint header's config → the config object, or a one-line ``CheckpointError``.

    Types and bounds are checked field by field, then the config's own rules, then the parameter
    count of the model it describes, counted on the ``meta`` device (shapes without storage), so
    nothing of the model's size is allocated before every check has passed.
    """
    kinds = MODEL_KINDS
    if not isinstance(kind, str) or kind not in kinds:
        raise CheckpointError(f"{source}: unknown model kind {kind!r:.40}; train one with `wavenet train`.")
    if not isinstance(raw, dict):
        raise CheckpointError(f"{source}: bad config in checkpoint: expected a JSON object, got {type(raw).__name__}.")
    spec = _CONFIG_SPECS[kind]
    unknown = sorted(str(k)[:40] for k in raw if k not in spec)
    if unknown:
        raise CheckpointError(f"{source}: bad config in checkpoint: unknown field(s) {', '.join(unknown[:5])}.")
    for name, value in raw.items():
        problem = _field_problem(name, value, spec[name])
        if problem:
            raise CheckpointError(f"{source}: bad config in checkpoint: {problem}.")
    config_cls, model_cls = kinds[kind]
    try:
        config = config_cls.from_dict(raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{source}: bad config in checkpoint: {e}") from None
    n = _meta_model(model_cls, config).n_parameters
    if n > MAX_PARAMETERS:
        raise CheckpointError(f"{source}: the config describes a model of {n:,} parameters, over the "
                              f"{MAX_PARAMETERS:,} limit; the file is hostile or corrupt.")
    return config


def _meta_model(model_cls, config) -> torch.nn.Module:
    """The model built on the ``meta`` device: exact parameter shapes, no storage allocated."""
    with torch.device("meta"):
        return model_cls(config)


# ---- models ---------------------------------------------------------------------------------
# The checkpoint header's "kind" → (config class, model class).
MODEL_KINDS: dict[str, tuple[type, type]] = {"wavenet": (WaveNetConfig, WaveNet),
                                             "autoencoder": (AutoencoderConfig, WaveNetAutoencoder)}


def save_model(model: torch.nn.Module, path: str | os.PathLike, training: dict | None = None) -> Path:
    """Save weights + config (+ training metadata) into ``path`` (a folder, or a ``.safetensors`` file)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path / WEIGHTS_NAME
    kind = getattr(model, "kind", "wavenet")
    metadata = {"kind": kind, "config": json.dumps(model.config.to_dict()), "training": json.dumps(training or {})}
    return write_safetensors(path, model.state_dict(), metadata)


def load_checkpoint_metadata(name_or_path: str | os.PathLike) -> dict:
    path = resolve_path(name_or_path)
    meta = read_header(path).get("__metadata__") or {}
    return {"kind": meta.get("kind", "wavenet"), "config": json.loads(meta.get("config", "{}")),
            "training": json.loads(meta.get("training", "{}")), "path": str(path)}


def load_model(name_or_path: str | os.PathLike, model_dir: str | os.PathLike | None = None) -> torch.nn.Module:
    """Load a shipped model by name (``"notes"``) or a checkpoint path; returns it in eval mode."""
    path = resolve_path(name_or_path, model_dir)
    header = read_header(path)
    meta = header.get("__metadata__") or {}
    kinds = MODEL_KINDS
    kind = meta.get("kind", "wavenet") if isinstance(meta, dict) else None
    if not isinstance(kind, str) or kind not in kinds or "config" not in meta:
        raise CheckpointError(f"{path.name}: not a WaveNet Control Studio checkpoint (kind {kind!r:.40}, "
                              f"config {'present' if isinstance(meta, dict) and 'config' in meta else 'missing'}); "
                              "train one with `wavenet train`.")
    raw_config, training = _parse_json(path, meta, "config", None), _parse_json(path, meta, "training", "{}")
    config = validate_config(kind, raw_config, path.name)
    # the shapes and dtypes the config implies, from a storage-less model: still nothing allocated
    expected = _meta_model(kinds[kind][1], config).state_dict()
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {[k[:40] for k in unexpected[:3]]}"
        raise CheckpointError(f"{path.name}: weights do not match the config ({what}); the file is from another model or corrupt.")
    for k, info in tensors.items():
        want = expected[k]
        if tuple(info["shape"]) != tuple(want.shape) or _DTYPES[info["dtype"]] != want.dtype:
            raise CheckpointError(f"{path.name}: tensor {k!r} is {info['dtype']} {info['shape']}, "
                                  f"the config needs {want.dtype} {list(want.shape)}; the file is corrupt or mismatched.")
    model = kinds[kind][1](config)
    model.load_state_dict(load_file(str(path)))
    model.eval()
    model.checkpoint_path = str(path)
    model.training_info = training
    return model


def _parse_json(path: Path, meta: dict, key: str, default: str | None) -> Any:
    """One JSON-encoded metadata entry (``config``, ``training``), or a one-line ``CheckpointError``."""
    text = meta.get(key, default)
    try:
        value = json.loads(text)
    except (TypeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{path.name}: bad {key} in checkpoint: not valid JSON; re-save the model.") from None
    if key == "training" and not isinstance(value, dict):
        raise CheckpointError(f"{path.name}: bad training metadata in checkpoint: expected a JSON object.")
    return value
