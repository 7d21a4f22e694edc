"""The ``wavenet`` command: one sub-command per job.

User mistakes (bad files, bad values) end with a one-line ``error: …`` and exit status 2,
never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS: dict = {}


def command(name: str, help: str, setup):
    """Register ``fn(args)`` as ``wavenet NAME``; ``setup(parser)`` adds its arguments."""
    def register(fn):
        COMMANDS[name] = (fn, help, setup)
        return fn
    return register


def progress_bar(total_label: str = "generate"):
    from tqdm import tqdm
    state = {"bar": None}

    def update(done: int, total: int) -> None:
        if state["bar"] is None:
            state["bar"] = tqdm(total=total, desc=total_label, unit="sample", unit_scale=True, file=sys.stderr, leave=False)
        state["bar"].n = done
        state["bar"].refresh()
        if done >= total:
            state["bar"].close()
    return update


def _load_commands() -> None:
    """Import every module in ``wavenet_core.commands``; each registers its sub-commands."""
    import importlib
    import pkgutil

    from . import commands
    for mod in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
        importlib.import_module(f"{commands.__name__}.{mod}")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``argv``, only the invoked sub-command's arguments are set up,
    so `wavenet info` does not pay for importing what `wavenet app` needs (Gradio)."""
    _load_commands()
    chosen = next((a for a in (argv or []) if not a.startswith("-")), None)
    p = argparse.ArgumentParser(prog="wavenet", description="WaveNet Control Studio: train, generate and control WaveNets.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (fn, help_, setup) in sorted(COMMANDS.items()):
        sp = sub.add_parser(name, help=help_, description=help_)
        if chosen not in COMMANDS or chosen == name:
            setup(sp)
        sp.set_defaults(func=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    from .audio_io import AudioError
    from .model.checkpoint import CheckpointError
    import signal
    if hasattr(signal, "SIGPIPE"):  # `wavenet info | head` ends quietly, as other Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        args.func(args)
    except (AudioError, CheckpointError, ValueError, FileNotFoundError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Run through the imported module so command modules register into the same registry.
    from wavenet_core.cli import main as _main
    sys.exit(_main())
