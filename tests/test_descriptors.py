"""Descriptors on signals with known answers: sines, noise, click trains, silence."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from wavenet_core.measure.descriptors import (DESCRIPTOR_NAMES, brightness, describe, frame_loudness_db, hz_to_midi,
                                             midi_to_hz, pitch_track)

SR = 16000


def sine(freq: float, amp: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("freq,amp", [(130.81, 0.9), (261.63, 0.5), (311.13, 0.05), (523.25, 0.2)])
def test_sine_pitch_loudness_brightness(freq, amp):
    d = describe(sine(freq, amp), SR)
    assert set(DESCRIPTOR_NAMES) <= set(d)
    midi = 69 + 12 * np.log2(freq / 440)
    assert d["pitch"] == pytest.approx(midi, abs=0.03)           # within 3 cents
    assert d["voiced_fraction"] > 0.95
    assert d["loudness"] == pytest.approx(20 * np.log10(amp / np.sqrt(2)), abs=0.2)   # RMS of a sine
    assert d["brightness"] == pytest.approx(freq, rel=0.1)
    assert d["noisiness"] < 0.01
    assert d["sounding_seconds"] == pytest.approx(1.0, abs=0.02)
    assert d["seconds"] == pytest.approx(1.0)


def test_noise_is_flat_and_unpitched_sine_is_not():
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    dn, ds = describe(noise, SR), describe(sine(440, 0.3), SR)
    assert dn["noisiness"] > 0.4 > 0.01 > ds["noisiness"]
    assert dn["voiced_fraction"] < 0.2
    assert dn["brightness"] > 3000                                 # white noise: centroid near sr/4
    assert dn["loudness"] == pytest.approx(-20, abs=0.5)


@pytest.mark.parametrize("rate", [2, 4, 8])
def test_click_train_onset_rate(rate):
    x = np.zeros(2 * SR, dtype=np.float32)
    first = SR // (2 * rate)                                       # not at t=0, where no detector can peak-pick
    x[first::SR // rate] = 0.9
    n_clicks = len(range(first, len(x), SR // rate))
    d = describe(x, SR, pitch=False)
    assert d["onset_rate"] == pytest.approx(n_clicks / 2.0, abs=0.5)
    assert d["pitch"] is None


def test_silence_and_sounding_seconds():
    x = np.concatenate([np.zeros(SR // 2, dtype=np.float32), sine(220, 0.3, 0.75), np.zeros(SR // 4, dtype=np.float32)])
    d = describe(x, SR)
    assert d["sounding_seconds"] == pytest.approx(0.75, abs=0.03)
    assert d["voiced_fraction"] > 0.9                              # of the sounding frames
    assert d["loudness"] == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.3)
    quiet = describe(np.zeros(SR, dtype=np.float32), SR)
    assert quiet["pitch"] is None and quiet["sounding_seconds"] == 0.0 and quiet["loudness"] == -80.0
    json.dumps(d)                                                  # JSON-ready


def test_pitch_track_is_frame_aligned_and_fine():
    # 220 Hz for 0.5 s, then 330 Hz: frames well inside each half read their own pitch
    x = np.concatenate([sine(220, 0.5, 0.5), sine(330, 0.5, 0.5)])
    f0 = pitch_track(x, SR, 160)
    assert len(f0) == len(frame_loudness_db(x, 160)) == 100
    assert np.allclose(f0[5:45], 220, rtol=0.001) and np.allclose(f0[55:95], 330, rtol=0.001)
    assert np.median(np.abs(1200 * np.log2(f0[5:45] / 220))) < 1.0   # sub-cent where pYIN's grid is 10 cents
    # refine=False: pYIN's own grid values, on the same frames (same alignment)
    g = pitch_track(x, SR, 160, resolution=0.1, refine=False)
    assert len(g) == 100 and np.all(g[5:45] > 0) and np.all(g[55:95] > 0)
    steps = 1200 * np.log2(g[g > 0] / 50.0) / 10                          # pYIN's grid: 10-cent steps up from fmin
    assert np.allclose(steps, np.round(steps), atol=1e-3)
    assert np.all(np.abs(hz_to_midi(g[5:45]) - hz_to_midi(220)) <= 0.06)
    assert np.all(np.abs(hz_to_midi(g[55:95]) - hz_to_midi(330)) <= 0.06)
    # the switch at sample 8000 (between frames 49 and 50): both read 220 Hz up to frame 46 and 330 from frame 54
    for track in (f0, g):
        assert abs(hz_to_midi(track[46]) - hz_to_midi(220)) < 0.5 and abs(hz_to_midi(track[54]) - hz_to_midi(330)) < 0.5


def test_brightness_is_describes_and_follows_the_spectrum():
    x = sine(440, 0.5)
    assert brightness(x, SR) == pytest.approx(describe(x, SR, pitch=False)["brightness"])
    assert brightness(x, SR) == pytest.approx(440, rel=0.05)                # a sine's centroid is its frequency
    assert brightness(x + sine(3520, 0.5), SR) > 1.5 * brightness(x, SR)    # an upper partial raises it
    assert brightness(np.zeros(SR, dtype=np.float32), SR) == 0.0


def test_midi_to_hz_inverts_hz_to_midi():
    midi = np.array([21.0, 60.0, 69.0, 69.5, 108.0])
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert np.allclose(hz_to_midi(midi_to_hz(midi)), midi)


def test_hz_to_midi():
    assert hz_to_midi(np.array([440.0, 261.6256]))[0] == pytest.approx(69)
    assert hz_to_midi(np.array([261.6256]))[0] == pytest.approx(60, abs=1e-4)
    assert np.isnan(hz_to_midi(np.array([0.0]))[0])


def test_describe_rejects_bad_audio():
    with pytest.raises(ValueError, match="empty"):
        describe(np.zeros(0, dtype=np.float32), SR)


def test_describe_cli(tmp_path, capsys):
    from wavenet_core.cli import main
    path = tmp_path / "a.wav"
    sf.write(path, sine(261.63, 0.5), SR)
    assert main(["describe", str(path)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["pitch"] == pytest.approx(60, abs=0.05) and set(DESCRIPTOR_NAMES) <= set(d)
    assert main(["describe", str(tmp_path / "missing.wav")]) == 2
    assert "no such file" in capsys.readouterr().err
