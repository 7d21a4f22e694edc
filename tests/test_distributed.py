"""Scale-out: ``torchrun --nproc_per_node=2 -m wavenet_core.training.train`` (DDP over gloo, two CPU
processes) trains the same model as one process with the same global batch.

Each rank takes its slice of the same deterministic global batch and DDP averages the
gradients, so the two runs differ only by floating-point summation order: the logged losses
and the final weights agree to ~1e-7 (asserted at 1e-5).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import torch

from wavenet_core import load_model
from wavenet_core.training.train import TrainConfig, train

ARGS = dict(preset="tiny", steps=10, batch_size=4, segment=800, corpus_size=12, corpus_seconds=0.6, val_every=5,
            checkpoint_every=5, lr=5e-3, warmup=2, seed=3, threads=1)   # val_batches: the default 2


def _flags(**kw) -> list[str]:
    return [x for k, v in kw.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def _log(out) -> list[dict]:
    with open(out / "log.csv") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(single-process run folder, 2-process torchrun folder, torchrun's output)."""
    root = tmp_path_factory.mktemp("ddp")
    single, ddp = root / "single", root / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "wavenet_core.training.train", *_flags(**ARGS), "--out", str(ddp)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # The single-process reference trains here while the two ranks run.
    train(TrainConfig(out=str(single), **ARGS), log=lambda *a: None, progress=False)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-2000:]
    return single, ddp, output


def test_two_processes_match_one(runs):
    single, ddp, output = runs
    a, b = _log(single), _log(ddp)
    assert [r["step"] for r in a] == [r["step"] for r in b] == [5, 10]
    for ra, rb in zip(a, b):          # the log shows the global batch's loss, not rank 0's half
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert ra[key] == pytest.approx(rb[key], abs=1e-5), key
    wa, wb = load_model(single / "model.safetensors"), load_model(ddp / "model.safetensors")
    worst = 0.0
    for (name, x), y in zip(wa.state_dict().items(), wb.state_dict().values()):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=0, msg=name)
        worst = max(worst, float((x - y).abs().max()))
    print(f"\nDDP (2 ranks, gloo) vs 1 process after {ARGS['steps']} steps: largest weight difference {worst:.2e}, "
          f"final train loss {a[-1]['train_loss']:.6f} vs {b[-1]['train_loss']:.6f}")


def test_only_rank_zero_speaks_and_writes(runs):
    _, ddp, output = runs
    assert output.count("model: 11,828 parameters") == 1 and "world 2" in output
    assert sorted(p.name for p in ddp.iterdir()) == ["curves.png", "log.csv", "model.safetensors",
                                                     "trainer_state.safetensors"]
    assert load_model(ddp / "model.safetensors").training_info["step"] == ARGS["steps"]


def test_uneven_batch_split_is_a_clear_error(tmp_path, monkeypatch):
    """5 examples cannot be split over 2 ranks; said before any process group or data."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit, match=r"--batch-size 5 does not split evenly over 2 processes; use a multiple of 2"):
        train(TrainConfig(out=str(tmp_path / "run"), **{**ARGS, "batch_size": 5}), log=lambda *a: None, progress=False)
    assert not (tmp_path / "run").exists()
