"""Controls: parsing (property-based), requested curves, conditioning tensors, MIDI and audio input, CLI."""
from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wavenet_core.controls.conditioning import (ADSR, DEFAULT_ENVELOPE, LEGATO, LOCAL_DIM, LOCAL_FEATURES, Controls, MelodyStep,
                                       encode_local, format_melody, instrument_weights, model_inputs, parse_adsr,
                                       parse_melody, parse_note, parse_timbre, read_midi, requested_curves, velocity_db)
from wavenet_core.data.corpus import INSTRUMENTS
from wavenet_core.model.wavenet import preset_config

SR, HOP = 16000, 160
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CFG = preset_config("tiny", local_dim=LOCAL_DIM, n_instruments=len(INSTRUMENTS), instrument_names=INSTRUMENTS)

SHARP = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLAT = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]


def name_of(midi: int, flats: bool = False) -> str:
    return f"{(FLAT if flats else SHARP)[midi % 12]}{midi // 12 - 1}"


# ---- parsing -----------------------------------------------------------------------------------
def test_note_names():
    assert parse_note("C4") == 60 and parse_note("A4") == 69 and parse_note("c4") == 60
    assert parse_note("F#4") == 66 and parse_note("Gb4") == 66 and parse_note("Bb3") == 58
    assert parse_note("B#3") == 60 and parse_note("Cb4") == 59 and parse_note("C-1") == 0
    assert parse_note("61") == 61 and parse_note("60.5") == 60.5


@FAST
@given(st.integers(0, 127), st.booleans())
def test_note_names_round_trip(midi, flats):
    assert parse_note(name_of(midi, flats)) == midi


beats_st = st.sampled_from([0.125, 0.25, 1 / 3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0])
step_st = st.tuples(st.one_of(st.none(), st.integers(0, 127)), beats_st)


@FAST
@given(st.lists(step_st, min_size=1, max_size=12), st.sampled_from(["names", "numbers", "flats"]),
       st.sampled_from([" ", "  ", ", ", "\n"]))
def test_melody_round_trip(steps, spelling, sep):
    def tok(m, b):
        beats = "1/3" if b == 1 / 3 else f"{b:g}"
        if m is None:
            return f"r:{beats}"
        return f"{m if spelling == 'numbers' else name_of(m, spelling == 'flats')}:{beats}"
    parsed = parse_melody(sep.join(tok(m, b) for m, b in steps))
    assert [(s.midi, s.beats) for s in parsed] == [(None if m is None else float(m), pytest.approx(b)) for m, b in steps]
    assert parse_melody(format_melody(parsed)) == parsed


@FAST
@given(st.lists(step_st, min_size=1, max_size=8), st.data(),
       st.sampled_from(["H4:1", "C4:x", "C4:0", "C4:-1", "Q", "C4:1:2", "C#:1", "C12:1", "E4:1/0", "130"]))
def test_melody_errors_name_token_and_position(steps, data, bad):
    tokens = [f"{'r' if m is None else m}:{b:g}" for m, b in steps]
    pos = data.draw(st.integers(0, len(tokens)))
    tokens.insert(pos, bad)
    with pytest.raises(ValueError) as e:
        parse_melody(" ".join(tokens))
    msg = str(e.value)
    assert f"token {pos + 1} " in msg and repr(bad) in msg and "\n" not in msg


def test_melody_empty():
    with pytest.raises(ValueError, match="empty"):
        parse_melody("  ")


mix_st = st.dictionaries(st.sampled_from(INSTRUMENTS), st.floats(0, 100, allow_nan=False), min_size=1, max_size=6)


