"""Property-based tests (hypothesis): the audio loader, melody parser, descriptors, μ-law and
target parser hold their contracts for any input, not just the examples we thought of.

Every test is deterministic (``derandomize=True``) with a bounded number of examples, so a
failure reproduces exactly and the file stays fast on a busy machine.
"""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest
import soundfile as sf
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from wavenet_core import AudioError, load_audio  # noqa: E402
from wavenet_core.controls.conditioning import MelodyStep, format_melody, parse_melody  # noqa: E402
from wavenet_core.measure.descriptors import describe, frame_loudness_db  # noqa: E402
from wavenet_core.model.mulaw import mu_law_decode, mu_law_encode  # noqa: E402

SR = 16000


def fixed(n: int):
    """Settings for one property: n examples, the same ones every run, no per-example deadline."""
    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg.strip() and len(msg) < 400, msg
    return msg


# ---- μ-law -------------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=True, width=64)


@fixed(100)
@given(arrays(np.float64, st.integers(1, 64), elements=finite))
def test_mulaw_encode_is_in_range_and_torch_agrees(x):
    c = mu_law_encode(x)
    assert c.dtype == np.int64 and c.min() >= 0 and c.max() <= 255
    np.testing.assert_array_equal(mu_law_encode(torch.from_numpy(x)).numpy(), c)


@fixed(100)
@given(arrays(np.float64, st.integers(1, 64), elements=st.floats(-1, 1)))
def test_mulaw_round_trip_error_is_within_the_bin(x):
    c = mu_law_encode(x)
    y = mu_law_decode(c).astype(np.float64)
    table = mu_law_decode(np.arange(256)).astype(np.float64)
    # x lies between its class's neighbours (the end classes reach ±1: librosa's top class decodes to 0.957)
    lo = np.where(c > 0, table[np.maximum(c - 1, 0)], -1.0)
    hi = np.where(c < 255, table[np.minimum(c + 1, 255)], 1.0)
    assert np.all((lo - 1e-7 <= x) & (x <= hi + 1e-7))
    np.testing.assert_array_equal(mu_law_encode(y), c)       # decoding lands back in the same class
    assert np.all(np.abs(y) <= 1.0)


@fixed(100)
@given(st.floats(-2, 2), st.floats(-2, 2))
def test_mulaw_is_monotonic(a, b):
    lo, hi = min(a, b), max(a, b)
    assert mu_law_encode(np.array([lo]))[0] <= mu_law_encode(np.array([hi]))[0]


def test_mulaw_classes_round_trip_exactly():
    c = np.arange(256)
    np.testing.assert_array_equal(mu_law_encode(mu_law_decode(c)), c)
    assert mu_law_decode(np.array([128]))[0] == 0.0


# ---- melody parser -------------------------------------------------------------------------------
MELODY_ALPHABET = "ABCDEFGHabcdefgrR#b♯♭0123456789:/.,-+e \t\n"


@fixed(200)
@given(st.one_of(st.text(MELODY_ALPHABET, max_size=40), st.text(max_size=40)))
def test_parse_melody_returns_steps_or_one_clear_line(text):
    try:
        steps = parse_melody(text)
    except ValueError as e:
        one_line(e)
        return
    assert steps and all(isinstance(s, MelodyStep) for s in steps)
    for s in steps:
        assert 0 < s.beats <= 64 and math.isfinite(s.beats)
        assert s.midi is None or 0 <= s.midi <= 127


step = st.builds(MelodyStep, st.one_of(st.none(), st.integers(0, 127).map(float), st.floats(0, 127)),
                 st.floats(1e-3, 64))


@fixed(100)
@given(st.lists(step, min_size=1, max_size=12))
def test_format_then_parse_melody_is_the_identity(steps):
    assert parse_melody(format_melody(steps)) == steps


@fixed(100)
@given(st.lists(st.tuples(st.sampled_from("CDEFGAB"), st.sampled_from(["", "#", "b"]), st.integers(0, 8),
                          st.sampled_from(["", ":0.5", ":1", ":1/3", ":2"])), min_size=1, max_size=8))
def test_note_names_parse_to_scientific_pitch(notes):
    steps = parse_melody(" ".join(f"{n}{acc}{octave}{beats}" for n, acc, octave, beats in notes))
    for (n, acc, octave, _), s in zip(notes, steps):
        expected = 12 * (octave + 1) + "C D EF G A B".index(n) + {"": 0, "#": 1, "b": -1}[acc]
        assert s.midi == expected


# ---- descriptors ---------------------------------------------------------------------------------
audio_clip = arrays(np.float32, st.integers(1, 4000), elements=st.floats(-1, 1, width=32))


