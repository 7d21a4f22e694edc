"""Take the README's screenshots: the studio on the shipped models, driven by Playwright in Debian's Chromium.

    .venv/bin/python docs/screenshots/make_screenshots.py            # writes docs/screenshots/<tab>.png
    .venv/bin/python docs/screenshots/make_screenshots.py --out /tmp/shots --model-dir runs/models

The tests photograph the tabs too, but of the tiny test models and into their own tmp_path: the pictures
in the README are of the models users get, so they come from here, on purpose, never from a test run.
Needs `/usr/bin/chromium` (`apt install chromium`; no browser is downloaded) and Playwright (the test extras).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PLAYER = ".result-audio audio[data-testid^='audio-player-']"
TIMEOUT_MS = 600_000          # the shipped models on a busy 2-core machine: a decode can take a while


def _number(page, elem_id: str, value: float) -> None:
    """Type a value into a slider's number box (what a user does for an exact value)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def conditioning(page) -> None:
    page.click("#example-1")                # a one-click example: a melody, with its per-note table and MIDI
    page.wait_for_selector(PLAYER, state="attached")
    page.wait_for_selector("text=of audio generated in")
    _number(page, "duration", 1.0)          # and a held note, so the history holds two takes to compare
    page.locator("#pitch-mode").get_by_label("note", exact=True).check()
    page.click("#generate-conditioning")
    page.wait_for_function("() => /take 2/.test(document.querySelector('#take-a input').value)")


def sampling(page) -> None:
    page.get_by_role("tab", name="Sampling").click()
    _number(page, "s-seconds", 0.5)
    _number(page, "s-max", 8)
    page.click("#sample")
    page.wait_for_selector("text=candidates accepted")
    page.locator(".sampling-scatter img").or_(page.get_by_text("Nothing to plot")).first.wait_for()
    page.click("#compare")                  # the method comparison, at the top of the results
    page.wait_for_selector("text=Conditioned on")


def autoencoder(page) -> None:
    page.get_by_role("tab", name="Autoencoder").click()
    page.click("#reconstruct")              # clip A back at its own pitch (the sliders left at 0)
    page.wait_for_selector(".ae-latent img")
    page.wait_for_selector("text=of audio generated in")


def steering(page) -> None:
    page.get_by_role("tab", name="Autoencoder").click()
    page.locator("#steer-panel").get_by_text("Steer to targets").first.click()
    page.click("#steer-run")
    page.wait_for_selector(".steer-path img")
    page.wait_for_selector("#steer-result .result-spectrogram img")


def model(page) -> None:
    page.get_by_role("tab", name="Model").click()
    page.wait_for_selector(".model-rf img")
    page.wait_for_selector(".model-curves img")


TABS = {"conditioning": conditioning, "sampling": sampling, "autoencoder": autoencoder, "steering": steering,
        "model": model}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=HERE, help="folder for <tab>.png (default: docs/screenshots)")
    p.add_argument("--model-dir", type=Path, default=REPO / "assets" / "models", help="installed models to show")
    p.add_argument("--only", nargs="+", choices=sorted(TABS), default=list(TABS), help="tabs to photograph")
    args = p.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"error: {CHROMIUM} is missing; install Debian's chromium (apt install chromium).", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright
    from wavenet_core.studio.app import build_app

    args.out.mkdir(parents=True, exist_ok=True)
    demo = build_app(args.model_dir, slots=1, queue_size=4)
    if demo.warm_up_thread is not None:
        demo.warm_up_thread.join()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for name in args.only:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()           # a fresh page per tab: each picture shows one action
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url)
                page.wait_for_selector("#generate-conditioning")
                TABS[name](page)
                errors = [t.inner_text() for t in page.locator(".toast-body.error").all()]
                if errors:
                    print(f"error: the {name} tab showed an error: {errors[0]}", file=sys.stderr)
                    return 1
                path = args.out / f"{name}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"wrote {path}")
                context.close()
            browser.close()
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
