"""Model cards: how a shipped checkpoint was made and what `wavenet evaluate` measured on it.

``ship_model`` copies a run's checkpoint, log and curves into ``assets/models/<name>/`` and writes
``card.md`` (for people) and ``eval.json`` (the figures, reproducible with `wavenet evaluate`).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .audio_io import atomic_write_bytes
from .checkpoint import ASSETS_MODELS, WEIGHTS_NAME, load_checkpoint_metadata


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def card_markdown(name: str, meta: dict, command: str, data: str, eval_report: dict | None, notes: str = "",
                  hardware: str = "a 2-core CPU (shared with other work)") -> str:
    tr = meta.get("training", {})
    cfg = meta.get("config", {})
    final = tr.get("final", {})
    lines = [
        f"# Model card: `{name}`", "",
        f"Kind: {meta.get('kind', 'wavenet')}. Sample rate {cfg.get('sample_rate')} Hz.", "",
        "## How it was trained", "",
        f"- Command: `{command}`",
        f"- Data: {data}",
        f"- Seed: {tr.get('train_config', {}).get('seed')}; steps: {tr.get('step')}; "
        f"batch {tr.get('train_config', {}).get('batch_size')} × {tr.get('train_config', {}).get('segment')} samples",
        f"- Wall time: {tr.get('wall_time_s', 0) / 60:.1f} min on {hardware}",
        f"- Final validation: loss {_fmt(final.get('val_loss'))} nats, next-sample accuracy {_fmt(final.get('val_acc'))}",
        "- Curves: `log.csv`, `curves.png` beside this card.", "",
        "## Architecture", "", "```json", json.dumps(cfg, indent=1), "```", "",
    ]
    if eval_report:
        m, ceiling, targets, passed = (eval_report.get(k, {}) for k in ("metrics", "ceiling", "targets", "passed"))
        lines += ["## Measured (reproduce with `wavenet evaluate --model " + name + "`)", "",
                  f"Seed {eval_report.get('seed')}, temperature {eval_report.get('temperature')}, "
                  f"{eval_report.get('method')} generator; full report in `eval.json`.", "",
                  "| metric | target | model | corpus ceiling | met |", "|---|---|---|---|---|"]
        for key, t in targets.items():
            lines.append(f"| {key} | {t.get('op')} {t.get('value')} | {_fmt(m.get(key))} | {_fmt(ceiling.get(key))} | "
                         f"{'yes' if passed.get(key) else 'no'} |")
        lines.append("")
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    return "\n".join(lines)


def ship_model(run_dir: str | Path, name: str, command: str, data: str, eval_report: dict | None = None,
               notes: str = "", dest_root: str | Path = ASSETS_MODELS,
               hardware: str = "a 2-core CPU (shared with other work)") -> Path:
    """Copy a run into ``dest_root/name`` with its card; returns the destination folder."""
    run_dir, dest = Path(run_dir), Path(dest_root) / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in (WEIGHTS_NAME, "log.csv", "curves.png"):
        if (run_dir / f).is_file():
            atomic_write_bytes(dest / f, lambda tmp, src=run_dir / f: shutil.copyfile(src, tmp))
    meta = load_checkpoint_metadata(dest / WEIGHTS_NAME)
    if eval_report is not None:
        atomic_write_bytes(dest / "eval.json", lambda tmp: Path(tmp).write_text(json.dumps(eval_report, indent=1)))
    text = card_markdown(name, meta, command, data, eval_report, notes, hardware)
    atomic_write_bytes(dest / "card.md", lambda tmp: Path(tmp).write_text(text))
    return dest
