"""``wavenet app``: serve the studio in the browser (the same as ``python app.py``)."""
from __future__ import annotations

from ..cli import command


def _args(p):
    from ..studio.app import add_arguments
    add_arguments(p)


@command("app", "launch the browser studio (Gradio) on this machine", _args)
def cmd_app(args):
    from ..studio.app import run
    run(args)
