"""The studio through its HTTP API, the way Gradio tests itself: launch on a free local port and
call every endpoint with ``gradio_client``, with valid and invalid inputs."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

from wavenet_core import Controls, load_model, model_inputs  # noqa: E402

SR = 16000
# Gradio's own queue code trips pandas deprecation warnings; they are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

# Every value the /generate endpoint takes, in order (see wavenet_core/studio/).
VALID = dict(model_name="tiny", instrument="saw", mix={}, pitch_mode="note", pitch=60, melody="", tempo=120,
             midi_file=None, recording=None, source_length=True, loudness_mode="level", level=-18, attack=20,
             decay=150, sustain=-6, release=200, glide=0, vibrato_depth=0, vibrato_rate=5.5, transpose=0,
             temperature=1.0, seconds=0.3, seed=3, strength=1.0)


@pytest.fixture(scope="module")
def model_dir(request, studio_ae_run, tmp_path_factory) -> Path:
    """An installed-models folder: the tiny WaveNet (weights, training log, card) under two names and a
    tiny autoencoder.

    $STUDIO_TEST_RUN / $STUDIO_TEST_AE_RUN may name already trained run folders, to skip training when
    iterating locally.
    """
    tiny_run = Path(os.environ.get("STUDIO_TEST_RUN") or request.getfixturevalue("tiny_run"))
    root = tmp_path_factory.mktemp("models")
    for name, run in (("tiny", tiny_run), ("tiny-b", tiny_run), ("tiny-ae", studio_ae_run)):
        d = root / name
        d.mkdir()
        shutil.copy(run / "model.safetensors", d / "model.safetensors")
        shutil.copy(run / "log.csv", d / "log.csv")
        (d / "card.md").write_text(f"# {name}\nA tiny test model.\n")
    return root


@pytest.fixture(scope="module")
def app(model_dir):
    from wavenet_core.studio.app import build_app
    demo = build_app(model_dir, slots=2, queue_size=8)
    if demo.warm_up_thread is not None:
        demo.warm_up_thread.join()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def client(app) -> Client:
    return Client(app[1], verbose=False)


def generate(client: Client, **overrides):
    return client.predict(*{**VALID, **overrides}.values(), api_name="/generate")


def read_audio(path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(path, dtype="int16")
    return data, sr


PANEL = 11          # outputs of one result panel


def check_result(result, n_samples: int, generated: bool = True) -> np.ndarray:
    assert len(result) in (PANEL, PANEL + 1)          # + the live player, before the status, on Generate's panel
    audio_path, waveform, spectrogram, table, wav_path, flac_path, midi_path, verdict, notes = result[:9]
    status, details = result[-2:]
    audio, sr = read_audio(audio_path)
    assert sr == SR and audio.ndim == 1 and len(audio) == n_samples
    assert np.sqrt(np.mean((audio / 32768.0) ** 2)) > 1e-3, "the result is silent"
    wav, wav_sr = read_audio(wav_path)
    assert wav_sr == SR and Path(wav_path).suffix == ".wav"
    np.testing.assert_array_equal(wav, audio)            # the download is the sound that was played
    assert sf.info(wav_path).subtype == "PCM_16"
    flac, flac_sr = read_audio(flac_path)                  # and so is the FLAC, read back by soundfile
    assert flac_sr == SR and Path(flac_path).suffix == ".flac" and sf.info(flac_path).format == "FLAC"
    np.testing.assert_array_equal(flac, audio)
    assert isinstance(verdict, str) and f"WAV and FLAC at {SR} Hz" in status
    for plot in (waveform, spectrogram):
        assert plot and plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/png;base64,")
    rows = {r[0]: r for r in table["data"]}
    assert {"pitch", "loudness", "brightness", "noisiness", "length"} <= set(rows)
    assert rows["length"][2] == f"{n_samples / SR:.2f} s"
    assert ("of audio generated in" in status) == generated
    assert details["sample_rate"] == SR and set(details["timings_s"]) >= {"descriptors", "plots"}
    assert "generation" in details["timings_s"] or not generated
    return audio


def test_every_event_is_named(app):
    demo, _ = app
    names = {fn.api_name for fn in demo.fns.values() if not fn.is_cancel_function}
    assert {"generate", "stop", "new_seed", "select_model", "list_models", "update_mix", "model_info", "reconstruct",
            "decode", "stop_autoencoder", "steer", "stop_steer"} <= names
    assert all(n and n != "unnamed" for n in names)
    gen = next(fn for fn in demo.fns.values() if fn.api_name == "generate")
    assert gen.concurrency_limit == 2 and gen.concurrency_id == "generation"
    assert demo._queue.max_size == 8
    from wavenet_core.studio.server import MAX_UPLOAD_BYTES
    assert demo.max_file_size == MAX_UPLOAD_BYTES


def test_generate_note_is_deterministic(client, model_dir):
    first = check_result(generate(client), int(0.3 * SR))
    again = check_result(generate(client), int(0.3 * SR))
    np.testing.assert_array_equal(first, again)            # same seed, same settings, same sound
    other = check_result(generate(client, seed=4), int(0.3 * SR))
    assert not np.array_equal(first, other)
    # Same as the Python API: the app adds nothing of its own to the sound.
    from wavenet_core import generate as core_generate
    from wavenet_core.audio_io import to_int16
    model = load_model(model_dir / "tiny" / "model.safetensors")
    ref = core_generate(model, model_inputs(Controls(seconds=0.3, instrument="saw", pitch=60, loudness=-18), model.config),
                        temperature=1.0, seed=3)[0]
    np.testing.assert_array_equal(first, to_int16(ref))


def test_generate_mix_melody_envelope(client, model_dir):
    melody = "C4:0.5 E4:0.5 G4:1"
    result = generate(client, instrument="timbre mix (sliders below)", mix={"saw": 2, "flute": 1, "bell": 0},
                      pitch_mode="melody", melody=melody, tempo=150, loudness_mode="envelope", vibrato_depth=30,
                      glide=40, seconds=5)
    model = load_model(model_dir / "tiny" / "model.safetensors")
    from wavenet_core.controls.conditioning import ADSR
    expected = model_inputs(Controls(melody=melody, tempo=150, adsr=ADSR(0.02, 0.15, -6, 0.2)), model.config).n_samples
    check_result(result, expected)                         # the melody sets the length, not the slider
    controls = result[-1]["controls"]
    assert controls["instrument"] == pytest.approx({"saw": 2 / 3, "flute": 1 / 3})
    assert controls["vibrato_depth"] == 30 and controls["glide"] == pytest.approx(0.04)
    # Unticked: the Duration slider wins.
    check_result(generate(client, pitch_mode="melody", melody=melody, source_length=False, seconds=0.5), int(0.5 * SR))


def test_conditioning_strength(client, model_dir):
    """The strength slider is classifier-free guidance, exactly as the Python API does it."""
    from wavenet_core import generate as core_generate
    from wavenet_core.audio_io import to_int16
    plain = check_result(generate(client), int(0.3 * SR))
    result = generate(client, strength=2.5)
    strong = check_result(result, int(0.3 * SR))
    assert result[-1]["conditioning_strength"] == 2.5 and not np.array_equal(strong, plain)
    model = load_model(model_dir / "tiny" / "model.safetensors")
    ref = core_generate(model, model_inputs(Controls(seconds=0.3, instrument="saw", pitch=60, loudness=-18), model.config),
                        temperature=1.0, seed=3, guidance=2.5)[0]
    np.testing.assert_array_equal(strong, to_int16(ref))


def test_generate_free_and_transposed(client):
    check_result(generate(client, instrument="let the model choose", pitch_mode="free", loudness_mode="free",
                          seconds=0.2), int(0.2 * SR))
    result = generate(client, pitch=60, transpose=7, seconds=0.2)
    check_result(result, int(0.2 * SR))
    assert result[3]["data"][0][1] == "G4 (67.0)"          # asked-for pitch includes the transposition


def test_follow_a_recording_and_a_midi_file(client, tmp_path):
    wav = tmp_path / "hum.wav"
    t = np.arange(int(0.4 * 22050)) / 22050
    sf.write(wav, 0.4 * np.sin(2 * np.pi * 220 * t), 22050)       # another rate: resampled on the way in
    check_result(generate(client, pitch_mode="recording", recording=handle_file(str(wav))), int(0.4 * SR))

    import mido
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track += [mido.MetaMessage("set_tempo", tempo=500000), mido.Message("note_on", note=60, velocity=100, time=0),
              mido.Message("note_off", note=60, time=240), mido.Message("note_on", note=64, velocity=100, time=0),
              mido.Message("note_off", note=64, time=240)]
    path = tmp_path / "two.mid"
    mid.save(path)
    result = generate(client, pitch_mode="MIDI file", midi_file=handle_file(str(path)), source_length=False, seconds=0.6)
    check_result(result, int(0.6 * SR))


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.wav"
    text.write_text("this is text renamed to .wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(SR * 31, dtype=np.int16), SR)
    truncated = tmp_path / "truncated.wav"
    sf.write(truncated, np.zeros(SR, dtype=np.int16), SR)
    truncated.write_bytes(truncated.read_bytes()[:30])
    midi = tmp_path / "broken.mid"
    midi.write_bytes(b"MThd not really a midi file")
    return {"text": text, "empty": empty, "long": long, "truncated": truncated, "midi": midi}


@pytest.mark.parametrize("overrides, message", [
    (dict(pitch_mode="melody", melody="   "), "The melody is empty"),
    (dict(pitch_mode="melody", melody="C4 H9 E4"), "Melody token 2"),
    (dict(pitch_mode="melody", melody="C4:8 D4:8 E4:8"), "at most 10 s"),
    (dict(instrument="banjo"), "Unknown instrument 'banjo'; this model knows: pluck, bell"),
    (dict(instrument="timbre mix (sliders below)", mix={"saw": 0, "flute": 0}), "timbre mix is silent"),
    (dict(instrument="timbre mix (sliders below)", mix={"kazoo": 1}), "Unknown instrument 'kazoo' in the timbre mix"),
    (dict(instrument="timbre mix (sliders below)", mix=[1, 2]), "must map instrument names to weights"),
    (dict(seed=-1), "Seed must be between 0 and 2147483647"),
    (dict(seed=10 ** 15), "Seed must be between 0 and 2147483647"),
    (dict(seconds=0), "Duration must be between 0.1 and 10 s; got 0."),
    (dict(seconds=600), "Duration must be between 0.1 and 10 s; got 600."),      # refused, never clamped
    (dict(temperature=7), "greater than maximum value 2"),
    (dict(strength=9), "greater than maximum value 4"),
    (dict(strength=-1), "less than minimum value 0"),
    (dict(pitch=200), "Note: note '200' is MIDI 200, outside 0..127."),
    (dict(pitch="C7"), "Note C7 (96.0) is outside C2 (36.0) … C6 (84.0)"),
    (dict(pitch="H4"), "Note: unknown note 'H4'"),
    (dict(pitch_mode="melody", melody="C4 C9"), "above the highest pitch this model can make (8000 Hz"),
    (dict(pitch_mode="recording"), "Upload a recording first"),
    (dict(pitch_mode="MIDI file"), "Upload a MIDI file first"),
    (dict(pitch_mode="recording", recording="text"), "not a readable audio file"),
    (dict(pitch_mode="recording", recording="empty"), "file is empty"),
    (dict(pitch_mode="recording", recording="truncated"), "not a readable audio file"),
    (dict(pitch_mode="recording", recording="long"), "31 s long, over the 30 s limit"),
    (dict(pitch_mode="MIDI file", midi_file="midi"), "MIDI"),
    (dict(model_name="../../../etc/passwd"), "not in the list of choices"),
])
def test_bad_input_gets_a_clear_message(client, tmp_path, overrides, message):
    files = _bad_files(tmp_path)
    for key in ("recording", "midi_file"):
        if isinstance(overrides.get(key), str):
            overrides = {**overrides, key: handle_file(str(files[overrides[key]]))}
    with pytest.raises(AppError) as err:
        generate(client, **overrides)
    text = str(err.value)
    assert message in text
    assert "Traceback" not in text and "File \"" not in text and "\n" not in text.strip()


def test_still_serving_after_bad_input(client):
    with pytest.raises(AppError):
        generate(client, pitch_mode="melody", melody="")
    check_result(generate(client, seconds=0.2), int(0.2 * SR))


def test_stop_keeps_what_was_generated(client, model_dir):
    job = client.submit(*{**VALID, "seconds": 10.0}.values(), api_name="/generate")
    for _ in range(600):
        if job.status().code in (Status.PROGRESS, Status.PROCESSING) or job.done():
            break
        time.sleep(0.05)
    client.predict(api_name="/stop")
    result = job.result(timeout=120)                          # not an error: what was made is kept and shown
    details = result[-1]
    assert details.get("stopped") is True and details["asked_seconds"] == 10.0
    if details["stopped_at_samples"] >= 160:
        made = check_result(result, details["stopped_at_samples"])
        assert 0 < len(made) < 10 * SR
        assert "Stopped at" in result[7] and "here is what was made" in result[7]
        # exactly the first samples of the whole sound (same seed, Python API)
        from wavenet_core import generate as core_generate
        from wavenet_core.audio_io import to_int16
        model = load_model(model_dir / "tiny" / "model.safetensors")
        whole = core_generate(model, model_inputs(Controls(seconds=10.0, instrument="saw", pitch=60, loudness=-18),
                                                  model.config), temperature=1.0, seed=VALID["seed"])[0]
        np.testing.assert_array_equal(made, to_int16(whole[: len(made)]))
    else:
        assert "Stopped" in result[7] and result[0] is None
    check_result(generate(client, seconds=0.2), int(0.2 * SR))   # the slot was given back


def test_cancelled_generation_hands_over_what_it_made(model_dir):
    """generate.Cancelled carries the samples made before the stop (the fast generator's partial_classes),
    plain and with conditioning strength: exactly the first samples of the uncancelled sound."""
    from wavenet_core import Cancelled
    from wavenet_core import generate as core_generate
    from wavenet_core.model.mulaw import mu_law_decode
    model = load_model(model_dir / "tiny" / "model.safetensors")
    inputs = model_inputs(Controls(seconds=3.0, instrument="saw", pitch=60, loudness=-18), model.config)
    for guidance in (1.0, 2.0):
        calls = []

        def cancel():
            calls.append(1)
            return len(calls) >= 2                       # stop after the second chunk
        with pytest.raises(Cancelled) as err:
            core_generate(model, inputs, seed=5, batch=2, guidance=guidance, cancel=cancel)
        partial = err.value.partial_classes
        assert partial.shape[0] == 2 and 0 < partial.shape[1] < 3 * SR
        whole = core_generate(model, inputs, seed=5, batch=2, guidance=guidance)
        np.testing.assert_array_equal(mu_law_decode(partial), whole[:, : partial.shape[1]])


def test_verdict_above_every_generated_sound(client, model_dir):
    """The page's verdict is the verdict module's judgement of the same sound (the tiny model mostly misses)."""
    from wavenet_core import generate as core_generate
    from wavenet_core.controls.verdict import judge, known_pitch_range
    result = generate(client, pitch="A4", seconds=0.6, seed=11)
    audio = check_result(result, int(0.6 * SR))
    line, details = result[7], result[-1]
    model = load_model(model_dir / "tiny" / "model.safetensors")
    controls = Controls(seconds=0.6, instrument="saw", pitch=69, loudness=-18)
    expected = judge(core_generate(model, model_inputs(controls, model.config), seed=11)[0], controls, model.config,
                     known_range=known_pitch_range(model))
    got = details["verdict"]
    assert details["controls"]["pitch"] == 69                   # "A4" was understood
    assert [(c["name"], c["met"]) for c in got["checks"]] == [(c.name, c.met) for c in expected.checks]
    assert {c["name"] for c in got["checks"]} == {"pitch", "level", "sounding time", "timbre"}
    assert got["notes"][0]["asked_name"] == "A4" and got["met"] == expected.met
    assert {r[0]: r[1] for r in result[3]["data"]}["pitch"] == "A4 (69.0)"
    if expected.met:
        assert line.startswith("**✓ Everything asked for was met")
    else:                                                       # missed: what, in words, and one next step
        assert line.startswith("**✗ Missed:") and "**Next step:** " + expected.next_step in line
        missed = [c for c in expected.checks if c.met is False]
        assert all(f"✗ {c.name}: {c.words}" in line for c in missed)
    assert len(audio) == int(0.6 * SR)


def test_melody_gets_a_note_by_note_table(client):
    result = generate(client, pitch_mode="melody", melody="C4 E4 G4:2", tempo=240, seconds=5)
    notes, details = result[8], result[-1]
    assert notes["visible"] is True
    rows = notes["value"]["data"]
    assert [r[1] for r in rows] == ["C4 (60.0)", "E4 (64.0)", "G4 (67.0)"]
    assert notes["value"]["headers"] == ["#", "asked", "measured", "cents off", "in tune"]
    assert [r[4] for r in rows] == ["yes" if n["met"] else "no" for n in details["verdict"]["notes"]]
    # a single note: no table (the verdict line says it)
    assert generate(client, seconds=0.3)[8]["visible"] is False


def test_uploads_are_checked_when_they_arrive(client, tmp_path):
    files = _bad_files(tmp_path)
    for name, message in (("text", "not a readable audio file"), ("empty", "file is empty"),
                          ("long", "31 s long, over the 30 s limit")):
        with pytest.raises(AppError) as err:
            client.predict(handle_file(str(files[name])), api_name="/check_recording")
        assert message in str(err.value) and "\n" not in str(err.value).strip()
    with pytest.raises(AppError, match="not a readable MIDI file"):
        client.predict(handle_file(str(files["midi"])), api_name="/check_midi")
    good = tmp_path / "hum.wav"
    sf.write(good, 0.3 * np.sin(2 * np.pi * 220 * np.arange(SR // 2) / SR), SR)
    assert "Recording accepted" in client.predict(handle_file(str(good)), api_name="/check_recording")


def test_sampling_pitch_targets_take_note_names(client):
    result = client.predict("tiny", *targets(pitch=("G3", "E4")), *SAMPLING, "loudness", "brightness",
                            api_name="/sample")
    assert result[21]["targets"][0] == "pitch=55..64"                # the shown pick's details


def test_empty_scatter_becomes_a_message():
    from wavenet_core.studio.sampling import scatter
    fig, line = scatter({"candidates": [{"descriptors": {"pitch": None, "brightness": 900.0}}]}, "pitch", "brightness")
    assert fig is None and "no candidate had a measurable pitch" in line and "Choose other scatter axes" in line


def test_new_seed(client):
    seeds = {client.predict(api_name="/new_seed") for _ in range(3)}
    assert all(isinstance(s, (int, float)) and 0 <= s <= 2 ** 31 - 1 and s == int(s) for s in seeds)
    assert len(seeds) > 1


def test_model_page_and_picker(client):
    result = client.predict("tiny-b", api_name="/select_model")
    instrument, mix, mix_text = result[:3]
    assert instrument["choices"][0][0] == "pluck" and mix == {}
    assert result[-1]["value"] == "tiny-b"                 # the Model tab follows the picker
    summary, rf_plot, tempo_table, curves, card = client.predict("tiny-b", api_name="/model_info")
    assert "### tiny-b" in summary and "receptive field | 16 samples = 1.0 ms at 16000 Hz" in summary
    assert "dilations | 1, 2, 4, 8" in summary and "11,828 parameters" in summary
    assert rf_plot["plot"].startswith("data:image/png") and curves["plot"].startswith("data:image/png")
    assert "A tiny test model." in card
    summary = client.predict("tiny-ae", api_name="/model_info")[0]
    assert "autoencoder" in summary and "| encoder | log-STFT" in summary
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("/etc/passwd", api_name="/select_model")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("tiny-ae", api_name="/select_model")          # the top picker lists WaveNets only
    wavenets, autoencoders, everything = client.predict("tiny", "tiny-ae", "tiny", api_name="/list_models")
    assert [c[0] for c in wavenets["choices"]] == ["tiny", "tiny-b"] and wavenets["value"] == "tiny"
    assert [c[0] for c in autoencoders["choices"]] == ["tiny-ae"]
    assert [c[0] for c in everything["choices"]] == ["tiny", "tiny-ae", "tiny-b"]


def test_no_models_installed(tmp_path):
    """An empty model folder still gives a working page, and generation explains what to do."""
    from wavenet_core.studio.app import build_app
    from wavenet_core.studio.server import ModelShelf
    demo = build_app(tmp_path, warm_up=False)
    assert demo.studio.shelf.names() == []
    with pytest.raises(ValueError, match="No models are installed; train one"):
        ModelShelf(tmp_path).get("notes")


def test_models_are_loaded_once(app):
    demo, _ = app
    shelf = demo.studio.shelf
    assert shelf.get("tiny") is shelf.get("tiny")


# ---- Autoencoder tab --------------------------------------------------------------------------
def _example(i: int = 0) -> str:
    from wavenet_core.studio.autoencoder import corpus_examples
    return list(corpus_examples(SR))[i]


def check_ae_result(result, n_samples: int) -> np.ndarray:
    original, clip_a_table, latent = result[:3]
    assert read_audio(original)[0].size > 0
    assert latent["plot"].startswith("data:image/png")
    rows = {r[0]: r for r in clip_a_table["data"]}                   # clip A's measurements beside the result's
    assert {"pitch", "loudness", "brightness"} <= set(rows) and all(len(r) == 3 for r in rows.values())
    return check_result(result[3:], n_samples)


def test_autoencoder_reconstruct_and_edit(client):
    hop = 256                                           # the tiny autoencoder's latent hop
    n = -(-SR // hop) * hop                             # a 1 s example decodes to whole latent frames
    plain = check_ae_result(client.predict("tiny-ae", _example(0), None, 1.0, 0, api_name="/reconstruct"), n)
    result = client.predict("tiny-ae", _example(0), None, _example(3), None, 0.5, 1.5, 0, 0, 0, 2, 1.0, 0,
                            api_name="/decode")
    edited = check_ae_result(result, n)
    assert not np.array_equal(plain, edited)            # the code was changed, so was the sound
    edits = result[-1]["edits"]
    assert edits == {"directions": {"1": 1.5}, "pitch_shift": 2, "morph": "B0.5", "pitch_control": "keep"}


def test_autoencoder_upload_and_bad_input(client, tmp_path):
    wav = tmp_path / "clip.wav"
    t = np.arange(int(0.5 * 22050)) / 22050
    sf.write(wav, 0.4 * np.sin(2 * np.pi * 330 * t), 22050)
    check_ae_result(client.predict("tiny-ae", "my upload / recording", handle_file(str(wav)), 1.0, 0,
                                   api_name="/reconstruct"), -(-SR // 2 // 256) * 256)
    with pytest.raises(AppError, match="Upload a clip A first"):
        client.predict("tiny-ae", "my upload / recording", None, 1.0, 0, api_name="/reconstruct")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("tiny", _example(0), None, 1.0, 0, api_name="/reconstruct")
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(SR * 12, dtype=np.int16), SR)
    with pytest.raises(AppError, match="12 s long, over the 10 s limit"):
        client.predict("tiny-ae", "my upload / recording", handle_file(str(long)), 1.0, 0, api_name="/reconstruct")
    with pytest.raises(AppError, match="α must be between 0 and 1|greater than maximum value 1"):
        client.predict("tiny-ae", _example(0), None, _example(1), None, 3, 0, 0, 0, 0, 0, 1.0, 0, api_name="/decode")


# ---- Autoencoder tab: steer to targets ---------------------------------------------------------
def steer_args(**overrides) -> list:
    """Every value /steer takes, in order: autoencoder, clip A (menu choice, upload), (on, min, max) for
    brightness, loudness, noisiness and pitch, budget (decodes), time limit (s), temperature, seed."""
    v = dict(model="tiny-ae", clip=_example(0), upload=None, brightness=(True, 1500, 3000), loudness=(False, -30, -12),
             noisiness=(False, 0, 0.1), pitch=(False, 55, 67), budget=4, time_limit=120, temperature=1.0, seed=0)
    v.update(overrides)
    return [v["model"], v["clip"], v["upload"], *v["brightness"], *v["loudness"], *v["noisiness"], *v["pitch"],
            v["budget"], v["time_limit"], v["temperature"], v["seed"]]


def test_steer_to_targets(client):
    n = -(-SR // 256) * 256                             # a 1 s example decodes to whole latent frames
    # Out of reach for the tiny model in 4 decodes (the start and one candidate, each on 2 seeds): the
    # closest code found, flagged as such.
    result = client.predict(*steer_args(brightness=(True, 7000, 7900)), api_name="/steer")
    status, path = result[:2]
    assert "Closest found, targets not met" in status and "brightness" in status
    assert "4 of 4 decodes used" in status and "std in the latent" in status and "s wall" in status
    assert "judged on 2 decode seeds" in status
    assert "\n" not in status.strip()
    assert path["type"] == "matplotlib" and path["plot"].startswith("data:image/png")
    check_result(result[2:13], n, generated=False)                  # before: clip A decoded from its own code
    check_result(result[13:24], n, generated=False)                 # after: the steered code
    assert {r[0]: r[1] for r in result[16]["data"]}["brightness"] == "7000 Hz … 7900 Hz"
    report = result[23]["steering"]
    assert report["met"] is False and report["closest"] is True and report["decodes"] == 4
    # any property that moved though not a target is named on the line
    assert all(name.replace("_", " ") in status for name in report["moved_untargeted"])
    assert ("also moved, though not a target" in status) == bool(report["moved_untargeted"])
    assert report["targets"][0]["text"] == "brightness=7000..7900" and len(report["path"]) >= 2
    # A range the start already meets: met by the first decode, the code unchanged, the sound the same.
    result = client.predict(*steer_args(brightness=(True, 1, None), loudness=(True, -80, 0)), api_name="/steer")
    assert "Targets met" in result[0] and "2 of 4 decodes used" in result[0] and "moved 0.00 std" in result[0]
    before = check_result(result[2:13], n, generated=False)
    after = check_result(result[13:24], n, generated=False)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("overrides, message", [
    (dict(brightness=(False, 1500, 3000)), "Switch on at least one target"),
    (dict(brightness=(True, 3000, 1500)), "the range is inverted (3000 > 1500)"),
    (dict(brightness=(True, None, None)), "brightness target is on but has no minimum or maximum"),
    (dict(loudness=(True, 5, 10)), "can never be met"),
    (dict(budget=3), "Budget must be between 4 and 64 decodes; got 3."),
    (dict(budget=1000), "Budget must be between 4 and 64 decodes; got 1000."),
    (dict(time_limit=0), "Time limit must be between 1 and 300 s"),
    (dict(clip="my upload / recording"), "Upload a clip A first"),
])
def test_steer_bad_input(client, overrides, message):
    with pytest.raises(AppError) as err:
        client.predict(*steer_args(**overrides), api_name="/steer")
    text = str(err.value)
    assert message in text
    assert "Traceback" not in text and "File \"" not in text and "\n" not in text.strip()


def test_steer_stop_returns_the_closest_so_far(client):
    job = client.submit(*steer_args(brightness=(True, 7000, 7900), budget=64), api_name="/steer")
    for _ in range(1200):                              # wait for the start's decode (the first progress step)
        progress = job.status().progress_data
        if (progress and progress[0].index) or job.done():
            break
        time.sleep(0.05)
    client.predict(api_name="/stop_steer")
    status = job.result(timeout=120)[0]
    assert "Closest found, targets not met" in status and "stopped" in status and "of 64 decodes" in status


# ---- Sampling tab -----------------------------------------------------------------------------
# Targets in page order: (on, min, max) for pitch, loudness, brightness, noisiness, onsets, sounding time,
# pitched part; then timbre on + instrument.
def targets(**on) -> list:
    names = ["pitch", "loudness", "brightness", "noisiness", "onsets", "sounding", "voiced"]
    values = []
    for n in names:
        lo, hi = on.get(n, (None, None))
        values += [n in on, lo, hi]
    return values + [bool(on.get("timbre")), on.get("timbre") or "saw"]


# instrument, fix pitch, pitch, fix level, level, seconds, temperature, seed, keep, max candidates, budget, early
SAMPLING = ["saw", False, 60, False, -18, 0.3, 1.0, 0, 2, 6, 60, True]


def test_sampling_run_inspect_and_compare(client):
    result = client.predict("tiny", *targets(loudness=(-40, -3)), *SAMPLING, "loudness", "brightness",
                            api_name="/sample")
    cost, scatter = result[:2]
    assert "candidates accepted" in cost and "acceptance" in cost and "s wall" in cost
    assert scatter["value"]["plot"].startswith("data:image/png") and scatter["visible"]
    picks = result[2:10]
    shown = [p for p in picks if p.get("visible")]
    assert len(shown) == 2                                   # keep = 2
    for p in shown:
        audio, sr = read_audio(p["value"])
        assert sr == SR and len(audio) == int(0.3 * SR)
        assert "seed" in p["label"]
    choices = [c[0] for c in result[10]["choices"]]
    assert len(choices) == 2 and result[10]["value"] == choices[0]
    check_result(result[11:22], int(0.3 * SR), generated=False)   # pick 1 shown in full
    assert "Meets every target" in result[18] or "Misses the targets" in result[18]
    second = client.predict(choices[1], api_name="/inspect_pick")
    check_result(second, int(0.3 * SR), generated=False)
    assert second[-1]["seed"] == int(choices[1].split("seed ")[1].split()[0])

    table, note, *takes = client.predict("tiny", *targets(loudness=(-40, -3)), *SAMPLING, api_name="/compare_conditioning")[:10]
    methods = [row[0] for row in table["data"]]
    assert methods == ["rejection sampling (last run)", "conditioning"]
    assert "Conditioned on: loudness" in note
    assert sum(1 for t in takes if t.get("visible")) == 2


@pytest.mark.parametrize("on, message", [
    ({}, "Switch on at least one target"),
    ({"pitch": (62, 55)}, "the range is inverted"),
    ({"pitch": (60, 60)}, "the range is empty"),
    ({"pitch": (None, None)}, "has no minimum or maximum"),
    ({"loudness": (5, 10)}, "can never be met"),
    ({"timbre": "kazoo"}, "unknown instrument 'kazoo'"),
])
def test_sampling_bad_targets(client, on, message):
    with pytest.raises(AppError) as err:
        client.predict("tiny", *targets(**on), *SAMPLING, "pitch", "brightness", api_name="/sample")
    assert message in str(err.value) and "Traceback" not in str(err.value)


def test_inspect_before_sampling_is_refused(app):
    fresh = Client(app[1], verbose=False)                    # a new session: no run, so no picks to choose
    with pytest.raises(AppError, match="not in the list of choices"):
        fresh.predict("pick 1", api_name="/inspect_pick")


def test_command_line_refuses_bad_flags(capsys):
    from wavenet_core.cli import main as wavenet
    assert wavenet(["app", "--model-dir", "/no/such/folder"]) == 2
    assert "error: --model-dir /no/such/folder: no such folder" in capsys.readouterr().err
    import importlib.util                     # the top-level app.py: importable without launching
    spec = importlib.util.spec_from_file_location("app", Path(__file__).resolve().parent.parent / "app.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    with pytest.raises(SystemExit) as stop:
        entry.main(["--port", "99999"])
    assert stop.value.code == 2 and "--port must be between 1 and 65535" in capsys.readouterr().err
    assert entry.build_app is not None


# ---- streaming, jobs, downloads, defaults (issue #17) ------------------------------------------
def test_generate_streams_while_generating(client):
    """/generate is a streaming endpoint: the live player gets the first samples before the whole sound
    is done, and the final outputs are the complete result (the same sound as without streaming)."""
    from wavenet_core.studio.render import streaming_available
    job = client.submit(*{**VALID, "seconds": 0.5}.values(), api_name="/generate")
    final = job.result(timeout=300)
    outputs = job.outputs()
    check_result(final, int(0.5 * SR))
    if streaming_available():
        assert len(outputs) >= 2, "no live chunk came before the result"
        assert outputs[0][9] is not None                                # the live player's slot, before the status


def test_melody_download_as_midi(client):
    import pretty_midi
    result = generate(client, pitch_mode="melody", melody="C4 E4 G4:2", tempo=240, transpose=2, seconds=5)
    midi_path = result[6]
    assert Path(midi_path).suffix == ".mid" and "and the melody as MIDI" in result[-2]
    notes = pretty_midi.PrettyMIDI(midi_path).instruments[0].notes
    assert [n.pitch for n in notes] == [62, 66, 69]                     # the melody as asked, transposed
    assert notes[0].start == pytest.approx(0.0, abs=1e-3) and notes[1].start == pytest.approx(0.25, abs=1e-2)
    assert generate(client, seconds=0.3)[6] is None                     # a held note: no MIDI download


def test_a_stopped_job_never_runs_even_from_the_queue(app):
    """Each press is its own job: Stop reaches one still waiting in the queue (it then returns at once,
    making nothing), and stopping one job leaves the session's others alone."""
    demo, _ = app
    jobs = demo.studio.jobs
    first, second = jobs.new("s1", "generate"), jobs.new("s1", "generate")
    other_session = jobs.new("s2", "generate")
    assert jobs.stop("s1", "generate", first) == 1
    a, b, c = (jobs.begin(s, "generate", j) for s, j in (("s1", first), ("s1", second), ("s2", other_session)))
    assert a.cancelled() and not b.cancelled() and not c.cancelled()
    assert jobs.stop("s2", "generate", first) == 0                       # another session's job is out of reach
    assert jobs.stop("s1", "generate") == 2 and b.cancelled() and not c.cancelled()   # API: all of s1's jobs
    for j in (a, b, c):
        jobs.finish(j)
    gen = next(fn for fn in demo.fns.values() if fn.api_name == "generate").fn
    queued = jobs.new("api", "generate")
    jobs.stop("api", "generate", queued)
    final = list(gen(*{**VALID, "seconds": 5.0}.values(), queued))[-1]
    assert final[0] is None and "Stopped" in final[7] and final[-1]["stopped_at_samples"] == 0


def test_model_tab_tempo_table(client):
    """The receptive field and the conditioning frame against a beat and a bar at the chosen tempo."""
    from wavenet_core.studio.model import musical_spans, tempo_table
    _, _, table, _, _ = client.predict("tiny", 60, api_name="/model_info")
    assert "| receptive field | 1.0 ms | 0.001 | 0.025 % |" in table      # 16 samples at 16 kHz; a beat is 1 s
    assert "| a bar of 4/4 | 4,000.0 ms | 4 | 100 % |" in table
    from types import SimpleNamespace
    cfg = SimpleNamespace(sample_rate=16000, receptive_field=4000, local_dim=2, hop_length=160)
    spans = dict(musical_spans(cfg, 120))
    assert spans["receptive field"] == 250 and spans["conditioning frame"] == 10 and spans["a beat (quarter note)"] == 500
    assert "50 % of a beat" in tempo_table(cfg, 120)
    with pytest.raises(AppError, match="greater than maximum value 240|Tempo must be between"):
        client.predict("tiny", 1000, api_name="/model_info")


def test_default_model_is_the_best_measured(tmp_path, model_dir):
    """The studio opens on the WaveNet whose eval.json measures best (pitch_rpa), or one marked default."""
    import json
    from wavenet_core.studio.server import ModelShelf
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        shutil.copy(model_dir / "tiny" / "model.safetensors", tmp_path / name / "model.safetensors")
    shelf = ModelShelf(tmp_path)
    assert shelf.default("wavenet") == "a"                               # nothing measured: the first by name
    (tmp_path / "b" / "eval.json").write_text(json.dumps({"metrics": {"pitch_rpa": 0.54}}))
    (tmp_path / "c" / "eval.json").write_text(json.dumps({"metrics": {"pitch_rpa": 0.81}}))
    assert shelf.default("wavenet") == "c"
    (tmp_path / "a" / "eval.json").write_text(json.dumps({"default": True, "metrics": {"pitch_rpa": 0.1}}))
    assert shelf.default("wavenet") == "a"
    (tmp_path / "a" / "eval.json").write_text("{not json")                # unreadable: counted as unmeasured
    assert shelf.default("wavenet") == "c"


def test_autoencoder_pitch_control(client):
    """Keep / transpose / flatten: refused with a clear line for an autoencoder whose pitch comes from its
    code (the tiny one); on a pitch-aware one the decoder follows the planned pitch track."""
    with pytest.raises(AppError, match="takes its pitch from the code"):
        client.predict("tiny-ae", _example(0), None, 1.0, 0, "transpose", 3, "C4", api_name="/reconstruct")
    with pytest.raises(AppError, match="not in the list of choices"):                # the radio refuses it
        client.predict("tiny-ae", _example(0), None, 1.0, 0, "sideways", 3, "C4", api_name="/reconstruct")


def test_pitch_plan_on_a_pitch_aware_autoencoder():
    from wavenet_core.controls import autoencoder as ae
    from wavenet_core.studio.autoencoder import DecodeRequest, corpus_examples, has_pitch_control, pitch_plan
    try:
        model = load_model("autoencoder")
    except Exception:  # noqa: BLE001 - the shipped model is optional in a checkout
        pytest.skip("the shipped autoencoder is not installed")
    if not has_pitch_control(model):
        pytest.skip("the shipped autoencoder has no excitation")
    clip = next(iter(corpus_examples(model.config.sample_rate).values()))
    f0 = ae.clip_f0(model, clip)
    voiced = f0 > 0
    assert voiced.any()
    keep = pitch_plan(model, DecodeRequest(pitch_control="keep"), clip)
    up = pitch_plan(model, DecodeRequest(pitch_control="transpose", transpose=12), clip)
    flat = pitch_plan(model, DecodeRequest(pitch_control="flatten", flatten_to="A4"), clip)
    np.testing.assert_allclose(keep, f0, rtol=1e-6)
    np.testing.assert_allclose(up[voiced], 2 * f0[voiced], rtol=1e-5)
    np.testing.assert_allclose(flat[voiced], 440.0, rtol=1e-5)
    assert not up[~voiced].any() and not flat[~voiced].any()
    with pytest.raises(ValueError, match="Transpose must be between -24 and 24"):
        pitch_plan(model, DecodeRequest(pitch_control="transpose", transpose=30), clip)


def test_slider_labels_name_what_each_direction_moves(app):
    from wavenet_core.studio.autoencoder import slider_labels
    demo, _ = app
    labels = slider_labels(demo.studio.shelf.get("tiny-ae", kind="autoencoder"))
    assert labels and all(lb.startswith(f"direction {k + 1}") and "% of variance" in lb for k, lb in enumerate(labels))
    assert all("r = " in lb or "mixed" in lb for lb in labels)          # measured: a correlation, or "mixed"


def test_sixteen_instruments_fit_the_timbre_mix(app):
    """The `instruments` model names 16 instruments: the page has a slider for each, and a mix of all 16
    is normalised like any other."""
    from wavenet_core.studio.generate import normalise_mix
    from wavenet_core.studio.server import MAX_MIX_SLIDERS
    demo, _ = app
    sliders = [b for b in demo.blocks.values() if str(getattr(b, "elem_id", "") or "").startswith("mix-")]
    assert len(sliders) == MAX_MIX_SLIDERS >= 16
    names = [f"instrument{i}" for i in range(16)]
    mix = normalise_mix({n: i + 1 for i, n in enumerate(names)}, names)
    assert set(mix) == set(names) and sum(mix.values()) == pytest.approx(1.0)
    assert mix["instrument15"] == pytest.approx(16 / 136)


def test_result_draws_the_asked_pitch_and_level_against_the_measured(tmp_path):
    """Asked vs measured, drawn: the requested contour and the heard f0 over the spectrogram, the
    requested and measured level over the waveform — and they disagree where the audio does."""
    from wavenet_core import Controls, requested_curves
    from wavenet_core.data.corpus import Note, render_notes
    from wavenet_core.studio.render import ResultWriter

    sr, hop = 16000, 160
    audio, _ = render_notes("organ", [Note(62.0, 0.05, 0.8, -12.0)], 1.0, sr, np.random.default_rng(0))  # D4 played
    curves = requested_curves(Controls(seconds=1.0, pitch=60, loudness=-30), sr, hop)                  # C4 asked
    out = ResultWriter().render(audio, sr, "overlay", curves=curves)
    wave, spec = out[1], out[2]
    lines = {ln.get_label(): ln for ax in spec.axes for ln in ax.get_lines()}
    assert {"asked pitch", "measured pitch"} <= set(lines)
    asked, heard = lines["asked pitch"].get_ydata(), lines["measured pitch"].get_ydata()
    held = np.isfinite(heard) & np.isfinite(asked[: len(heard)])
    assert held.sum() > 40
    cents = 1200 * np.log2(heard[held] / asked[: len(heard)][held])
    assert np.median(cents) == pytest.approx(200, abs=20)                  # a whole tone sharp, as played
    levels = {ln.get_label(): ln for ax in wave.axes for ln in ax.get_lines()}
    assert {"asked level", "measured level"} <= set(levels)
    assert np.nanmax(levels["measured level"].get_ydata()) > np.nanmax(levels["asked level"].get_ydata()) + 10
    plain = ResultWriter().render(audio, sr, "plain")                      # no request: no overlay
    assert not any(ln.get_label() == "asked pitch" for ax in plain[2].axes for ln in ax.get_lines())
