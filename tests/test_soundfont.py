"""SoundFontCorpus: real sampled instruments rendered through TinySoundFont from a GM SoundFont.

Every test renders through the real synthesiser (tinysoundfont) and the real SoundFont
(pretty_midi's TimGM6mb.sf2), both installed by ./studio.sh."""
from __future__ import annotations

import numpy as np
import pytest

from wavenet_core.data import soundfont as sfmod
from wavenet_core.data.corpus import hz_to_midi
from wavenet_core.data.soundfont import (INSTRUMENT_NAMES, SOUNDFONT_INSTRUMENTS, SoundFontCorpus, SoundFontError,
                                         SoundFontRenderer, Stroke, resolve_soundfont)
from wavenet_core.measure.descriptors import f0_contour, frame_loudness_db

SR, HOP = 16000, 160
TINY = ("piano", "violin", "flute")


@pytest.fixture(scope="module")
def renderer() -> SoundFontRenderer:
    return SoundFontRenderer(sample_rate=SR)


@pytest.fixture(scope="module")
def tiny() -> SoundFontCorpus:
    return SoundFontCorpus(size=6, seconds=0.8, instruments=TINY, seed=5, phrase_share=0.5)


def _inst(name: str):
    return next(i for i in SOUNDFONT_INSTRUMENTS if i.name == name)


