"""The studio in a real browser: Playwright driving Debian's Chromium (never a downloaded browser).

Each tab is opened, used like a musician would, checked for its result and for the absence of error
toasts, and photographed into the test's own tmp_path (the README's screenshots of the shipped models
come from docs/screenshots/make_screenshots.py; tests never write into the checkout).
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

# Gradio's own queue code trips pandas deprecation warnings; they are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
# A result's player: Gradio 6 renders one (wavesurfer, no src attribute on <audio>) only once the
# component holds a sound; an empty component shows a placeholder instead.
PLAYER = ".result-audio audio[data-testid^='audio-player-']"
TIMEOUT_MS = 180_000      # a busy 2-core machine can take a while for the first generation


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    """The studio (its ``gr.Blocks``) on a free local port, serving the tiny test models: (demo, url)."""
    run = Path(os.environ.get("STUDIO_TEST_RUN") or request.getfixturevalue("tiny_run"))
    ae_run = request.getfixturevalue("studio_ae_run")           # $STUDIO_TEST_AE_RUN or a tiny one
    models = tmp_path_factory.mktemp("models")
    # Named after their folders when given by $STUDIO_TEST_RUN / $STUDIO_TEST_AE_RUN (already trained runs,
    # to iterate locally), else the tiny test models.
    wavenet = run.name if os.environ.get("STUDIO_TEST_RUN") else "tiny"
    autoencoder = ae_run.name if os.environ.get("STUDIO_TEST_AE_RUN") else "tiny-ae"
    for model, source in ((wavenet, run), (autoencoder, ae_run)):
        (models / model).mkdir()
        for name in ("model.safetensors", "log.csv", "card.md"):
            if (source / name).is_file():
                shutil.copy(source / name, models / model / name)
    from wavenet_core.studio.app import build_app
    demo = build_app(models, slots=1, queue_size=4)
    if demo.warm_up_thread is not None:
        demo.warm_up_thread.join()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def url(served):
    return served[1]


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`./studio.sh test` does it).")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#generate-conditioning")
    yield page
    context.close()


def error_toasts(page) -> list[str]:
    return [t.inner_text() for t in page.locator(".toast-body.error").all()]


def set_slider(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def snap(page, name: str, out_dir: Path) -> Path:
    """A full-page screenshot in the test's tmp_path (never in the checkout)."""
    path = out_dir / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def type_note(page, note: str) -> None:
    box = page.locator("#pitch-note textarea, #pitch-note input").first
    box.fill(note)
    box.press("Enter")


def test_conditioning_tab_generates(page, tmp_path):
    set_slider(page, "temperature", 0.9)
    set_slider(page, "duration", 0.5)
    type_note(page, "E4")                                                  # a note name, typed
    page.wait_for_selector("#pitch-name >> text=MIDI 64")
    page.click("#generate-conditioning")
    page.wait_for_selector(PLAYER, state="attached")
    page.wait_for_selector(".result-waveform img")
    page.wait_for_selector(".result-spectrogram img")
    page.wait_for_selector("text=of audio generated in")
    assert page.locator("text=0.50 s").first.is_visible()                 # the duration slider was used
    assert page.get_by_role("cell", name="E4").first.is_visible()          # the asked-for note was used
    assert error_toasts(page) == []
    assert snap(page, "conditioning", tmp_path).stat().st_size > 20_000


