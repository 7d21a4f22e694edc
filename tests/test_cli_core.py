"""`wavenet --help`, `train`, `generate` and `info`, run as a user would run them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from wavenet_core import WaveNet, preset_config, save_model

WAVENET = [sys.executable, "-m", "wavenet_core"]


def run(*args, check=True):
    r = subprocess.run(WAVENET + list(args), capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr[-800:]
    return r


def test_help_lists_commands():
    out = run("--help").stdout
    for name in ("train", "generate", "info"):
        assert name in out


def test_train_generate_info(tmp_path):
    out = tmp_path / "run"
    run("train", "--preset", "tiny", "--steps", "4", "--batch-size", "2", "--segment", "800", "--corpus-size", "6",
        "--corpus-seconds", "0.5", "--val-every", "2", "--checkpoint-every", "2", "--out", str(out))
    assert (out / "model.safetensors").is_file() and (out / "log.csv").is_file()
    info = json.loads(run("info", str(out), "--json").stdout)
    assert info["receptive_field_samples"] == 16 and info["parameters"] > 1000
    text = run("info", str(out)).stdout
    assert "receptive field" in text and "ms" in text
    wav = tmp_path / "note.wav"
    run("generate", "--model", str(out), "--seconds", "0.05", "--instrument", "bell", "--pitch", "60",
        "--loudness", "-18", "--seed", "1", "--reference", "--out", str(wav))
    audio, sr = sf.read(wav)
    assert sr == 16000 and len(audio) == 800 and np.isfinite(audio).all()


def test_user_errors_are_one_line(tmp_path):
    r = run("info", str(tmp_path / "missing"), check=False)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_info_names_its_model_with_model_like_every_command(tmp_path):
    """`--model` wherever a model is named; the positional `wavenet info NAME` stays as an alias."""
    out = tmp_path / "run"
    save_model(WaveNet(preset_config("tiny")), out)
    by_flag = json.loads(run("info", "--model", str(out), "--json").stdout)
    by_alias = json.loads(run("info", str(out), "--json").stdout)
    assert by_flag == by_alias and by_flag["model"] == str(out) and by_flag["receptive_field_samples"] == 16
    assert json.loads(run("info", "--model", str(out), str(out), "--json").stdout) == by_flag   # the same name twice
    r = run("info", "--model", str(out), str(tmp_path / "other"), check=False)
    assert r.returncode == 2 and r.stderr.startswith("error: Name the model once") and r.stderr.count("\n") == 1