@FAST
@given(mix_st)
def test_timbre_mix_parse_normalises(mix):
    text = ",".join(f"{k}={v!r}" for k, v in mix.items())
    total = sum(mix.values())
    if total <= 0:
        with pytest.raises(ValueError, match="sum to zero"):
            parse_timbre(text)
        return
    got = parse_timbre(text, INSTRUMENTS)
    assert sum(got.values()) == pytest.approx(1.0)
    for k, v in mix.items():
        assert got[k] == pytest.approx(v / total)
    w = instrument_weights(text, INSTRUMENTS, len(INSTRUMENTS))
    assert w.shape == (1, len(INSTRUMENTS) + 1) and float(w.sum()) == pytest.approx(1.0)
    assert torch.allclose(w, instrument_weights(mix, INSTRUMENTS, len(INSTRUMENTS)))
    assert float(w[0, -1]) == 0.0                                  # a mix is never "free"


def test_timbre_errors():
    assert parse_timbre("bell") == {"bell": 1.0}
    assert parse_timbre("bell,pluck") == {"bell": 0.5, "pluck": 0.5}
    with pytest.raises(ValueError, match=r"item 2 \('piano=1'\).*unknown instrument"):
        parse_timbre("bell=1,piano=1", INSTRUMENTS)
    with pytest.raises(ValueError, match=r"item 1 \('bell=x'\).*not a number"):
        parse_timbre("bell=x")
    with pytest.raises(ValueError, match="non-negative"):
        parse_timbre("bell=-1")


adsr_st = st.builds(ADSR, st.floats(0, 0.5), st.floats(0, 0.5), st.floats(-60, 0), st.floats(0, 0.5))


@FAST
@given(adsr_st, st.floats(0.0, 1.0))
def test_adsr_envelope_shape(env, held):
    t = np.linspace(-0.1, held + env.release + 0.2, 400)
    g = env.gain(t, held)
    assert np.all((g >= 0) & (g <= 1 + 1e-9))
    assert np.all(g[t < 0] == 0) and np.all(g[t > held + env.release + 1e-9] == 0)
    peak_t = env.attack
    if held > env.attack + env.decay + 0.01:                       # the sustain stage is reached
        s = 10 ** (env.sustain_db / 20)
        sustain = (t > env.attack + env.decay + 1e-9) & (t <= held)
        assert np.allclose(g[sustain], s)
        if env.decay > 0:                                          # (no decay stage: straight to sustain)
            assert env.gain(np.array([peak_t]), held)[0] == pytest.approx(1.0)
    after = t >= min(held, peak_t)                                  # after the peak: never rises
    assert np.all(np.diff(g[after]) <= 1e-9)


def test_adsr_parse_and_errors():
    assert parse_adsr("0.01,0.1,-6,0.2") == ADSR(0.01, 0.1, -6.0, 0.2)
    for bad, match in [("1,2,3", "four numbers"), ("a,0,0,0", "value 1"), ("0,0,6,0", "sustain"), ("-1,0,0,0", "attack")]:
        with pytest.raises(ValueError, match=match):
            parse_adsr(bad)


# ---- curves -------------------------------------------------------------------------------------
def test_constant_controls_and_free():
    c = requested_curves(Controls(seconds=0.5, pitch=69, loudness=-18), SR, HOP)
    assert c.n_samples == 8000 and c.n_frames == 50
    assert np.allclose(c.f0_hz, 440.0) and np.allclose(c.loudness_db, -18)
    free = requested_curves(Controls(seconds=0.5), SR, HOP)
    assert free.f0_hz is None and free.loudness_db is None and free.n_samples == 8000
    assert requested_curves(Controls(pitch=60), SR, HOP).n_samples == SR      # default 1 s


