"""WaveNet Control Studio in the browser: assembles the tabs into a Gradio ``Blocks`` app and serves it.

``build_app(model_dir=None)`` returns the app without launching it; ``main()`` parses
``--host/--port/--share/--model-dir`` and serves it (``wavenet app`` and the top-level ``app.py``
both call it).

The package, one module per concern:
- ``server``: limits, one-line errors, input checks, the model cache, upload checks, per-job stop,
  typed requests (every tab takes its limits from here);
- ``render``: the result panel (verdict, player, tables, figures, downloads);
- ``generate`` (Conditioning tab), ``sampling``, ``autoencoder``, ``model``: one module per tab;
- this module: the page (model picker above the tabs), the launch defaults and the command line.
"""
from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path

import gradio as gr

from .autoencoder import autoencoder_tab
from .generate import conditioning_tab
from .model import model_tab
from .render import ResultWriter
from .sampling import sampling_tab
from .server import (DEFAULT_QUEUE_SIZE, MAX_SECONDS, MAX_UPLOAD_BYTES, CheckpointError, JobRegistry, ModelShelf,
                     Studio, friendly, kind_of, log, one_line)

# Kept importable from here for existing callers (tests, benchmarks, notebooks).
from .sampling import SAMPLING_TARGETS  # noqa: F401,E402

THEME_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]   # no web fonts: the studio works offline
CSS = """
.result-audio audio { width: 100%; }
footer { display: none !important; }
"""
# Tabs in page order: (title, id, builder). The Conditioning tab is first; the Model tab last.
TABS = (("Conditioning", "conditioning", conditioning_tab), ("Sampling", "sampling", sampling_tab),
        ("Autoencoder", "autoencoder", autoencoder_tab))


class StudioBlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch()`` defaults keep a shared server safe: an upload size limit
    (refused before any decoding), no error details beyond our own messages, offline fonts."""

    def launch(self, *args, **kwargs):
        kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
        kwargs.setdefault("show_error", False)
        kwargs.setdefault("theme", gr.themes.Default(font=THEME_FONTS, font_mono=["ui-monospace", "monospace"]))
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("footer_links", [])
        return super().launch(*args, **kwargs)


def build_app(model_dir: str | os.PathLike | None = None, *, slots: int | None = None,
              queue_size: int = DEFAULT_QUEUE_SIZE, max_seconds: float = MAX_SECONDS, warm_up: bool = True) -> gr.Blocks:
    """The studio as a ``gr.Blocks`` (not launched). ``model_dir``: where installed models live
    (default: $WAVENET_MODEL_DIR and assets/models); ``slots``: concurrent generations (default:
    one per CPU core); ``queue_size``: waiting requests beyond which new ones are refused;
    ``warm_up``: compile the generator and pitch tracker in a background thread
    (``demo.warm_up_thread``) so the first request is as quick as the rest."""
    slots = max(1, int(slots or os.cpu_count() or 1))
    studio = Studio(ModelShelf(model_dir), ResultWriter(), JobRegistry(), slots, float(max_seconds))
    names = studio.shelf.names("wavenet")
    default = studio.shelf.default("wavenet")
    initial = None
    if default:
        try:
            initial = studio.shelf.get(default)
        except (CheckpointError, ValueError) as e:
            log.warning("cannot load %s: %s", default, e)
    with StudioBlocks(title="WaveNet Control Studio", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# WaveNet Control Studio\nShape sounds from a WaveNet: choose a model, set the controls, "
                    "press **Generate**. Every result comes with a verdict, its waveform, spectrogram, "
                    "measurements and downloads.")
        with gr.Row() as picker_row:
            model_dd = gr.Dropdown(names, value=default, label="Model", scale=3, elem_id="model-picker",
                                   info="WaveNet models installed on this server." if names else
                                   "No models installed: train one with `wavenet train --out assets/models/NAME`.")
            rescan = gr.Button("Rescan models", scale=1, size="sm", elem_id="rescan")
        hooks = []
        tabs = []
        with gr.Tabs():
            for title, tab_id, build in TABS:
                with gr.Tab(title, id=tab_id) as tab:
                    hooks.append(build(studio, model_dd, initial))
                tabs.append((tab, hooks[-1]))
            with gr.Tab("Model", id="model") as tab:
                hooks.append(model_tab(studio, default if initial is not None else None))
            tabs.append((tab, {"hides_model_picker": True}))

        # The WaveNet picker shows only on the tabs it applies to (not Autoencoder, which has its own,
        # nor Model, which lists every kind).
        def picker_shown(visible: bool):
            return lambda: gr.update(visible=visible)

        for tab, hook in tabs:
            tab.select(picker_shown(not hook.get("hides_model_picker")), None, picker_row, queue=False,
                       api_name=f"show_tab_{tab.id}", api_visibility="private")

        on_model_fns = [h["on_model"] for h in hooks if "on_model" in h]
        model_outputs = [c for _, outs in on_model_fns for c in outs]

        @friendly
        def select_model(name):
            """Switch the tabs to the installed WaveNet called ``name``."""
            studio.shelf.get(name, kind="wavenet")  # validate first: unknown names get a clear error
            out = []
            for fn, _ in on_model_fns:
                out += list(fn(name))
            return out

        model_dd.change(select_model, model_dd, model_outputs, api_name="select_model", concurrency_id="light",
                        concurrency_limit=4)

        pickers = [(model_dd, "wavenet")] + [p for h in hooks for p in h.get("pickers", [])]

        @friendly
        def list_installed(*current):
            """Installed models for each picker (a picker keeps its choice while that model is still there)."""
            out = []
            for (_, kind), value in zip(pickers, current):
                found = studio.shelf.names(kind)
                out.append(gr.update(choices=found, value=value if value in found else (found[0] if found else None)))
            return out

        rescan.click(list_installed, [p for p, _ in pickers], [p for p, _ in pickers], api_name="list_models",
                     queue=False)

    demo.queue(max_size=int(queue_size), default_concurrency_limit=1)
    demo.studio = studio  # for tests and benchmarks: the shelf, the result folder, the limits
    demo.warm_up_thread = None
    if warm_up and initial is not None and kind_of(initial) == "wavenet":
        demo.warm_up_thread = threading.Thread(target=studio.warm_up, args=(default,), daemon=True, name="studio-warm-up")
        demo.warm_up_thread.start()
    return demo


# ---- command line -----------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 to serve your network)")
    p.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    p.add_argument("--model-dir", default=None,
                   help="folder of installed models (NAME/model.safetensors); default: $WAVENET_MODEL_DIR and assets/models")
    p.add_argument("--slots", type=int, default=None, help="concurrent generations (default: one per CPU core)")
    p.add_argument("--queue-size", type=int, default=DEFAULT_QUEUE_SIZE, help="waiting requests before new ones are refused")


def run(args: argparse.Namespace) -> None:
    import torch
    if args.model_dir and not Path(args.model_dir).is_dir():
        raise FileNotFoundError(f"--model-dir {args.model_dir}: no such folder; pass a folder holding NAME/model.safetensors.")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535; got {args.port}.")
    if args.queue_size < 1 or (args.slots is not None and args.slots < 1):
        raise ValueError("--slots and --queue-size must be at least 1.")
    # One generation per core: each gets one thread rather than all of them fighting over every core.
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Warm up only once the server answers: compiling while Gradio checks that its new server is
    # reachable (one 3-second request) could make that check fail on a busy machine.
    demo = build_app(args.model_dir, slots=args.slots, queue_size=args.queue_size, warm_up=False)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True)
    default = demo.studio.shelf.default("wavenet")
    if default:
        threading.Thread(target=demo.studio.warm_up, args=(default,), daemon=True, name="studio-warm-up").start()
    demo.block_thread()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="app.py", description="WaveNet Control Studio in your browser.")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError) as e:
        p.exit(2, f"error: {one_line(e)}\n")
