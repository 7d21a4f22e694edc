"""`wavenet --help`, `train`, `generate` and `info`, run as a user would run them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

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
