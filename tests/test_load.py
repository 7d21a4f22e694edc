"""The studio under load: 16 concurrent generation requests through ``gradio_client``.

The app is launched with two generation slots and room for 14 waiting requests, so 16 are
held at once. The generation handler is gated while the requests arrive: the test sees
exactly 2 running and 14 waiting, sends 4 more and checks each is refused cleanly ("Queue is
full"), checks the page still loads, then opens the gate. All 16 complete with the
audio the Python API gives for the same seed, and the server keeps serving afterwards.
The peak resident memory of the process hosting the server over the whole episode stays under
2 GB (Linux's VmHWM, reset before the load starts).
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import QueueError  # noqa: E402

from wavenet_core import Controls, WaveNet, generate, load_model, model_inputs, preset_config, save_model  # noqa: E402
from wavenet_core.audio_io import to_int16  # noqa: E402
from wavenet_core.data.corpus import INSTRUMENTS  # noqa: E402

SR = 16000
SLOTS, WAITING, OVERFLOW = 2, 14, 4
CONCURRENT = SLOTS + WAITING               # 16 requests held at once
SECONDS = 0.2
MEMORY_LIMIT_MB = 2048
VALID = dict(model_name="tiny", instrument="saw", mix={}, pitch_mode="note", pitch=60, melody="", tempo=120,
             midi_file=None, recording=None, source_length=True, loudness_mode="level", level=-18, attack=20,
             decay=150, sustain=-6, release=200, glide=0, vibrato_depth=0, vibrato_rate=5.5, transpose=0,
             temperature=1.0, seconds=SECONDS, seed=0, strength=1.0)


# ---- memory: the process's peak resident set size -------------------------------------------------
def _status_kb(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))


class PeakMemory:
    """Peak RSS from now on: Linux's high-water mark reset via /proc/self/clear_refs (exact);
    where that is not allowed, the largest RSS sampled every 10 ms."""

    def __init__(self):
        self.baseline_mb = _status_kb("VmRSS") / 1024
        self._sampled = self.baseline_mb
        self._stop = threading.Event()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.exact = True
        except OSError:
            self.exact = False
            threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while not self._stop.wait(0.01):
            self._sampled = max(self._sampled, _status_kb("VmRSS") / 1024)

    def peak_mb(self) -> float:
        self._stop.set()
        return _status_kb("VmHWM") / 1024 if self.exact else self._sampled


# ---- the served app --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """An installed-models folder with one untrained tiny conditioned model: load, not learning, is tested."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    save_model(WaveNet(preset_config("tiny", local_dim=6, n_instruments=len(INSTRUMENTS),
                                     instrument_names=tuple(INSTRUMENTS))), root / "tiny")
    return root


@pytest.fixture(scope="module")
def served(model_dir):
    from wavenet_core.studio.app import build_app
    demo = build_app(model_dir, slots=SLOTS, queue_size=WAITING)
    if demo.warm_up_thread is not None:
        demo.warm_up_thread.join()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    yield demo, Client(url, verbose=False)
    demo.close()


class Gate:
    """Holds every generation at the door until opened; counts who is waiting there."""

    def __init__(self, studio):
        self.open = threading.Event()
        self.inside = 0
        self._lock = threading.Lock()
        self._run = studio.run_generation

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.inside += 1
        if not self.open.wait(timeout=300):
            raise RuntimeError("the test never opened the gate")
        return self._run(*args, **kwargs)