@fixed(60)
@given(audio_clip, st.sampled_from([1, 7, 64, 160, 441]))
def test_frame_loudness_shape_and_range(audio, hop):
    loud = frame_loudness_db(audio, hop)
    assert loud.shape == (max(1, -(-len(audio) // hop)),)
    assert np.all(np.isfinite(loud)) and loud.min() >= -80.0 and loud.max() <= 0.0 + 1e-4


@fixed(40)
@given(arrays(np.float32, st.integers(320, 3000), elements=st.floats(-1, 1, width=32)))
def test_frame_loudness_follows_gain(audio):
    """Halving the signal lowers every frame above the floor by 6.02 dB."""
    loud, half = frame_loudness_db(audio, 160), frame_loudness_db(audio / 2, 160)
    above = half > -79.0
    np.testing.assert_allclose(half[above], loud[above] - 20 * np.log10(2), atol=1e-3)


@fixed(15)
@given(arrays(np.float32, st.integers(1, 8000), elements=st.floats(-1, 1, width=32)))
def test_describe_without_pitch_is_finite_and_in_range(audio):
    d = describe(audio, SR, pitch=False)
    assert set(d) == {"pitch", "voiced_fraction", "loudness", "brightness", "noisiness", "onset_rate",
                      "sounding_seconds", "seconds"}
    assert d["pitch"] is None and d["voiced_fraction"] == 0.0
    assert -80.0 <= d["loudness"] <= 0.0 + 1e-4
    assert 0.0 <= d["brightness"] <= SR / 2 and 0.0 <= d["noisiness"] <= 1.0 + 1e-6
    assert d["onset_rate"] >= 0 and d["seconds"] == pytest.approx(len(audio) / SR)
    assert 0 <= d["sounding_seconds"] <= d["seconds"] + 160 / SR


@fixed(4)
@given(st.floats(110, 880), st.floats(0.05, 0.9), st.integers(0, 2 ** 16))
def test_describe_finds_the_pitch_of_a_tone(freq, amp, seed):
    t = np.arange(int(0.3 * SR)) / SR
    noise = np.random.default_rng(seed).normal(0, 0.001, len(t))
    d = describe((amp * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32), SR)
    assert d["pitch"] == pytest.approx(69 + 12 * math.log2(freq / 440), abs=0.3)
    assert d["voiced_fraction"] > 0.5


# ---- audio loader --------------------------------------------------------------------------------
FORMATS = [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "FLOAT"), ("WAV", "PCM_U8"), ("FLAC", "PCM_16"),
           ("FLAC", "PCM_24")]


@fixed(25)
@given(st.sampled_from(FORMATS), st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]),
       st.integers(1, 4), st.integers(1, 3000), st.integers(0, 2 ** 32 - 1))
def test_load_audio_any_valid_file(fmt, sr, channels, frames, seed):
    data = np.random.default_rng(seed).uniform(-1, 1, (frames, channels)).astype(np.float32)
    fd, path = tempfile.mkstemp(suffix="." + fmt[0].lower())
    os.close(fd)
    try:
        sf.write(path, data, sr, format=fmt[0], subtype=fmt[1])
        stored, _ = sf.read(path, dtype="float32", always_2d=True)     # after the format's quantisation
        audio = load_audio(path, SR)
    finally:
        os.unlink(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == math.ceil(frames * SR / sr)
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
    if sr == SR:          # no resampling: exactly the file's samples, mixed down
        np.testing.assert_allclose(audio, np.clip(stored.mean(axis=1), -1, 1), atol=1e-6)


@fixed(40)
@given(st.binary(min_size=1, max_size=300), st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".bin"]))
def test_load_audio_arbitrary_bytes(blob, suffix):
    """Random bytes under any extension: refused with one AudioError line (or, rarely, audio)."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.write(fd, blob)
    os.close(fd)
    try:
        audio = load_audio(path, SR)
        assert audio.ndim == 1 and np.all(np.isfinite(audio))
    except AudioError as e:
        one_line(e)
    finally:
        os.unlink(path)


@fixed(30)
@given(st.integers(1, 2000), st.sampled_from([np.nan, np.inf, -np.inf]), st.integers(0, 1999))
def test_load_audio_refuses_any_non_finite_sample(frames, bad_value, where):
    assume(where < frames)
    data = np.zeros(frames, np.float32)
    data[where] = bad_value
    fd, path = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        sf.write(path, data, SR, subtype="FLOAT")
        with pytest.raises(AudioError, match="NaN or infinite"):
            load_audio(path, SR)
    finally:
        os.unlink(path)


# ---- target parser (rejection sampling) ----------------------------------------------------------
@pytest.fixture(scope="module")
def sampling():
    return pytest.importorskip("wavenet_core.controls.sampling")


TARGET_ALPHABET = "pitchloudnesbrigtmvyf_=.-0123456789 CDEG#b"


@fixed(200)
@given(st.one_of(st.text(TARGET_ALPHABET, max_size=30), st.text(max_size=30)))
def test_parse_target_returns_a_target_or_one_clear_line(sampling, text):
    try:
        t = sampling.parse_target(text)
    except ValueError as e:
        one_line(e)
        return
    assert t.name in sampling.TARGET_NAMES
    if t.label is None:
        _, _, pmin, pmax = sampling.PROPERTIES[t.name]
        assert t.low < t.high and t.high >= pmin and t.low <= pmax       # never empty, inverted or unreachable


numeric_targets = st.sampled_from([n for n in ("pitch", "loudness", "brightness", "noisiness", "onset_rate",
                                               "sounding_seconds", "voiced_fraction", "novelty")])


@fixed(100)
@given(numeric_targets, st.integers(-4000, 4000), st.integers(1, 4000), st.booleans(), st.booleans())
def test_target_text_round_trips(sampling, name, lo_q, width_q, open_low, open_high):
    """str(Target) parses back to the same Target (bounds on a quarter grid print exactly)."""
    lo, hi = lo_q / 4, (lo_q + width_q) / 4
    text = f"{name}={'' if open_low else lo}..{'' if open_high else hi}"
    try:
        t = sampling.parse_target(text)
    except ValueError as e:
        assert open_low and open_high or "can never be met" in str(e)
        return
    assert (t.low, t.high) == (-math.inf if open_low else lo, math.inf if open_high else hi)
    assert sampling.parse_target(str(t)) == t


@fixed(100)
@given(numeric_targets, st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_inverted_or_empty_ranges_are_refused(sampling, name, a, b):
    lo, hi = max(a, b), min(a, b)                  # written the wrong way round (or equal)
    with pytest.raises(ValueError) as e:
        sampling.parse_target(f"{name}={lo:.2f}..{hi:.2f}")
    msg = one_line(e.value)
    assert "inverted" in msg or "empty" in msg or "can never be met" in msg
