"""Safe checkpoints: one ``.safetensors`` file holding the weights, with the JSON config and
training metadata in its header. Nothing is ever unpickled.

Loading validates the header before touching tensor data: the config must name only known
fields, every tensor must have exactly the dtype and shape the config implies, and offsets must
lie inside the file, so a hostile or broken file is refused before any allocation of its size.
Writes go to a temp file that is renamed into place.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .audio_io import atomic_write_bytes
from .model import WaveNet, WaveNetConfig

WEIGHTS_NAME = "model.safetensors"
MAX_HEADER_BYTES = 16 * 1024 * 1024
ASSETS_MODELS = Path(__file__).resolve().parent.parent / "assets" / "models"
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
        except (UnicodeDecodeError, json.JSONDecodeError):
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


# ---- models ---------------------------------------------------------------------------------
def _model_kinds() -> dict:
    kinds = {"wavenet": (WaveNetConfig, WaveNet)}
    try:  # the autoencoder registers itself when its module exists
        from .autoencoder import AutoencoderConfig, WaveNetAutoencoder
        kinds["autoencoder"] = (AutoencoderConfig, WaveNetAutoencoder)
    except ImportError:
        pass
    return kinds


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
    kinds = _model_kinds()
    kind = meta.get("kind", "wavenet")
    if kind not in kinds or "config" not in meta:
        raise CheckpointError(f"{path.name}: not a WaveNet Control Studio checkpoint (kind {kind!r}, "
                              f"config {'present' if 'config' in meta else 'missing'}); train one with `wavenet train`.")
    config_cls, model_cls = kinds[kind]
    try:
        config = config_cls.from_dict(json.loads(meta["config"]))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path.name}: bad config in checkpoint: {e}") from None
    model = model_cls(config)
    expected = model.state_dict()
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"{path.name}: weights do not match the config ({what}); the file is from another model or corrupt.")
    for k, info in tensors.items():
        want = expected[k]
        if tuple(info["shape"]) != tuple(want.shape) or _DTYPES[info["dtype"]] != want.dtype:
            raise CheckpointError(f"{path.name}: tensor {k!r} is {info['dtype']} {info['shape']}, "
                                  f"the config needs {want.dtype} {list(want.shape)}; the file is corrupt or mismatched.")
    model.load_state_dict(load_file(str(path)))
    model.eval()
    model.checkpoint_path = str(path)
    model.training_info = json.loads(meta.get("training", "{}"))
    return model