def _wait_for(condition, what: str, timeout: float = 240.0, state=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; {state()}")
        time.sleep(0.05)


def _expected(model_dir: Path, seeds) -> dict[int, np.ndarray]:
    model = load_model(model_dir / "tiny")
    inputs = model_inputs(Controls(seconds=SECONDS, instrument="saw", pitch=60, loudness=-18), model.config)
    return {s: to_int16(generate(model, inputs, temperature=1.0, seed=s)[0]) for s in seeds}


def test_sixteen_concurrent_requests_and_a_bounded_queue(served, model_dir, monkeypatch):
    demo, client = served
    gate = Gate(demo.studio)
    monkeypatch.setattr(demo.studio, "run_generation", gate)
    memory = PeakMemory()
    t0 = time.perf_counter()

    # The first SLOTS requests fill the generation slots before the rest arrive: sent all at once,
    # more than WAITING can be queued before any is picked up, and the queue rightly refuses them.
    jobs = [client.submit(*{**VALID, "seed": s}.values(), api_name="/generate") for s in range(SLOTS)]
    _wait_for(lambda: gate.inside == SLOTS, "2 running",
              state=lambda: f"{gate.inside} at the gate, {len(demo._queue)} queued")
    jobs += [client.submit(*{**VALID, "seed": s}.values(), api_name="/generate") for s in range(SLOTS, CONCURRENT)]
    _wait_for(lambda: gate.inside == SLOTS and len(demo._queue) == WAITING, "2 running and 14 waiting",
              state=lambda: f"{gate.inside} at the gate, {len(demo._queue)} queued, "
                            f"{[j.status().code.name for j in jobs]}")

    # The queue is full: each further request is refused at once, with a clear message.
    extra = [client.submit(*{**VALID, "seed": 100 + i}.values(), api_name="/generate") for i in range(OVERFLOW)]
    for job in extra:
        with pytest.raises(QueueError, match="Queue is full"):
            job.result(timeout=120)
    assert gate.inside == SLOTS                                  # nothing jumped the queue
    import httpx                                                 # the page itself still loads
    page = httpx.get(demo.local_url, timeout=60)
    assert page.status_code == 200 and "WaveNet Control Studio" in page.text

    gate.open.set()
    results = [job.result(timeout=600) for job in jobs]
    held_s = time.perf_counter() - t0
    peak = memory.peak_mb()

    expected = _expected(model_dir, range(CONCURRENT))
    for s, result in enumerate(results):
        audio_path, *_, status, details = result
        audio, sr = sf.read(audio_path, dtype="int16")
        assert sr == SR and details["seed"] == s
        np.testing.assert_array_equal(audio, expected[s])        # the right sound for the right request
    assert len({r[0] for r in results}) == CONCURRENT            # every request got its own file
    print(f"\nload: {CONCURRENT} concurrent requests held ({SLOTS} running + {WAITING} waiting), "
          f"{OVERFLOW} refused ('Queue is full'), all {CONCURRENT} completed in {held_s:.1f} s; "
          f"peak RSS {peak:.0f} MB (baseline {memory.baseline_mb:.0f} MB, "
          f"{'VmHWM' if memory.exact else 'sampled'})")
    assert peak < MEMORY_LIMIT_MB


def test_still_serving_after_the_load(served, model_dir):
    _, client = served
    result = client.predict(*{**VALID, "seed": 7}.values(), api_name="/generate")
    audio, _ = sf.read(result[0], dtype="int16")
    np.testing.assert_array_equal(audio, _expected(model_dir, [7])[7])


def test_uploads_over_the_limit_are_refused_by_the_server(served, tmp_path):
    """A 25 MB upload never reaches a handler: the client is told the limit, and the server itself
    refuses the bytes with HTTP 413 (for callers that ignore it)."""
    import httpx
    demo, client = served
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros(SR, np.int16), SR)
    with open(big, "r+b") as f:                                   # sparse: 25 MB on paper
        f.truncate(25 * 2 ** 20)
    with pytest.raises(ValueError, match="exceeds the maximum file size of 20971520 bytes"):
        client.predict(*{**VALID, "pitch_mode": "recording", "recording": handle_file(str(big))}.values(),
                       api_name="/generate")
    with open(big, "rb") as f:
        r = httpx.post(demo.local_url + "gradio_api/upload", files={"files": ("big.wav", f, "audio/wav")}, timeout=120)
    assert r.status_code == 413 and "File size exceeded" in r.text and "Traceback" not in r.text
    cache = Path(demo.GRADIO_CACHE)
    assert not [p for p in cache.rglob("big.wav")]                # nothing of it was stored


def test_uploads_are_read_in_place_and_results_stay_in_the_apps_folder(served, tmp_path, monkeypatch):
    """An uploaded recording is read from Gradio's upload cache; what the app writes goes only to its
    own temp folder; the picker offers only the model folder's models, never a path."""
    import wavenet_core.audio_io
    demo, client = served
    wav = tmp_path / "hum.wav"
    sf.write(wav, 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(0.3 * SR)) / SR), SR)
    seen = []
    real_load = wavenet_core.audio_io.load_audio

    def spy(path, *a, **kw):
        seen.append(Path(path).resolve())
        return real_load(path, *a, **kw)
    monkeypatch.setattr(wavenet_core.audio_io, "load_audio", spy)
    result = client.predict(*{**VALID, "pitch_mode": "recording", "recording": handle_file(str(wav))}.values(),
                            api_name="/generate")
    monkeypatch.undo()
    cache = Path(demo.GRADIO_CACHE).resolve()
    assert seen and all(cache in p.parents for p in seen), (seen, cache)      # read from the upload cache
    assert all(p.parent != wav.parent.resolve() for p in seen)                # not from where the user's file was
    # Everything the app wrote for the result is under its own temp folder (Gradio then serves a cached copy).
    results_dir = demo.studio.results.folder.resolve()
    written = [p for p in results_dir.rglob("*") if p.is_file()]
    assert written and all(p.suffix in (".wav", ".flac") for p in written)     # the take and its FLAC download
    names = {p.name for p in written}
    assert any(isinstance(r, str) and Path(r).name in names for r in result)
    # The picker lists the model folder's models only; names outside it are refused.
    n_pickers = len(client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/list_models"]["parameters"])
    updates = client.predict(*[None] * n_pickers, api_name="/list_models")
    for update in updates if isinstance(updates, (list, tuple)) else [updates]:
        assert {c[0] for c in update["choices"]} <= {"tiny"}
    for name in ("../tiny", str(Path(demo.studio.shelf.model_dir) / "tiny"), "/etc/passwd"):
        with pytest.raises(AppError, match="not in the list of choices|Choose a model from the list"):
            client.predict(*{**VALID, "model_name": name}.values(), api_name="/generate")
