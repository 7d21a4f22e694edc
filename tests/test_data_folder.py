"""Training on a folder of the user's audio: real files, a report that names what was skipped."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from wavenet_core.data import load_folder
from wavenet_core.training.train import TrainConfig, train


def tone(freq, seconds, sr, level=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture()
def user_folder(tmp_path):
    root = tmp_path / "my_sounds"
    (root / "strings").mkdir(parents=True)
    (root / "winds" / "deep").mkdir(parents=True)
    sf.write(root / "strings" / "a.wav", tone(220, 1.0, 16000), 16000)
    stereo = np.stack([tone(330, 1.0, 44100), tone(330, 1.0, 44100, 0.2)], axis=1)
    sf.write(root / "winds" / "deep" / "stereo44k.flac", stereo, 44100)
    sf.write(root / "strings" / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    sf.write(root / "winds" / "short.wav", tone(440, 0.01, 16000), 16000)
    good = (root / "strings" / "a.wav").read_bytes()
    (root / "strings" / "corrupt.wav").write_bytes(good[:30] + b"\x00garbage" * 10)
    (root / "winds" / "notes.wav").write_text("this is a text file renamed to .wav")
    (root / "readme.txt").write_text("not audio, ignored by extension")
    return root


def test_report_names_each_skipped_file_and_why(user_folder, tmp_path):
    examples, report = load_folder(user_folder, 16000, 160, min_samples=1600, cache_dir=tmp_path / "cache")
    assert sorted(report.used) == ["strings/a.wav", "winds/deep/stereo44k.flac"]
    assert set(report.skipped) == {"strings/silent.wav", "winds/short.wav", "strings/corrupt.wav", "winds/notes.wav"}
    assert "silent" in report.skipped["strings/silent.wav"]
    assert "too short" in report.skipped["winds/short.wav"]
    assert "not a readable audio file" in report.skipped["winds/notes.wav"]
    assert report.instruments == ["strings", "winds"]
    by_name = {e.name: e for e in examples}
    stereo = by_name["winds/deep/stereo44k.flac"]
    assert stereo.sample_rate == 16000 and abs(len(stereo.audio) - 16000) <= 1 and stereo.instrument == 1
    voiced = stereo.f0[stereo.f0 > 0]
    assert len(voiced) > 50 and abs(np.median(voiced) - 330) < 5
    assert "skipped strings/silent.wav" in report.summary()


def test_features_are_cached_by_content(user_folder, tmp_path):
    cache = tmp_path / "cache"
    load_folder(user_folder, 16000, 160, min_samples=1600, cache_dir=cache)
    files = sorted(cache.iterdir())
    assert len(files) == 2
    stamp = [f.stat().st_mtime_ns for f in files]
    load_folder(user_folder, 16000, 160, min_samples=1600, cache_dir=cache)
    assert [f.stat().st_mtime_ns for f in sorted(cache.iterdir())] == stamp


def test_nothing_usable_is_an_error_that_says_what_was_found(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        load_folder(empty, 16000, 160, min_samples=1600, cache_dir=tmp_path / "c")
    (empty / "s.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="1 audio file.*none usable"):
        load_folder(empty, 16000, 160, min_samples=1600, cache_dir=tmp_path / "c")


def test_train_on_a_user_folder(user_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("WAVENET_CACHE", str(tmp_path / "cache"))
    cfg = TrainConfig(out=str(tmp_path / "run"), data=str(user_folder), preset="tiny", steps=6, batch_size=2,
                      segment=800, val_every=3, checkpoint_every=3, warmup=2)
    messages = []
    path = train(cfg, log=messages.append, progress=False)
    assert path.is_file()
    assert any("2 file(s) used" in m for m in messages)