def _note(r: SoundFontRenderer, name: str, key: int, vel: int = 100, seconds: float = 0.8) -> np.ndarray:
    n = int(seconds * SR) // r.block * r.block
    audio, _ = r.render(_inst(name), [Stroke(key, vel, 0, n * 3 // 4)], n)
    return audio


def test_instruments_cover_the_gm_families_in_range():
    families = {i.family for i in SOUNDFONT_INSTRUMENTS}
    assert len(SOUNDFONT_INSTRUMENTS) >= 12
    assert {"keyboard", "mallet", "organ", "guitar", "bass", "bowed strings", "brass", "reed", "pipe"} <= families
    assert len(set(INSTRUMENT_NAMES)) == len(INSTRUMENT_NAMES)
    assert all(36 <= i.low < i.high <= 84 and 0 <= i.program < 128 for i in SOUNDFONT_INSTRUMENTS)


def test_tiny_render_has_the_corpus_labels(tiny):
    examples = list(tiny)
    assert [e.instrument for e in examples] == [0, 1, 2, 0, 1, 2]
    for e in examples:
        assert e.audio.dtype == np.float32 and e.audio.shape == (int(0.8 * SR),)
        assert np.max(np.abs(e.audio)) <= 1.0 and np.max(np.abs(e.audio)) > 0.01
        assert e.f0.shape == e.loudness.shape == frame_loudness_db(e.audio, HOP).shape
        np.testing.assert_allclose(e.loudness, frame_loudness_db(e.audio, HOP))
        assert (e.f0 > 0).sum() >= 10                                   # a sounding note, labelled
        assert np.all(e.f0[e.loudness <= -60.0] == 0)                   # silent frames carry no pitch
        assert e.name.endswith(TINY[e.instrument])


@pytest.mark.parametrize("name,key", [("piano", 48), ("violin", 67), ("electric bass", 40)])
def test_pyin_hears_the_labelled_pitch(renderer, name, key):
    corpus = SoundFontCorpus(size=1, instruments=(name,), seconds=0.8)
    audio = _note(corpus.renderer, name, key, seconds=0.6)
    est = f0_contour(audio, SR, HOP)
    loud = frame_loudness_db(audio, HOP)
    label = sfmod.frame_f0(np.full(len(audio), float(sfmod.midi_to_hz(key))), loud, HOP)
    both = (est > 0) & (label > 0)
    assert both.sum() >= 20
    cents = 100 * np.abs(hz_to_midi(est[both]) - hz_to_midi(label[both]))
    assert np.median(cents) < 50 and np.mean(cents < 50) > 0.8, (name, key, np.median(cents))


def test_phrase_labels_follow_the_audio(tiny):
    """pYIN on whole rendered clips (phrases with legato, slurs, vibrato) agrees with the labels."""
    phrases = [e for e in tiny if e.name.startswith("phrase")]
    assert len(phrases) >= 2
    agree = []
    for e in phrases:
        est = f0_contour(e.audio, SR, HOP)
        both = (est > 0) & (e.f0 > 0)
        agree.append(np.mean(100 * np.abs(hz_to_midi(est[both]) - hz_to_midi(e.f0[both])) < 50))
    assert np.mean(agree) > 0.8, agree


def test_same_seed_same_audio_other_seed_other_audio(tiny):
    again = SoundFontCorpus(size=6, seconds=0.8, instruments=TINY, seed=5, phrase_share=0.5)
    other = SoundFontCorpus(size=6, seconds=0.8, instruments=TINY, seed=6, phrase_share=0.5)
    for i in (4, 0, 2):                                                 # out of order: no state carried over
        a, b = tiny.example(i), again.example(i)
        assert np.array_equal(a.audio, b.audio) and np.array_equal(a.f0, b.f0)
    assert not np.array_equal(tiny.example(0).audio, other.example(0).audio)


def test_natural_ranges_respected():
    corpus = SoundFontCorpus(size=160, seconds=1.5)
    for i in range(len(corpus)):
        inst, kind, strokes, vib, _ = corpus.plan(i)
        assert strokes and kind in ("note", "phrase")
        for st in strokes:
            assert inst.low <= st.key <= inst.high, (inst.name, st.key)
            for _, offset in st.targets:                                # slurred-to pitches
                assert inst.low <= st.key + offset <= inst.high
        assert 0 <= vib <= 50
    for i in (7, 12, 13):                                               # violin, trumpet... rendered: f0 in range ± vibrato
        e = corpus.example(i)
        inst = corpus.instruments[e.instrument]
        midi = hz_to_midi(e.f0[e.f0 > 0])
        assert midi.min() >= inst.low - 0.5 and midi.max() <= inst.high + 0.5


def test_velocity_raises_level_and_brightness(renderer):
    for name, key in (("piano", 60), ("trumpet", 67)):
        rms, centroid, upper = [], [], []
        for vel in (30, 60, 90, 127):
            x = _note(renderer, name, key, vel)[: int(0.5 * SR)].astype(np.float64)
            rms.append(np.sqrt(np.mean(x ** 2)))
            spec = np.abs(np.fft.rfft(x)) ** 2
            freqs = np.fft.rfftfreq(len(x), 1 / SR)
            centroid.append(float((spec * freqs).sum() / spec.sum()))
            upper.append(float(spec[freqs > 3.5 * sfmod.midi_to_hz(key)].sum() / spec.sum()))   # above the 3rd harmonic
        assert all(a < b for a, b in zip(rms, rms[1:])), (name, rms)
        assert all(a < b for a, b in zip(centroid, centroid[1:])), (name, centroid)
        assert upper[-1] > 3 * upper[0], (name, upper)


def test_missing_soundfont_is_a_one_line_error(tmp_path, monkeypatch):
    with pytest.raises(SoundFontError) as e:
        resolve_soundfont(tmp_path / "nope.sf2")
    assert "--soundfont" in str(e.value) and "\n" not in str(e.value)
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont" * 10)
    with pytest.raises(SoundFontError, match="not a SoundFont"):
        resolve_soundfont(bad)
    monkeypatch.delenv("WAVENET_SOUNDFONT", raising=False)
    monkeypatch.setattr(sfmod.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sfmod, "DEBIAN_SOUNDFONTS", ())
    with pytest.raises(SoundFontError) as e:
        resolve_soundfont(None)
    assert "pip install pretty_midi" in str(e.value) and "\n" not in str(e.value)


def test_missing_synthesiser_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(sfmod, "SYNTH_PACKAGE", "tinysoundfont_not_installed_here")
    with pytest.raises(SoundFontError) as e:
        SoundFontRenderer()
    assert "pip install --no-deps tinysoundfont" in str(e.value) and "\n" not in str(e.value)


def test_cli_train_reports_a_missing_soundfont_in_one_line(tmp_path, capsys):
    from wavenet_core.cli import main
    rc = main(["train", "--data", "soundfont", "--soundfont", str(tmp_path / "none.sf2"), "--preset", "tiny",
               "--steps", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "none.sf2" in err and len(err.splitlines()) == 1


def test_five_step_training_run_on_the_soundfont_corpus(tmp_path):
    from wavenet_core import load_model
    from wavenet_core.cli import main
    out = tmp_path / "run"
    rc = main(["train", "--data", "soundfont", "--preset", "tiny", "--steps", "5", "--batch-size", "2",
               "--segment", "800", "--corpus-size", "16", "--corpus-seconds", "0.6", "--val-every", "5",
               "--checkpoint-every", "5", "--warmup", "2", "--seed", "1", "--out", str(out)])
    assert rc == 0
    model = load_model(out / "model.safetensors")
    assert model.training_info["step"] == 5
    assert tuple(model.config.instrument_names) == INSTRUMENT_NAMES
    assert model.config.n_instruments == len(INSTRUMENT_NAMES)


# ---- shipped real recordings (wavenet_core/data/recordings.py) ----------------------------------
def test_missing_recording_is_a_one_line_error(monkeypatch, tmp_path):
    from wavenet_core.data import recordings
    monkeypatch.setattr(recordings, "RECORDINGS_DIR", tmp_path)
    with pytest.raises(recordings.RecordingError) as e:
        recordings.recording_path("melody")
    assert "missing" in str(e.value) and "\n" not in str(e.value)
    assert recordings.recording_paths() == {}
    with pytest.raises(ValueError, match="unknown recording"):
        recordings.recording_path("nope")


def test_shipped_recording_is_a_few_seconds_of_a_pitched_monophonic_melody():
    import soundfile as sf
    from wavenet_core.data.recordings import RECORDINGS, load_recording, recording_path
    path = recording_path("melody")
    info = sf.info(str(path))
    assert info.samplerate == SR and info.channels == 1 and 2.0 <= info.duration <= 10.0
    assert path.parent.joinpath("README.md").read_text().count(RECORDINGS["melody"].licence) >= 1
    audio = load_recording("melody", SR)
    assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) == info.frames
    assert 0.1 < np.max(np.abs(audio)) <= 1.0
    f0 = f0_contour(audio, SR, HOP)                                     # pYIN
    midi = hz_to_midi(f0[f0 > 0])
    assert np.mean(f0 > 0) > 0.6                                        # pitched most of the time …
    assert 55 < np.median(midi) < 75 and np.ptp(np.round(midi)) >= 4    # … a melody around C4, not one held note