def test_verdict_and_downloads_beside_the_controls(browser, url):
    """On a 1366×768 laptop screen: Generate and the verdict above the player are in view together; the
    verdict says what was met or missed; WAV and FLAC downloads are offered."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url)
        page.wait_for_selector("#generate-conditioning")
        set_slider(page, "duration", 0.5)
        page.click("#generate-conditioning")
        page.wait_for_selector(PLAYER, state="attached")
        verdict = page.locator(".result-verdict").first
        page.wait_for_function("() => /Everything asked for was met|Missed:/.test("
                               "document.querySelector('.result-verdict').innerText)")
        text = verdict.inner_text()
        assert "pitch:" in text and "level:" in text and "sounding time:" in text
        assert ("Next step:" in text) == ("Missed:" in text)               # a missed property comes with a next step
        for box in (page.locator("#generate-conditioning"), verdict):
            b = box.bounding_box()
            assert b is not None and 0 <= b["y"] and b["y"] + min(b["height"], 40) <= 768, box   # in view, unscrolled
        page.wait_for_selector(".result-flac a[href$='.flac']", state="attached")
        page.wait_for_selector(".result-wav a[href$='.wav']", state="attached")
        assert page.locator("text=WAV and FLAC at 16000 Hz").first.is_visible()
        assert error_toasts(page) == []
    finally:
        context.close()


def test_duration_out_of_range_is_refused_not_clamped(page):
    set_slider(page, "duration", 600)
    page.click("#generate-conditioning")
    toast = page.wait_for_selector(".toast-body.error")
    assert "Duration must be between 0.1 and 10 s; got 600." in toast.inner_text()
    assert page.locator("#duration input[type=number]").input_value() == "600"   # the box shows what was refused


def test_bad_input_shows_a_message_not_a_traceback(page):
    page.get_by_label("melody").check()
    page.locator("#melody textarea").fill("")
    page.click("#generate-conditioning")
    toast = page.wait_for_selector(".toast-body.error")
    text = toast.inner_text()
    assert "The melody is empty" in text
    assert "Traceback" not in text and "File \"" not in text


def test_model_tab(page, tmp_path):
    page.get_by_role("tab", name="Model").click()
    page.wait_for_selector(".model-rf img")
    page.wait_for_selector(".model-curves img")
    summary = page.locator("#model-summary").inner_text()
    assert "receptive field" in summary and "samples =" in summary and "parameters" in summary
    assert error_toasts(page) == []
    assert snap(page, "model", tmp_path).stat().st_size > 20_000


def test_autoencoder_tab(page, tmp_path):
    page.get_by_role("tab", name="Autoencoder").click()
    set_slider(page, "pc-1", 1.5)
    page.click("#decode")
    page.wait_for_selector(".ae-latent img")
    page.wait_for_selector(PLAYER, state="attached")
    page.wait_for_selector("text=of audio generated in")
    assert error_toasts(page) == []
    assert snap(page, "autoencoder", tmp_path).stat().st_size > 20_000


def test_autoencoder_steering(page, tmp_path):
    page.get_by_role("tab", name="Autoencoder").click()
    page.locator("#steer-panel").get_by_text("Steer to targets").first.click()       # open the panel
    budget = page.locator("#steer-budget input")
    budget.fill("4")                                           # a tiny search: the start and one candidate, 2 seeds
    budget.press("Tab")
    page.click("#steer-run")
    page.wait_for_selector(".steer-path img")
    # after and before: each a player holding a sound, its waveform and spectrogram
    page.wait_for_function("() => document.querySelectorAll("
                           "'#steer-result .result-audio audio[data-testid^=\"audio-player-\"]').length == 2")
    page.wait_for_function("() => document.querySelectorAll('#steer-result .result-spectrogram img').length == 2")
    assert page.locator("#steer-result .result-waveform img").count() == 2
    status = page.locator("#steer-status").inner_text()
    assert "of 4 decodes used" in status and ("Targets met" in status or "Closest found, targets not met" in status)
    assert error_toasts(page) == []
    assert snap(page, "steering", tmp_path).stat().st_size > 20_000


def test_sampling_tab(page, tmp_path):
    page.get_by_role("tab", name="Sampling").click()
    set_slider(page, "s-seconds", 0.5)
    set_slider(page, "s-max", 6)
    page.click("#sample")
    # the scatter, or the line saying why there is nothing to plot (a tiny model's candidates may have no pitch)
    page.locator(".sampling-scatter img").or_(page.get_by_text("Nothing to plot")).first.wait_for()
    page.wait_for_selector("text=candidates accepted")
    page.wait_for_selector(".sampling-pick audio[data-testid^='audio-player-']", state="attached")
    page.click("#compare")
    page.wait_for_selector("text=Conditioned on")
    assert error_toasts(page) == []
    assert snap(page, "sampling", tmp_path).stat().st_size > 20_000


# ---- streaming, Stop, examples, history, note entry, downloads (issue #17) ----------------------
LIVE = ".live-audio audio"
RESULT_DONE = "text=of audio generated in"


class HeldGeneration:
    """Holds a streaming generation once it has streamed ``HOLD_AFTER_S`` of sound: from then on each
    further block waits for a ``steps`` token (the test hands them out one at a time) until ``release``,
    so the browser's view of the live player is checked while the sound is still being made, with no
    timing race (the generation cannot finish while the test holds it)."""

    HOLD_AFTER_S = 1.5

    def __init__(self, studio):
        self.studio, self.release, self.started = studio, threading.Event(), threading.Event()
        self.steps = threading.Semaphore(0)
        self._run = studio.run_generation

    def __call__(self, *args, on_audio=None, **kwargs):
        if on_audio is None:
            return self._run(*args, **kwargs)
        streamed = [0]

        def stream_then_hold(block):
            on_audio(block)
            streamed[0] += len(block)
            if streamed[0] >= self.HOLD_AFTER_S * 16000:
                self.started.set()
                for _ in range(3000):                       # 300 s at most
                    if self.release.is_set() or self.steps.acquire(timeout=0.1):
                        return
                raise RuntimeError("the test never released the generation")
        return self._run(*args, on_audio=stream_then_hold, **kwargs)


@pytest.fixture
def held(served, monkeypatch):
    demo, _ = served
    hold = HeldGeneration(demo.studio)
    monkeypatch.setattr(demo.studio, "run_generation", hold)
    yield hold
    hold.release.set()


def test_live_audio_plays_before_the_sound_is_complete(page, held):
    from wavenet_core.studio.render import streaming_available
    if not streaming_available():
        pytest.skip("ffmpeg is not installed: the studio shows each result when it is complete")
    set_slider(page, "duration", 10)
    page.click("#generate-conditioning")
    assert held.started.wait(timeout=TIMEOUT_MS / 1000)
    playing = (f"() => {{ const a = document.querySelector('{LIVE}'); "
               "return !!a && !a.paused && a.currentTime > 0; }")
    # Feed the player one block at a time (it buffers a little before it starts) while the rest is held.
    for _ in range(6):
        try:
            page.wait_for_function(playing, timeout=5000)
            break
        except Exception:  # noqa: BLE001 - not playing yet: let one more block through
            held.steps.release()
    else:
        pytest.fail("the live player never played while the sound was being generated")
    assert page.locator(RESULT_DONE).count() == 0                    # playing, and nothing is complete yet
    held.release.set()
    page.wait_for_selector(RESULT_DONE)
    page.wait_for_selector(PLAYER, state="attached")
    assert error_toasts(page) == []


def test_stop_keeps_the_partial_sound_as_information(page, held):
    set_slider(page, "duration", 6)
    page.click("#generate-conditioning")
    assert held.started.wait(timeout=TIMEOUT_MS / 1000)
    page.click("#stop-conditioning")
    held.release.set()
    page.locator(".toast-body.info").filter(has_text="Stopped: kept").first.wait_for()   # information, not an error
    page.wait_for_function("() => /Stopped at/.test(document.querySelector('.result-verdict').innerText)")
    page.wait_for_selector(PLAYER, state="attached")                 # what was made is kept and playable
    assert "here is what was made" in page.locator(".result-verdict").first.inner_text()
    assert error_toasts(page) == []


def test_an_example_runs_in_one_click_and_joins_the_history(page):
    page.click("#example-0")                                          # "Clarinet C4"
    page.wait_for_selector(RESULT_DONE)
    page.wait_for_function("() => /Everything asked for was met|Missed:/.test("
                           "document.querySelector('.result-verdict').innerText)")
    assert page.locator("#pitch-note textarea, #pitch-note input").first.input_value() == "C4"
    assert page.locator("#history-table").get_by_text("clarinet · C4").count() >= 1
    assert error_toasts(page) == []


def test_history_restores_a_take_and_compares_two(page):
    set_slider(page, "duration", 0.3)
    type_note(page, "E4")
    page.click("#generate-conditioning")
    page.wait_for_function("() => /take 1/.test(document.querySelector('#take-a input').value)")
    type_note(page, "G4")
    page.click("#generate-conditioning")
    page.wait_for_function("() => /take 2/.test(document.querySelector('#take-a input').value)")
    # A and B hold the two takes, each in its own player
    assert "take 1" in page.locator("#take-b input").input_value()
    page.wait_for_selector("#player-a audio", state="attached")
    page.wait_for_selector("#player-b audio", state="attached")
    # restore take 1's settings: the note goes back to E4
    box = page.locator("#restore-choice input")
    box.click()
    page.get_by_role("option", name="take 1", exact=False).first.click()
    page.click("#restore")
    page.wait_for_function("() => document.querySelector('#pitch-note textarea, #pitch-note input').value == 'E4'")
    assert error_toasts(page) == []


def test_note_picker_and_a_transpose_offer(page):
    page.locator("#note-picker-box").get_by_text("Note picker").first.click()
    page.locator("#note-picker").get_by_text("G#", exact=True).click()
    page.locator("#octave-picker").get_by_text("3", exact=True).click()
    # null-safe: Playwright fails at once (no retry) when the predicate throws
    page.wait_for_function("() => document.querySelector('#pitch-note textarea, #pitch-note input')?.value == 'G#3'")
    page.wait_for_selector("#pitch-name >> text=MIDI 56")
    page.wait_for_selector("#range-line >> text=This model learned")
    # a melody above the learned range is offered an octave down, through the Transpose slider
    page.get_by_label("melody").check()
    page.locator("#melody textarea").fill("C6 E6 G6")
    page.locator("#melody textarea").press("Tab")
    offer = page.locator("#transpose-offer")
    offer.wait_for(state="visible")
    assert "down" in offer.inner_text()
    offer.click()
    page.wait_for_selector("#range-line >> text=inside it")
    offer.wait_for(state="hidden")
    page.get_by_text("Expression: glide, vibrato, transpose").first.click()     # the slider took the offer
    page.wait_for_function("() => Number(document.querySelector('#transpose input[type=number]')?.value) == -12")
    assert error_toasts(page) == []


def test_downloads_read_back(page, tmp_path):
    """The WAV and FLAC of a melody are the played sound (soundfile reads them back), and the melody
    comes as a MIDI file."""
    import pretty_midi
    import soundfile as sf
    page.get_by_label("melody").check()
    page.locator("#melody textarea").fill("C4 E4 G4")
    page.click("#generate-conditioning")
    page.wait_for_selector(RESULT_DONE)
    read = {}
    for kind, suffix in (("wav", ".wav"), ("flac", ".flac"), ("midi", ".mid")):
        link = page.locator(f".result-{kind} a[href$='{suffix}']").first
        link.wait_for(state="attached")
        body = page.request.get(link.get_attribute("href")).body()
        (tmp_path / f"take{suffix}").write_bytes(body)
        read[kind] = tmp_path / f"take{suffix}"
    wav, sr = sf.read(read["wav"], dtype="int16")
    flac, flac_sr = sf.read(read["flac"], dtype="int16")
    assert sr == flac_sr == 16000 and len(wav) > 0 and (wav == flac).all()
    assert [n.pitch for n in pretty_midi.PrettyMIDI(str(read["midi"])).instruments[0].notes] == [60, 64, 67]


def test_autoencoder_tab_hides_the_wavenet_picker(page):
    assert page.locator("#model-picker").is_visible()
    page.get_by_role("tab", name="Autoencoder").click()
    page.locator("#model-picker").wait_for(state="hidden")
    page.get_by_role("tab", name="Conditioning").click()
    page.locator("#model-picker").wait_for(state="visible")