def test_melody_curves_follow_notes_and_rests():
    c = requested_curves(Controls(melody="C4:1 E4:0.5 r:0.5 G4:1", tempo=120, loudness=-20), SR, HOP)
    release = DEFAULT_ENVELOPE.release
    assert c.n_samples == round((3 * 0.5 + release) * SR)                     # 3 beats at 120 BPM + release
    assert [(n.midi, n.start) for n in c.notes] == [(60, 0.0), (64, 0.5), (67, 1.0)]
    assert c.notes[0].duration == pytest.approx(0.5 * LEGATO)
    t, midi = c.times, c.midi
    for n in c.notes:
        inside = (t > n.start + 0.01) & (t < n.start + n.duration - 0.01)
        assert np.allclose(midi[inside], n.midi) and np.allclose(c.loudness_db[inside], -20)
    rest = (t > 0.75 + release + 0.01) & (t < 1.0)
    assert rest.any() and np.all(c.f0_hz[rest] == 0) and np.all(c.loudness_db[rest] == -80)
    # left free, loudness stays free; seconds cuts the melody
    assert requested_curves(Controls(melody="C4 E4"), SR, HOP).loudness_db is None
    assert requested_curves(Controls(melody="C4 E4 G4 C5", seconds=0.6), SR, HOP).n_samples == 9600


def test_glide_vibrato_transpose():
    c = requested_curves(Controls(melody="C4:1 G4:1", tempo=60, glide=0.2, loudness=-20), SR, HOP)
    t, midi = c.times, c.midi
    ramp = (t > 1.0) & (t < 1.2)
    assert np.all(np.diff(midi[ramp]) > 0) and midi[ramp][0] < 61 and np.allclose(midi[(t > 1.25) & (t < 1.8)], 67)
    v = requested_curves(Controls(pitch=60, seconds=2, vibrato_depth=50, vibrato_rate=5), SR, HOP)
    dev = v.midi - 60
    assert np.all(np.abs(dev[v.times < 0.15]) < 1e-4)                      # fades in after the attack
    assert np.max(np.abs(dev)) == pytest.approx(0.5, abs=0.02)              # ± 50 cents
    up = requested_curves(Controls(melody="C4", transpose=12), SR, HOP)
    assert up.notes[0].midi == 72 and np.nanmax(up.midi) == pytest.approx(72)


def test_adsr_loudness_curve():
    env = "0.1,0.1,-6,0.2"
    c = requested_curves(Controls(pitch=60, seconds=1.0, loudness=-10, adsr=env), SR, HOP)
    t, loud = c.times, c.loudness_db
    assert loud[0] < -25                                                      # attack starts from silence
    assert np.max(loud) == pytest.approx(-10, abs=0.5)
    assert np.allclose(loud[(t > 0.25) & (t < 0.78)], -16)                  # sustain -6 dB below the peak
    assert loud[-1] < -30                                                     # released by the end
    assert np.all(c.f0_hz[(t > 0.25) & (t < 0.78)] > 0)
    # the envelope applies per note of a melody
    m = requested_curves(Controls(melody="C4 D4", tempo=60, loudness=-10, adsr=env), SR, HOP)
    assert m.loudness_db[(m.times > 1.0) & (m.times < 1.02)].max() < -20      # second note re-attacks


def test_contours_and_validation():
    f0 = np.r_[np.full(30, 220.0), np.zeros(10), np.full(20, 330.0)]
    c = requested_curves(Controls(f0_hz=f0, loudness_db=np.full(60, -15.0)), SR, HOP)
    assert c.n_frames == 60 and np.allclose(c.f0_hz, f0) and np.allclose(c.loudness_db, -15)
    for kw, match in [(dict(pitch=200), "Pitch"), (dict(loudness=5), "Loudness"), (dict(seconds=-1), "Duration"),
                      (dict(seconds=100), "limit"), (dict(pitch=60, melody="C4"), "one pitch source"),
                      (dict(melody="C4", tempo=5), "Tempo"), (dict(vibrato_depth=-1), "Vibrato"),
                      (dict(melody="C4:64 " * 10), "limit")]:
        with pytest.raises(ValueError, match=match):
            requested_curves(Controls(**kw), SR, HOP)


