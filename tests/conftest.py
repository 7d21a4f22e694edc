"""Shared fixtures: a tiny model trained for a few seconds on the built-in corpus."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests use tiny models: one thread is as fast and never oversubscribes a busy machine.
torch.set_num_threads(int(os.environ.get("WAVENET_TEST_THREADS", "1")))

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Run folder of a `tiny` conditioned model trained for 150 steps on a 48-clip corpus (seconds)."""
    from wavenet_core.train import TrainConfig, train
    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(out=str(out), preset="tiny", steps=150, batch_size=8, segment=1600, corpus_size=48,
                      corpus_seconds=1.0, val_every=50, checkpoint_every=50, lr=1e-2, warmup=10, seed=0)
    train(cfg, log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_ae_run(tmp_path_factory) -> Path:
    """Run folder of a `tiny` autoencoder trained for 80 steps on a 12-clip corpus (PCA fitted by the
    training loop): the autoencoder and steering tests."""
    from wavenet_core.train import TrainConfig, train
    out = tmp_path_factory.mktemp("tiny_ae_run")
    cfg = TrainConfig(out=str(out), model_type="autoencoder", preset="tiny", steps=80, batch_size=4, segment=2048,
                      corpus_size=12, corpus_seconds=1.0, val_every=80, val_batches=1, checkpoint_every=80, lr=1e-2,
                      warmup=5, seed=0, threads=1)
    threads = torch.get_num_threads()
    try:   # one thread: on a shared 2-core machine a second one mostly waits
        train(cfg, log=lambda *a: None, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def studio_ae_run(tmp_path_factory) -> Path:
    """A `tiny` autoencoder trained for a few steps, for the studio's tests (the app's plumbing is tested,
    not its sound); $STUDIO_TEST_AE_RUN serves a real one instead (the README's screenshots)."""
    if os.environ.get("STUDIO_TEST_AE_RUN"):
        return Path(os.environ["STUDIO_TEST_AE_RUN"])
    from wavenet_core.train import TrainConfig, train
    out = tmp_path_factory.mktemp("studio_ae_run")
    train(TrainConfig(out=str(out), model_type="autoencoder", preset="tiny", steps=20, batch_size=4, segment=2048,
                      corpus_size=12, corpus_seconds=1.0, val_every=20, val_batches=1, checkpoint_every=20,
                      lr=1e-2, warmup=5, seed=0), log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run):
    from wavenet_core import load_model
    return load_model(tiny_run / "model.safetensors")
