"""WaveNet Control Studio in the browser: ``python app.py [--host 127.0.0.1] [--port N] [--share] [--model-dir DIR]``.

The app itself lives in the ``wavenet_core/studio/`` package so ``wavenet app`` works from any install;
this file is the conventional entry point (and what ``import app; app.build_app()`` finds).
"""
from wavenet_core.studio.app import build_app, main

__all__ = ["build_app", "main"]

if __name__ == "__main__":
    main()
