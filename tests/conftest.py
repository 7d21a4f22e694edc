"""Shared fixtures: tiny models trained for a few seconds on the built-in corpus, and a guard that
fails the run when the suite changed a file git tracks.

The trained fixtures are pinned (seed, one thread, deterministic algorithms), so a machine gets
the same weights on every run; other CPUs may still round differently (vectorised kernels differ),
so tests built on them assert what holds for any correct implementation, never that a tiny model
happens to succeed at something.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests use tiny models: one thread is as fast and never oversubscribes a busy machine.
torch.set_num_threads(int(os.environ.get("WAVENET_TEST_THREADS", "1")))

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def pinned(seed: int = 0) -> Iterator[None]:
    """Train a fixture reproducibly: seeded generators, one thread (no reduction-order races),
    deterministic algorithms; the process's settings are restored afterwards."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def _tracked_state() -> dict[str, str] | None:
    """Each tracked file that differs from HEAD → its status and a hash of its content (None outside a git
    checkout). Hashing catches a file that was already modified and is then changed again."""
    if shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain=v1", "-z", "--untracked-files=no"],
                             capture_output=True, check=True, timeout=60).stdout.decode("utf-8", "replace")
    except (subprocess.SubprocessError, OSError):
        return None                                   # not a checkout (an sdist, a copied tree): nothing to guard
    state = {}
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:            # renames and copies carry the source path next
            next(entries, None)
        f = REPO / path
        state[path] = status + (hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "-")
    return state


@pytest.fixture(scope="session", autouse=True)
def tracked_files_untouched() -> Iterator[None]:
    """Tests write only under tmp_path: fail the run if any file git tracks changed while it ran."""
    before = _tracked_state()
    yield
    if before is None:
        return
    after = _tracked_state() or {}
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        pytest.fail(f"the test run changed tracked files: {', '.join(changed[:10])}; tests must write under "
                    "tmp_path only (restore them with git).", pytrace=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Run folder of a `tiny` conditioned model trained for 150 steps on a 48-clip corpus (seconds)."""
    from wavenet_core.training.train import TrainConfig, train
    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(out=str(out), preset="tiny", steps=150, batch_size=8, segment=1600, corpus_size=48,
                      corpus_seconds=1.0, val_every=50, checkpoint_every=50, lr=1e-2, warmup=10, seed=0)
    with pinned(cfg.seed):
        train(cfg, log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_ae_run(tmp_path_factory) -> Path:
    """Run folder of a `tiny` autoencoder trained for 80 steps on a 12-clip corpus (PCA fitted by the
    training loop): the autoencoder and steering tests."""
    from wavenet_core.training.train import TrainConfig, train
    out = tmp_path_factory.mktemp("tiny_ae_run")
    cfg = TrainConfig(out=str(out), model_type="autoencoder", preset="tiny", steps=80, batch_size=4, segment=2048,
                      corpus_size=12, corpus_seconds=1.0, val_every=80, val_batches=1, checkpoint_every=80, lr=1e-2,
                      warmup=5, seed=0, threads=1)
    with pinned(cfg.seed):
        train(cfg, log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="session")
def studio_ae_run(tmp_path_factory) -> Path:
    """A `tiny` autoencoder trained for a few steps, for the studio's tests (the app's plumbing is tested,
    not its sound); $STUDIO_TEST_AE_RUN serves an already trained run instead, to iterate locally. (The
    README's screenshots come from docs/screenshots/make_screenshots.py, not from the tests.)"""
    if os.environ.get("STUDIO_TEST_AE_RUN"):
        return Path(os.environ["STUDIO_TEST_AE_RUN"])
    from wavenet_core.training.train import TrainConfig, train
    out = tmp_path_factory.mktemp("studio_ae_run")
    with pinned(0):
        train(TrainConfig(out=str(out), model_type="autoencoder", preset="tiny", steps=20, batch_size=4, segment=2048,
                          corpus_size=12, corpus_seconds=1.0, val_every=20, val_batches=1, checkpoint_every=20,
                          lr=1e-2, warmup=5, seed=0), log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run):
    from wavenet_core import load_model
    return load_model(tiny_run / "model.safetensors")
