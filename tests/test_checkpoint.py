"""Checkpoints: bit-exact round trip; every malformed kind refused with a one-line error."""
from __future__ import annotations

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from wavenet_core import CheckpointError, WaveNet, load_model, preset_config, save_model


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = WaveNet(preset_config("tiny", local_dim=6, n_instruments=2, instrument_names=("a", "b")))
    return model, save_model(model, tmp_path / "good", training={"steps": 3})


def test_round_trip_is_bit_exact(saved):
    model, path = saved
    loaded = load_model(path)
    assert loaded.config == model.config
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert loaded.training_info == {"steps": 3}
    assert load_model(path.parent).config == model.config   # the folder works as well as the file


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 300
    return msg


def test_pickle_is_refused(tmp_path, saved):
    model, _ = saved
    p = tmp_path / "evil.safetensors"
    torch.save(model.state_dict(), p)  # zip-based pickle
    with pytest.raises(CheckpointError, match="pickle") as e:
        load_model(p)
    _one_line(e)
    raw = tmp_path / "raw.safetensors"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(raw)


def test_truncated_and_empty_files_are_refused(tmp_path, saved):
    _, path = saved
    data = path.read_bytes()
    for name, blob in [("empty", b""), ("short", data[:5]), ("cut", data[: len(data) // 2])]:
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(blob)
        with pytest.raises(CheckpointError) as e:
            load_model(p)
        _one_line(e)


def test_garbage_header_is_refused(tmp_path):
    p = tmp_path / "garbage.safetensors"
    p.write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(p)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 2 ** 60) + b"{}")
    with pytest.raises(CheckpointError, match="header length"):
        load_model(huge)


def test_unknown_config_field_and_wrong_shapes_are_refused(tmp_path, saved):
    model, _ = saved
    cfg = model.config.to_dict()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    bad_cfg = tmp_path / "badcfg.safetensors"
    save_file(sd, str(bad_cfg), metadata={"kind": "wavenet", "config": json.dumps({**cfg, "evil_field": 1})})
    with pytest.raises(CheckpointError, match="evil_field"):
        load_model(bad_cfg)
    wrong = dict(sd)
    wrong["head2.bias"] = torch.zeros(7)
    p = tmp_path / "shape.safetensors"
    save_file(wrong, str(p), metadata={"kind": "wavenet", "config": json.dumps(cfg)})
    with pytest.raises(CheckpointError, match="head2.bias"):
        load_model(p)
    wrong_dtype = dict(sd)
    wrong_dtype["head2.bias"] = sd["head2.bias"].double()
    p2 = tmp_path / "dtype.safetensors"
    save_file(wrong_dtype, str(p2), metadata={"kind": "wavenet", "config": json.dumps(cfg)})
    with pytest.raises(CheckpointError, match="float64|F64"):
        load_model(p2)
    missing = {k: v for k, v in sd.items() if k != "head2.bias"}
    p3 = tmp_path / "missing.safetensors"
    save_file(missing, str(p3), metadata={"kind": "wavenet", "config": json.dumps(cfg)})
    with pytest.raises(CheckpointError, match="missing"):
        load_model(p3)


def test_oversized_tensor_is_refused_before_allocation(tmp_path, saved):
    """A header claiming a giant tensor is caught from the header alone (offsets beyond the file)."""
    model, path = saved
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + n])
    header["head2.weight"]["shape"] = [256, 10 ** 9]
    header["head2.weight"]["data_offsets"] = [0, 256 * 10 ** 9 * 4]
    blob = json.dumps(header).encode()
    p = tmp_path / "giant.safetensors"
    p.write_bytes(struct.pack("<Q", len(blob)) + blob + data[8 + n:])
    with pytest.raises(CheckpointError, match="outside the file"):
        load_model(p)


def test_unknown_name_lists_known_models(tmp_path, monkeypatch):
    monkeypatch.setenv("WAVENET_MODEL_DIR", str(tmp_path))
    with pytest.raises(CheckpointError, match="No model named"):
        load_model("no-such-model")


def test_save_is_atomic_when_interrupted(tmp_path, saved, monkeypatch):
    """A failure while writing leaves the previous checkpoint intact and no temp files behind."""
    model, path = saved
    before = path.read_bytes()
    import wavenet_core.checkpoint as ck

    def boom(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(ck, "save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_atomic_writes_are_readable_like_other_files(tmp_path):
    """The temp file behind an atomic write is private (mkstemp); the finished file must not be."""
    import numpy as np
    from wavenet_core.audio_io import write_wav
    out = write_wav(tmp_path / "a.wav", np.zeros(100, np.float32), 16000)
    assert out.stat().st_mode & 0o777 == 0o644
    out.chmod(0o600)                    # a user's choice survives a rewrite
    write_wav(out, np.zeros(100, np.float32), 16000)
    assert out.stat().st_mode & 0o777 == 0o600
