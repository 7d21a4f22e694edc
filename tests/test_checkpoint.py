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
    import wavenet_core.model.checkpoint as ck

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


# ---- hostile configs: refused from the header alone, before any model is built ---------------
def _with_config(tmp_path, saved, name: str, config, kind: str = "wavenet") -> "Path":
    """The good tiny checkpoint's weights under a rewritten config (a JSON value, or raw text)."""
    model, _ = saved
    text = config if isinstance(config, str) else json.dumps(config)
    p = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(p),
              metadata={"kind": kind, "config": text})
    return p


@pytest.fixture()
def built(monkeypatch):
    """Records every model built with real storage (the meta device allocates nothing)."""
    import wavenet_core.controls.autoencoder as ae
    import wavenet_core.model.wavenet as wm
    calls = []
    for cls in (wm.WaveNet, ae.WaveNetAutoencoder):
        def init(self, config, _orig=cls.__init__, _name=cls.__name__):
            if torch.get_default_device().type != "meta":
                calls.append(_name)
            _orig(self, config)
        monkeypatch.setattr(cls, "__init__", init)
    return calls


HOSTILE_WAVENET = {
    "huge channels": ({"residual_channels": 10 ** 6}, "residual_channels"),
    "negative size": ({"local_dim": -1}, "local_dim"),
    "negative channels": ({"skip_channels": -5}, "skip_channels"),
    "string for an int": ({"residual_channels": "32"}, "residual_channels must be an integer"),
    "float for an int": ({"layers_per_stack": 4.0}, "layers_per_stack must be an integer"),
    "bool for an int": ({"stacks": True}, "stacks must be an integer"),
    "null for an int": ({"gate_channels": None}, "gate_channels must be an integer"),
    "huge upsample scales": ({"local_dim": 6, "upsample_scales": [10 ** 6, 10 ** 6], "hop_length": 10 ** 12},
                             "hop_length"),
    "upsample scales as a string": ({"upsample_scales": "4410"}, "upsample_scales must be a list"),
    "too many layers": ({"layers_per_stack": 40}, "layers_per_stack"),
    "unknown excitation": ({"excitation": "saw"}, "excitation must be one of"),
    "excitation as a number": ({"excitation": 1}, "excitation must be one of"),
    "too many harmonics": ({"excitation_harmonics": 65}, "excitation_harmonics"),
    "harmonics as a string": ({"excitation_harmonics": "4"}, "excitation_harmonics must be an integer"),
    "names that are not strings": ({"n_instruments": 2, "instrument_names": [1, 2]}, "instrument_names"),
    "odd gate channels": ({"gate_channels": 15}, "gate_channels must be even"),
    # every field inside its bounds, the whole far too big: only the parameter count refuses it
    "over the parameter limit": ({"residual_channels": 4096, "gate_channels": 8192, "skip_channels": 4096,
                                  "layers_per_stack": 16, "stacks": 16}, "parameters"),
    "upsampler over the limit": ({"local_dim": 6, "upsample_scales": [256, 256], "hop_length": 65536,
                                  "upsample_channels": 4096}, "parameters"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_WAVENET))
def test_hostile_wavenet_config_is_refused_before_building(tmp_path, saved, built, case):
    model, _ = saved
    change, message = HOSTILE_WAVENET[case]
    p = _with_config(tmp_path, saved, "hostile", {**model.config.to_dict(), **change})
    with pytest.raises(CheckpointError, match=message) as e:
        load_model(p)
    assert _one_line(e).startswith("hostile.safetensors: ")
    assert built == []


HOSTILE_AUTOENCODER = {
    "huge n_fft": ({"n_fft": 10 ** 9}, "n_fft"),
    "fft over the parameter limit": ({"n_fft": 65536, "encoder_channels": 4096}, "parameters"),
    "no dilations": ({"encoder_dilations": []}, "encoder_dilations"),
    "NaN pitch weight": ({"pitch_weight": float("nan")}, "pitch_weight must be a finite number"),
    "string latent size": ({"latent_dim": "16"}, "latent_dim must be an integer"),
    "negative latent size": ({"latent_dim": -16}, "latent_dim"),
    "a WaveNet field": ({"n_instruments": 3}, "unknown field"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_AUTOENCODER))
def test_hostile_autoencoder_config_is_refused_before_building(tmp_path, saved, built, case):
    from wavenet_core.model.autoencoder import autoencoder_config
    change, message = HOSTILE_AUTOENCODER[case]
    p = _with_config(tmp_path, saved, "hostile", {**autoencoder_config("tiny").to_dict(), **change}, kind="autoencoder")
    with pytest.raises(CheckpointError, match=message) as e:
        load_model(p)
    _one_line(e)
    assert built == []


@pytest.mark.parametrize("config", ["[1, 2]", "not json", "[" * 100_000, '"a string"', "null"])
def test_config_that_is_not_an_object_is_refused(tmp_path, saved, built, config):
    with pytest.raises(CheckpointError, match="bad config") as e:
        load_model(_with_config(tmp_path, saved, "notobject", config))
    _one_line(e)
    assert built == []


def test_malformed_tensor_entries_and_training_metadata_are_refused(tmp_path, saved):
    model, path = saved
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + n])
    for i, (key, value) in enumerate([("shape", ["8", 16]), ("shape", [-1, 16]), ("data_offsets", ["0", 4]),
                                      ("dtype", ["F32"])]):
        bad = json.loads(json.dumps(header))
        bad["head2.bias"][key] = value
        blob = json.dumps(bad).encode()
        p = tmp_path / f"entry{i}.safetensors"
        p.write_bytes(struct.pack("<Q", len(blob)) + blob + data[8 + n:])
        with pytest.raises(CheckpointError, match="malformed") as e:
            load_model(p)
        _one_line(e)
    p = tmp_path / "training.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(p),
              metadata={"kind": "wavenet", "config": json.dumps(model.config.to_dict()), "training": "{oops"})
    with pytest.raises(CheckpointError, match="bad training"):
        load_model(p)


def test_configs_without_the_newer_fields_still_load(tmp_path, saved):
    """A checkpoint written before a field existed (here the excitation ones) loads with its default."""
    model, _ = saved
    old = {k: v for k, v in model.config.to_dict().items() if not k.startswith("excitation")}
    loaded = load_model(_with_config(tmp_path, saved, "old", old))
    assert loaded.config == model.config and loaded.config.excitation == "none"


@pytest.mark.parametrize("name", ["notes", "autoencoder"])
def test_shipped_models_pass_the_config_checks(name):
    from wavenet_core.model.checkpoint import MAX_PARAMETERS, load_checkpoint_metadata, validate_config
    meta = load_checkpoint_metadata(name)
    config = validate_config(meta["kind"], meta["config"], name)
    assert load_model(name).n_parameters <= MAX_PARAMETERS and load_model(name).config == config