# ---- tensors ------------------------------------------------------------------------------------
def test_model_inputs_shapes_and_values():
    inp = model_inputs(Controls(seconds=0.3, instrument="bell", pitch=60, loudness=-20), CFG)
    assert inp.n_samples == 4800 and inp.local_cond.shape == (1, LOCAL_DIM, 30)
    row = {n: inp.local_cond[0, i] for i, n in enumerate(LOCAL_FEATURES)}
    assert torch.all(row["voiced"] == 1) and torch.allclose(row["pitch"], torch.zeros(30), atol=1e-6)
    assert torch.allclose(row["f0"], torch.full((30,), 0.2616256), atol=1e-5)
    assert torch.all(row["pitch_known"] == 1) and torch.all(row["loudness_known"] == 1)
    assert torch.allclose(row["loudness"], torch.full((30,), 1.0))            # (-20 + 40) / 20
    assert inp.instrument.shape == (1, 7) and inp.instrument[0, INSTRUMENTS.index("bell")] == 1
    free = model_inputs(Controls(seconds=0.3), CFG)
    assert torch.all(free.local_cond == 0) and free.instrument[0, -1] == 1   # "free" = id n_instruments
    mix = model_inputs(Controls(seconds=0.3, instrument="bell=3,pluck=1"), CFG).instrument[0]
    assert mix[INSTRUMENTS.index("bell")] == pytest.approx(0.75) and mix[INSTRUMENTS.index("pluck")] == pytest.approx(0.25)
    # the same encoding as training: encode_local on the requested curves
    c = requested_curves(Controls(melody="C4 r E4", tempo=240, loudness=-12), SR, HOP)
    inp = model_inputs(Controls(melody="C4 r E4", tempo=240, loudness=-12), CFG)
    assert np.allclose(inp.local_cond[0].numpy(), encode_local(c.f0_hz, c.loudness_db, c.n_frames))
    assert inp.local_cond.shape[-1] * HOP >= inp.n_samples > (inp.local_cond.shape[-1] - 1) * HOP
    with pytest.raises(ValueError, match="Unknown instrument"):
        model_inputs(Controls(instrument="piano"), CFG)
    bare = preset_config("tiny")
    with pytest.raises(ValueError, match="no pitch/loudness"):
        model_inputs(Controls(pitch=60), bare)
    with pytest.raises(ValueError, match="no instrument"):
        model_inputs(Controls(instrument="bell"), bare)


# ---- MIDI and audio -----------------------------------------------------------------------------
def write_midi(path, tempo_bpm=120):
    import mido
    mid = mido.MidiFile(ticks_per_beat=480)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0)])
    drums = mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
                            mido.Message("note_off", channel=9, note=36, velocity=0, time=480)])
    notes = mido.MidiTrack()
    # C4 (vel 127) for one beat; chord E4+G4 at beat 1 (G4 wins) for one beat; D4 at beat 2.5 overlapping A4 at 3
    events = [(0, "note_on", 60, 127), (480, "note_off", 60, 0), (480, "note_on", 64, 64), (480, "note_on", 67, 64),
              (960, "note_off", 64, 0), (960, "note_off", 67, 0), (1200, "note_on", 62, 32), (1440, "note_on", 69, 100),
              (1680, "note_off", 62, 0), (1920, "note_off", 69, 0)]
    last = 0
    for tick, kind, note, vel in events:
        notes.append(mido.Message(kind, note=note, velocity=vel, time=tick - last))
        last = tick
    mid.tracks += [meta, drums, notes]
    mid.save(str(path))
    return path


def test_read_midi_monophonic_with_velocities(tmp_path):
    notes = read_midi(write_midi(tmp_path / "tune.mid"))
    assert [n.midi for n in notes] == [60, 67, 62, 69]                       # drums skipped; chord → highest
    assert [n.start for n in notes] == pytest.approx([0.0, 0.5, 1.25, 1.5])
    assert [n.duration for n in notes] == pytest.approx([0.5, 0.5, 0.25, 0.5])  # D4 cut where A4 starts
    assert notes[0].level_db == pytest.approx(velocity_db(127)) and notes[0].level_db > notes[1].level_db > notes[2].level_db
    c = requested_curves(Controls(midi_file=tmp_path / "tune.mid"), SR, HOP)
    assert c.n_samples == round((2.0 + DEFAULT_ENVELOPE.release) * SR)
    assert c.loudness_db is not None                                           # velocities → loudness
    assert c.loudness_db[10] == pytest.approx(velocity_db(127)) and c.loudness_db[60] == pytest.approx(velocity_db(64))
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        read_midi(bad)
    with pytest.raises(FileNotFoundError):
        read_midi(tmp_path / "missing.mid")


