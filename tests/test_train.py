"""Training: the tiny preset overfits, resume continues exactly, outputs are checked up front."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wavenet_core import WaveNet, load_model, preset_config
from wavenet_core.controls.conditioning import encode_local
from wavenet_core.data import NoteCorpus
from wavenet_core.model.mulaw import mu_law_encode
from wavenet_core.training.train import TrainConfig, train


def test_tiny_preset_overfits_one_phrase():
    corpus = NoteCorpus(size=8, seconds=1.0, phrase_share=1.0)
    ex = corpus.example(0)
    torch.manual_seed(0)
    model = WaveNet(preset_config("tiny", local_dim=6, n_instruments=6))
    seg = slice(0, 3200)
    x = mu_law_encode(torch.from_numpy(ex.audio[seg]))[None]
    local = torch.from_numpy(encode_local(ex.f0[:20], ex.loudness[:20]))[None]
    inst = torch.tensor([ex.instrument])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        loss = F.cross_entropy(model(x, instrument=inst, local_cond=local), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], (losses[0], losses[-1])


def _cfg(out, **kw):
    base = dict(out=str(out), preset="tiny", steps=40, batch_size=4, segment=800, corpus_size=12, corpus_seconds=0.6,
                val_every=10, checkpoint_every=20, lr=5e-3, warmup=5, seed=3, val_batches=1)
    return TrainConfig(**{**base, **kw})


def _log(out):
    with open(out / "log.csv") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_run_writes_checkpoint_log_and_plot(tiny_run):
    assert (tiny_run / "curves.png").stat().st_size > 1000
    rows = _log(tiny_run)
    assert [r["step"] for r in rows] == [50, 100, 150]
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] or rows[-1]["train_loss"] < rows[0]["train_loss"]
    model = load_model(tiny_run / "model.safetensors")
    assert model.training_info["step"] == 150
    assert model.config.instrument_names == ("pluck", "bell", "saw", "clarinet", "organ", "flute")


def test_resume_continues_exactly(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    train(_cfg(full), log=lambda *a: None, progress=False)
    train(_cfg(part), log=lambda *a: None, progress=False, stop_at=20)   # interrupted after step 20
    train(_cfg(part), resume=True, log=lambda *a: None, progress=False)
    a, b = _log(full), _log(part)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], abs=1e-6)
        assert ra["val_loss"] == pytest.approx(rb["val_loss"], abs=1e-6)
    wa, wb = load_model(full / "model.safetensors"), load_model(part / "model.safetensors")
    for (k, va), vb in zip(wa.state_dict().items(), wb.state_dict().values()):
        torch.testing.assert_close(va, vb, atol=1e-6, rtol=0, msg=k)


def test_kill_minus_9_then_resume_matches_uninterrupted(tmp_path):
    """A real training process killed mid-run resumes from its last checkpoint with identical losses."""
    full, killed = tmp_path / "full", tmp_path / "killed"
    args = ["--preset", "tiny", "--steps", "60", "--batch-size", "4", "--segment", "800", "--corpus-size", "12",
            "--corpus-seconds", "0.6", "--val-every", "10", "--checkpoint-every", "10", "--lr", "5e-3", "--warmup", "5",
            "--seed", "3", "--threads", "1"]
    cmd = [sys.executable, "-m", "wavenet_core", "train"]
    subprocess.run(cmd + args + ["--out", str(full)], check=True, capture_output=True)
    proc = subprocess.Popen(cmd + args + ["--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "trainer_state.safetensors"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if state.exists() and any(r["step"] >= 20 for r in _safe_log(killed)):
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("training finished before it could be killed; make the run longer")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = max(r["step"] for r in _safe_log(killed))
    assert stopped_at < 60
    load_model(killed / "model.safetensors")  # the last checkpoint is valid after kill -9
    r = subprocess.run(cmd + args + ["--out", str(killed), "--resume"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]
    a, b = _log(full), _log(killed)
    assert [x["step"] for x in a] == [x["step"] for x in b]
    for ra, rb in zip(a, b):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], abs=1e-6)


def _safe_log(out):
    try:
        return _log(out)
    except (FileNotFoundError, KeyError, ValueError):
        return []


def test_unwritable_output_fails_fast(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit, match="cannot write"):
        train(_cfg(blocker / "sub"), log=lambda *a: None, progress=False)


def test_resume_without_state_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="nothing to resume"):
        train(_cfg(tmp_path / "empty"), resume=True, log=lambda *a: None, progress=False)


def test_corpus_is_deterministic_and_labelled():
    a, b = NoteCorpus(size=12, seed=5), NoteCorpus(size=12, seed=5)
    for i in range(12):
        ea, eb = a.example(i), b.example(i)
        np.testing.assert_array_equal(ea.audio, eb.audio)
        assert ea.instrument == i % 6
        assert len(ea.f0) == len(ea.loudness) == -(-len(ea.audio) // ea.hop_length)
        assert np.abs(ea.audio).max() <= 1.0 and np.abs(ea.audio).max() > 0.01
        voiced = ea.f0 > 0
        assert voiced.any()
        assert (ea.loudness[voiced] > -60).all()
    assert not np.array_equal(NoteCorpus(size=1, seed=6).example(0).audio, a.example(0).audio)


def test_max_minutes_fits_the_schedule_into_the_time(tmp_path):
    """--max-minutes sets the step count from the measured speed (after 150 steps): a run asked for
    a huge number of steps ends on its own, its schedule decays to the end, and the fitted count is
    what the checkpoint records, so --resume --steps N continues the same run."""
    from dataclasses import replace

    from wavenet_core.training.train import lr_at
    cfg = replace(_cfg(tmp_path / "run"), steps=10_000_000, max_minutes=0.05, val_every=50)
    lines = []
    train(cfg, log=lines.append, progress=False)
    info = load_model(tmp_path / "run" / "model.safetensors").training_info
    fitted = info["train_config"]["steps"]
    assert 150 < fitted < 10_000_000 and info["step"] == fitted
    assert any("--max-minutes" in line and f"{fitted} steps" in line for line in lines)
    rows = _log(tmp_path / "run")
    assert rows[-1]["step"] == fitted
    assert rows[-1]["lr"] == pytest.approx(lr_at(fitted - 1, replace(cfg, steps=fitted)))
    assert rows[-1]["lr"] < 0.2 * cfg.lr          # the cosine reached its end, not a cut-off mid-schedule
