"""The training log, ``log.csv`` in a run folder: one row per evaluation, written by ``train`` and
read by resume, the studio's model card and the notebooks. csv only: reading it needs no torch."""
from __future__ import annotations

import csv
import os
from pathlib import Path

LOG_NAME = "log.csv"
LOG_FIELDS = ["step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "samples_per_s", "elapsed_s"]


def read_log(path: str | os.PathLike, upto: int | None = None) -> list[dict[str, float]]:
    """Rows of a training log as ``{column: value}`` floats, in file order (losses in nats per
    sample, accuracies 0..1, ``step`` an optimiser step). ``path``: the ``log.csv`` file or its run
    folder. Blank cells are left out of their row; rows with ``step`` above ``upto`` are dropped.

    Raises ``FileNotFoundError`` when there is no log, ``ValueError`` when a cell is not a number."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_NAME
    with open(path, newline="") as f:
        rows = [{k: float(v) for k, v in r.items() if k is not None and v not in (None, "")} for r in csv.DictReader(f)]
    return rows if upto is None else [r for r in rows if r.get("step", 0.0) <= upto]