def test_from_audio_follows_recording(tmp_path):
    t = np.arange(int(0.6 * 22050)) / 22050
    freq = np.where(t < 0.3, 220.0, 330.0)
    audio = 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / 22050)
    sf.write(tmp_path / "voice.wav", audio, 22050)                           # resampled to the model's rate
    c = requested_curves(Controls(from_audio=tmp_path / "voice.wav"), SR, HOP)
    assert c.n_samples == pytest.approx(0.6 * SR, abs=2)
    assert np.median(c.f0_hz[5:25]) == pytest.approx(220, rel=0.01)
    assert np.median(c.f0_hz[35:55]) == pytest.approx(330, rel=0.01)
    assert np.median(c.loudness_db[5:55]) == pytest.approx(20 * math.log10(0.3 / math.sqrt(2)), abs=0.5)
    louder = requested_curves(Controls(from_audio=tmp_path / "voice.wav", loudness=-6, transpose=-12), SR, HOP)
    assert np.percentile(louder.loudness_db[louder.f0_hz > 0], 95) == pytest.approx(-6, abs=0.01)
    assert np.median(louder.f0_hz[5:25]) == pytest.approx(110, rel=0.01)


# ---- CLI ----------------------------------------------------------------------------------------
def test_generate_cli_flags(tiny_run, tmp_path, capsys):
    from wavenet_core.cli import main
    model = str(tiny_run / "model.safetensors")
    sf.write(tmp_path / "voice.wav", 0.3 * np.sin(2 * np.pi * 220 * np.arange(4000) / 16000), 16000)
    write_midi(tmp_path / "tune.mid", tempo_bpm=480)
    runs = {
        "note.wav": (["--seconds", "0.3", "--instrument", "bell", "--pitch", "60", "--loudness", "-18",
                      "--temperature", "1.0", "--seed", "0"], 0.3),
        "melody.wav": (["--melody", "C4:0.5 E4:0.5 G4:1", "--tempo", "240", "--timbre", "bell=0.5,pluck=0.5",
                        "--glide", "0.03", "--vibrato-depth", "20", "--vibrato-rate", "6", "--adsr", "0.01,0.05,-6,0.05"],
                       0.5 + 0.05),
        "midi.wav": (["--midi", str(tmp_path / "tune.mid"), "--instrument", "organ"], 0.5 + 0.08),
        "voice.wav": (["--from-audio", str(tmp_path / "voice.wav"), "--instrument", "flute"], 0.25),
    }
    for name, (flags, seconds) in runs.items():
        out = tmp_path / "out" / name
        assert main(["generate", "--model", model, *flags, "--out", str(out)]) == 0, capsys.readouterr().err
        audio, sr = sf.read(out)
        assert sr == 16000 and len(audio) == pytest.approx(seconds * sr, abs=2) and np.all(np.isfinite(audio))
    # the same seed gives the same take
    again = tmp_path / "again.wav"
    assert main(["generate", "--model", model, *runs["note.wav"][0], "--out", str(again)]) == 0
    assert np.array_equal(sf.read(again)[0], sf.read(tmp_path / "out" / "note.wav")[0])
    capsys.readouterr()
    assert main(["generate", "--model", model, "--melody", "C4:1 X9:1", "--out", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Melody token 2 ('X9:1')") and err.count("\n") == 1
    assert main(["generate", "--model", model, "--instrument", "bell", "--timbre", "bell=1", "--out", str(tmp_path / "x.wav")]) == 2
    assert main(["instruments", "--model", model]) == 0
    assert capsys.readouterr().out.split() == list(INSTRUMENTS)
