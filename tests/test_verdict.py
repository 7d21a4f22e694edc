"""The verdict (asked vs measured → met / missed) checked against ground truth: the built-in corpus
renders exactly the notes asked for, so a correct judgement is known in advance."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from wavenet_core.controls.conditioning import Controls, requested_curves
from wavenet_core.data.corpus import INSTRUMENTS, Note, render_notes
from wavenet_core.measure.descriptors import frame_loudness_db
from wavenet_core.controls.verdict import (PITCH_CENTS, judge, known_pitch_range, note_label, note_name, parse_pitch)

SR, HOP = 16000, 160


@dataclass
class Config:
    sample_rate: int = SR
    hop_length: int = HOP
    instrument_names: tuple = INSTRUMENTS


def render(controls: Controls, instrument: str = "organ", transpose: float = 0.0, level_db: float | None = None,
           seed: int = 0) -> np.ndarray:
    """The corpus synthesiser playing exactly the notes ``controls`` ask for (shifted by ``transpose``),
    scaled so that its median sounding frame level is ``level_db``."""
    curves = requested_curves(controls, SR, HOP)
    notes = [Note(n.midi + transpose, n.start, n.duration, -12.0) for n in curves.notes]
    audio, _ = render_notes(instrument, notes, curves.n_samples / SR, SR, np.random.default_rng(seed))
    if level_db is not None:
        loud = frame_loudness_db(audio, HOP)
        audio = audio * 10 ** ((level_db - float(np.median(loud[loud > -40]))) / 20)
    return audio.astype(np.float32)


def check(v, name):
    return next(c for c in v.checks if c.name == name)


def test_note_names():
    assert note_name(69) == "A4" and note_name(54) == "F#3" and note_name(69.3, cents=True) == "A4 +30¢"
    assert note_label(69) == "A4 (69.0)" and note_label(None) == "no pitch"
    assert parse_pitch("A4") == 69 and parse_pitch("F#3") == 54 and parse_pitch("Bb2") == 46
    assert parse_pitch(60) == 60 and parse_pitch("60.5") == 60.5
    for bad in ("H4", "", 200):
        with pytest.raises(ValueError):
            parse_pitch(bad)


def test_exact_melody_is_met_note_by_note():
    controls = Controls(melody="C4:1 E4:1 G4:2 A3:1", tempo=120, instrument="saw", loudness=-20)
    v = judge(render(controls, "saw", level_db=-20), controls, Config(), timbre=False)
    assert [n.asked for n in v.notes] == [60, 64, 67, 57]
    assert all(n.met and abs(n.cents) < 10 for n in v.notes), [n.row() for n in v.notes]
    assert check(v, "pitch").met and check(v, "level").met and check(v, "sounding time").met
    assert v.met is True and v.next_step is None and v.headline.startswith("Everything asked for was met")
    assert v.notes[0].row()[:2] == [1, "C4 (60.0)"]
    json.dumps(v.to_dict())                                  # JSON-ready for the API and the CLI


def test_a_wrong_note_is_missed_with_how_far_and_a_next_step():
    controls = Controls(melody="C4:1 E4:1 G4:2", tempo=120, loudness=-20)
    v = judge(render(controls, transpose=1.0, level_db=-20), controls, Config())
    assert not check(v, "pitch").met and v.met is False
    assert all(not n.met and n.cents == pytest.approx(100, abs=15) for n in v.notes)
    assert "0 of 3 notes in tune" in check(v, "pitch").words and "sharp" in check(v, "pitch").words
    assert check(v, "level").met                              # the other properties are judged on their own
    assert "seed" in v.next_step


def test_half_a_semitone_is_the_boundary():
    inside = Controls(pitch=60.0, seconds=1.0)
    assert judge(render(inside, transpose=0.35), inside, Config()).notes[0].met
    assert not judge(render(inside, transpose=0.65), inside, Config()).notes[0].met
    assert PITCH_CENTS == 50


def test_outside_the_learned_range_suggests_transposing():
    controls = Controls(pitch=84.0, seconds=1.0)
    audio = render(controls, transpose=-12.0)                    # an octave low: missed
    v = judge(audio, controls, Config(), known_range=(48.0, 72.0))
    assert not v.notes[0].met
    assert "C6 is outside C3–C5" in v.next_step and "-12 semitones" in v.next_step


def test_level_within_3_db():
    controls = Controls(pitch=62.0, seconds=1.0, loudness=-18.0)
    assert check(judge(render(controls, level_db=-19.5), controls, Config()), "level").met
    loud = judge(render(controls, level_db=-12.0), controls, Config())
    lvl = check(loud, "level")
    assert lvl.met is False and "6.0 dB louder" in lvl.words and "conditioning strength" in loud.next_step
    assert "seed" in judge(render(controls, level_db=-12.0), controls, Config(), guidance=2.0).next_step


def test_sounding_time_needs_90_percent():
    controls = Controls(melody="C4:2 E4:2", tempo=120, loudness=-20)
    audio = render(controls, level_db=-20)
    assert check(judge(audio, controls, Config()), "sounding time").met
    audio[len(audio) // 3:] = 0                               # silent from a third of the way in
    v = judge(audio, controls, Config())
    s = check(v, "sounding time")
    assert s.met is False and "sounds for" in s.words
    assert not v.notes[1].met and v.notes[1].measured is None   # the silent note has no pitch


def test_timbre_by_the_samplers_classifier():
    controls = Controls(pitch=60.0, seconds=1.0, instrument="saw")
    audio = render(controls, "saw")
    assert check(judge(audio, controls, Config()), "timbre").met
    wrong = Controls(pitch=60.0, seconds=1.0, instrument="flute")
    t = check(judge(audio, wrong, Config()), "timbre")
    assert t.met is False and t.words == "sounds like saw, not flute"
    mix = check(judge(audio, Controls(pitch=60.0, seconds=1.0, instrument={"saw": 0.5, "flute": 0.5}), Config()), "timbre")
    assert mix.met is None                                     # a mix is reported, not judged
    short = Controls(melody="C4:0.5 E4:0.5", tempo=120, instrument="saw")
    assert check(judge(render(short, "saw"), short, Config()), "timbre").met is None


def test_a_recording_is_followed_frame_by_frame(tmp_path):
    tune = Controls(melody="G3:1 C4:1 E4:2", tempo=100)
    path = tmp_path / "voice.wav"
    sf.write(path, render(tune, "flute", level_db=-20), SR)
    follow = Controls(from_audio=str(path))
    v = judge(render(tune, "saw", level_db=-20), follow, Config())
    assert v.notes == [] and v.followed_share >= 0.9 and check(v, "pitch").met
    off = judge(render(tune, "saw", transpose=2.0, level_db=-20), follow, Config())
    assert off.followed_share < 0.2 and check(off, "pitch").met is False
    assert "followed" in check(off, "pitch").words


def test_nothing_asked_is_nothing_judged():
    v = judge(np.zeros(SR // 2, np.float32) + 1e-3, Controls(seconds=0.5), Config())
    assert v.checks == [] and v.met is None and "left free" in v.headline


def test_known_range():
    class M:
        training_info = {"train_config": {"data": "corpus"}}
    assert known_pitch_range(M()) == (48.0, 72.0)
    M.training_info = {"pitch_range": [36, 84]}
    assert known_pitch_range(M()) == (36.0, 84.0)
    M.training_info = {"train_config": {"data": "/my/folder"}}
    assert known_pitch_range(M()) is None


# ---- the command line: --out x.flac, --json with the verdict, note names ------------------------
def _cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "wavenet_core", *map(str, args)], capture_output=True, text=True)


def test_cli_generate_flac_with_verdict_json(tiny_run, tmp_path):
    out = tmp_path / "take.flac"
    r = _cli("generate", "--model", tiny_run, "--pitch", "A4", "--instrument", "saw", "--loudness", "-18",
             "--seconds", "0.6", "--seed", "2", "--out", out, "--json")
    assert r.returncode == 0, r.stderr[-800:]
    report = json.loads(r.stdout)
    take = report["takes"][0]
    assert take["file"] == str(out) and take["format"] == "flac" and take["sample_rate"] == SR
    info = sf.info(out)
    assert info.format == "FLAC" and info.subtype == "PCM_16" and info.frames == int(0.6 * SR)
    verdict = take["verdict"]
    assert {c["name"] for c in verdict["checks"]} == {"pitch", "level", "sounding time", "timbre"}
    assert verdict["notes"][0]["asked_name"] == "A4" and verdict["notes"][0]["asked"] == 69
    assert verdict["met"] in (True, False) and (verdict["met"] or verdict["next_step"])
    assert verdict["tolerances"] == {"pitch_cents": 50.0, "level_db": 3.0, "sounding_share": 0.9, "follow_share": 0.9}
    # the same samples as a WAV
    wav = tmp_path / "take.wav"
    r = _cli("generate", "--model", tiny_run, "--pitch", "69", "--instrument", "saw", "--loudness", "-18",
             "--seconds", "0.6", "--seed", "2", "--out", wav)
    assert r.returncode == 0 and "wrote" in r.stdout and "pitch:" in r.stdout
    np.testing.assert_array_equal(sf.read(wav, dtype="int16")[0], sf.read(out, dtype="int16")[0])


@pytest.mark.parametrize("args, message", [
    (["--pitch", "H4"], "--pitch: unknown note 'H4'"),
    (["--pitch", "60", "--out", "take.mp3"], "end the name in .wav or .flac"),
])
def test_cli_generate_refuses_in_one_line(tiny_run, tmp_path, args, message):
    r = _cli("generate", "--model", tiny_run, "--seconds", "0.1", *[a if a != "take.mp3" else tmp_path / a for a in args])
    assert r.returncode == 2 and r.stderr.startswith("error: ") and message in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_cli_sample_takes_note_names(tiny_run, tmp_path):
    r = _cli("sample", "--model", tiny_run, "--target", "pitch=G3..E4", "--pitch", "C4", "--seconds", "0.2",
             "--keep", "1", "--max-candidates", "2", "--no-novelty", "--out-dir", tmp_path / "picks")
    assert r.returncode == 0, r.stderr[-800:]
    assert "pitch=55..64" in r.stdout
