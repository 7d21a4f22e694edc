"""Evaluation: the plan, the per-frame measurements on known audio, the classifier's reject option,
the summary and confidence-interval maths, the card table, `wavenet evaluate --quick` and the
explicit autoencoder dispatch."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from wavenet_core.data.corpus import INSTRUMENTS, PITCH_RANGE, Note, render_notes
from wavenet_core.measure.descriptors import f0_error_semitones, frame_loudness_db, loudness_l1_db, pitch_frame_metrics
from wavenet_core.measure.timbre import NONE_OF_THESE, TimbreClassifier
from wavenet_core.evaluation.common import SEED_STRIDE, combine
from wavenet_core.evaluation.evaluate import (ANCHORS, MELODIES, TARGETS, Request,
                                   card_table, check_targets, corpus_clip, format_table, measure,
                                   note_request, plan_requests, quick_plan_signature, summarise)

SR, HOP = 16000, 160


def test_plan_covers_the_range_every_instrument_and_every_row():
    runs = [plan_requests(INSTRUMENTS, SR, HOP, run=k, seed=5 + SEED_STRIDE * k) for k in range(3)]
    notes = [r for run in runs for r in run if r.row == "notes"]
    assert {r.notes[0].midi for r in notes} == set(range(PITCH_RANGE[0], PITCH_RANGE[1] + 1))   # MIDI 36–84, all of it
    assert {r.instrument for r in notes} == set(INSTRUMENTS)
    for name in INSTRUMENTS:                                           # each instrument spans the range
        ps = [r.notes[0].midi for r in notes if r.instrument == name]
        assert min(ps) <= PITCH_RANGE[0] + 3 and max(ps) >= PITCH_RANGE[1] - 3
    for k, run in enumerate(runs):
        assert [r.seed for r in run] == list(range(5 + SEED_STRIDE * k, 5 + SEED_STRIDE * k + len(run)))
        rows = [r.row for r in run]
        assert rows.count("melody") == len(MELODIES) and rows.count("free") >= 10
        stress = [r.notes[0].midi for r in run if r.row == "stress"]
        assert stress and all(30 <= p <= 35 or 85 <= p <= 90 for p in stress)
        free = [r for r in run if r.row == "free"]
        c = free[0].controls()
        assert c.instrument is None and c.pitch is None and c.loudness is None and c.f0_hz is None and c.loudness_db is None
    stress = {r.notes[0].midi for run in runs for r in run if r.row == "stress"}
    assert stress == set(range(30, 36)) | set(range(85, 91))
    for r in (r for run in runs for r in run if r.row == "melody"):
        assert len(r.notes) == 8 and all(PITCH_RANGE[0] <= n.midi <= PITCH_RANGE[1] for n in r.notes)
        assert np.all(r.f0_hz[r.loudness_db < -60] == 0) and np.any(r.f0_hz > 0)
    quick = plan_requests(INSTRUMENTS, SR, HOP, quick=True, seed=0)
    assert [r.row for r in quick].count("notes") == 2 * len(INSTRUMENTS) and [r.row for r in quick].count("melody") == 1
    assert quick_plan_signature(INSTRUMENTS, SR, HOP) == quick_plan_signature(INSTRUMENTS, SR, HOP)
    assert quick_plan_signature(INSTRUMENTS, SR, HOP) != quick_plan_signature(INSTRUMENTS[:3], SR, HOP)


def test_note_requests_follow_the_natural_envelope():
    t = lambda s: int(s * SR / HOP)                                           # noqa: E731 - frame at s seconds
    pluck = note_request("notes", "pluck", 60, -12.0, 0, SR, HOP)
    organ = note_request("notes", "organ", 60, -12.0, 0, SR, HOP)
    assert pluck.loudness_db[t(0.1)] - pluck.loudness_db[t(0.8)] > 10         # a pluck decays …
    assert abs(organ.loudness_db[t(0.2)] - organ.loudness_db[t(0.8)]) < 2     # … an organ holds
    loud = note_request("notes", "organ", 60, -6.0, 0, SR, HOP)
    assert loud.loudness_db[t(0.5)] - organ.loudness_db[t(0.5)] == pytest.approx(6.0, abs=1e-3)
    voiced = pluck.f0_hz > 0
    assert np.allclose(pluck.f0_hz[voiced], 261.6256, atol=0.01) and voiced[t(0.5)] and not voiced[0]
    c = pluck.controls()
    assert c.instrument == "pluck" and c.f0_hz is pluck.f0_hz and c.loudness_db is pluck.loudness_db


def test_frame_metrics_count_untracked_frames_as_misses():
    ref = np.array([0, 440, 440, 440, 440, 440], dtype=float)
    got = np.array([0, 440, 440 * 2 ** (0.3 / 12), 0, 440 * 2 ** (1 / 12), 220])
    err = f0_error_semitones(got, ref)
    assert np.isnan(err[0]) and np.isnan(err[3]) and err[4] == pytest.approx(1.0)
    m = pitch_frame_metrics(got, ref)
    assert m["frames"] == 5 and m["raw_pitch_accuracy"] == pytest.approx(2 / 5) and m["tracked"] == pytest.approx(4 / 5)
    assert m["mean_abs_semitones"] == pytest.approx((0 + 0.3 + 1 + 12) / 4)
    assert pitch_frame_metrics(got, ref, frames=np.array([1, 1, 1, 0, 0, 0], bool))["raw_pitch_accuracy"] == 1.0
    assert pitch_frame_metrics(np.zeros(6), ref)["mean_abs_semitones"] is None
    assert loudness_l1_db(np.array([-20.0, -30, -80]), np.array([-22.0, -27, -70])) == pytest.approx(2.5)   # -70 is silent
    assert loudness_l1_db(np.array([-20.0]), np.array([-60.0])) is None


def test_measurements_on_corpus_audio_and_on_wrong_audio():
    req = note_request("notes", "saw", 55, -12.0, 0, SR, HOP)
    ceiling = measure(corpus_clip(req, SR, HOP), req, SR, HOP)
    assert ceiling["rpa"] > 0.95 and ceiling["error_semitones"] < 0.05 and ceiling["within_50"] and not ceiling["outlier"]
    assert not ceiling["silent"] and not ceiling["noise_only"]
    # the request is the saw's envelope at MIDI 60; the corpus plays MIDI 55: close, not equal by construction
    assert 0 < ceiling["loudness_l1_db"] < 2
    sharp, _ = render_notes("saw", [Note(55.8, 0.05, 0.8, -12.0)], 1.0, SR, np.random.default_rng(0))
    off = measure(sharp, req, SR, HOP)                                        # 80 cents sharp: no frame right …
    assert off["rpa"] < 0.05 and off["error_semitones"] == pytest.approx(0.8, abs=0.05) and not off["within_50"]
    assert off["outlier"] is False                                            # … but not an outlier (≤ 1 semitone)
    wrong, _ = render_notes("saw", [Note(58.0, 0.05, 0.8, -12.0)], 1.0, SR, np.random.default_rng(0))
    assert measure(wrong, req, SR, HOP)["outlier"] is True
    quiet = measure(sharp * 0.1, req, SR, HOP)                                 # 20 dB under the request
    assert quiet["loudness_l1_db"] == pytest.approx(20 + off["loudness_l1_db"], abs=1.5)
    silence = measure(np.zeros(SR, np.float32), req, SR, HOP)
    assert silence["silent"] and silence["rpa"] == 0 and silence["outlier"]
    noise = measure(np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.05, req, SR, HOP)
    assert noise["noise_only"] and not noise["silent"] and noise["rpa"] < 0.2
    mel = next(r for r in plan_requests(("organ",), SR, HOP, quick=True) if r.row == "melody")
    rec = measure(corpus_clip(mel, SR, HOP), mel, SR, HOP)
    assert len(rec["notes"]) == 8 and all(n["within_50"] for n in rec["notes"]) and rec["rpa"] > 0.8
    free = measure(corpus_clip(req, SR, HOP), Request("free", None, 0, 1.0), SR, HOP)
    assert free["pitched"] and not measure(np.zeros(SR, np.float32), Request("free", None, 0, 1.0), SR, HOP)["pitched"]


def test_classifier_names_corpus_notes_and_rejects_noise():
    clf = TimbreClassifier(INSTRUMENTS, SR, HOP, size=120)
    rng = np.random.default_rng(1)
    right = 0
    for name in INSTRUMENTS:
        audio, _ = render_notes(name, [Note(62.0, 0.05, 0.8, -10.0)], 1.0, SR, rng)
        right += clf.identify(audio) == name
        assert clf.predict(audio) in INSTRUMENTS
    assert right >= 4
    noise = rng.standard_normal(SR).astype(np.float32) * 0.05
    assert clf.predict(noise) in INSTRUMENTS                                  # the nearest instrument …
    assert clf.identify(noise) == NONE_OF_THESE                               # … but not one of them
    assert clf.identify(np.zeros(SR, np.float32)) == NONE_OF_THESE
    assert clf.identify(audio, voiced_fraction=0.1) == NONE_OF_THESE


def _note(inst, rpa, err, outlier, within, loud, pred, silent=False, noise=False, row="notes"):
    return {"row": row, "instrument": inst, "rpa": rpa, "error_semitones": err, "outlier": outlier, "within_50": within,
            "loudness_l1_db": loud, "predicted": pred, "silent": silent, "noise_only": noise}


def test_summary_maths_targets_and_confidence_interval():
    recs = [_note("bell", 1.0, 0.1, False, True, 1.0, "bell"), _note("bell", 0.5, 0.3, False, True, 3.0, "pluck"),
            _note("pluck", 0.0, None, True, False, 30.0, NONE_OF_THESE, silent=True),
            _note("pluck", 0.9, 2.0, True, False, 2.0, "pluck"),
            {"row": "melody", "instrument": "bell", "rpa": 0.8, "silent": False, "noise_only": True,
             "notes": [{"within_50": True}, {"within_50": False}]},
            _note("bell", 0.2, 0.5, False, False, 9.0, None, row="stress"),
            {"row": "free", "pitched": True}, {"row": "free", "pitched": False}, {"row": "free", "pitched": False}]
    m = summarise(recs)
    assert m["pitch_rpa"] == pytest.approx(0.6) and m["pitch_rpa_by_instrument"] == pytest.approx({"bell": 0.75, "pluck": 0.45})
    assert m["pitch_rpa_worst_instrument"] == pytest.approx(0.45)
    assert m["pitch_error_semitones"] == pytest.approx(0.2)                  # outliers apart, as DDSP
    assert m["pitch_outlier_share"] == 0.5 and m["pitch_notes_within_50"] == 0.5
    assert m["timbre_accuracy"] == 0.5 and m["timbre_none_share"] == 0.25
    assert m["loudness_l1_db"] == pytest.approx(2.0) and m["loudness_l1_db_with_failures"] == pytest.approx(9.0)
    assert m["failures"] == 2 and m["silent"] == 1 and m["noise_only"] == 1     # a note and a melody
    assert m["melody_notes_within_50"] == 0.5 and m["melody_rpa"] == 0.8
    assert m["stress_rpa"] == 0.2 and m["stress_failures"] == 0 and m["free_pitched_share"] == pytest.approx(1 / 3)
    mean, ci = combine([{"a": 0.5, "b": None, "d": {"x": 1.0}}, {"a": 0.7, "b": None, "d": {"x": 2.0}},
                        {"a": 0.9, "b": None, "d": {"x": 3.0}}])
    assert mean["a"] == pytest.approx(0.7) and ci["a"] == pytest.approx(4.303 * 0.2 / np.sqrt(3))
    assert mean["b"] is None and ci["b"] is None and mean["d"]["x"] == 2.0
    assert combine([{"a": 1.0}])[1]["a"] is None                              # one run: no interval
    ok = check_targets({"pitch_rpa": 0.96, "loudness_l1_db": 2.5, "failures": 0})
    assert set(ok) == set(TARGETS) and ok["pitch_rpa"] and ok["loudness_l1_db"] is False and ok["failures"]
    assert ok["timbre_accuracy"] is None


def test_card_table_shows_ci_ceiling_and_anchors():
    report = {"seeds": [0, 1000, 2000], "metrics": {"pitch_rpa": 0.5, "pitch_error_semitones": 0.6, "timbre_vs_ceiling": 0.4,
                                                    "pitch_notes_within_50": 0.4, "failures": 2.0},
              "ci95": {"pitch_rpa": 0.05, "pitch_error_semitones": 0.1, "timbre_vs_ceiling": 0.1,
                       "pitch_notes_within_50": 0.2, "failures": 1.0},
              "ceiling": {"pitch_rpa": 0.999, "pitch_error_semitones": 0.01, "timbre_vs_ceiling": 1.0,
                          "pitch_notes_within_50": 1.0, "failures": 0.0}}
    report["passed"] = check_targets(report["metrics"])
    table = card_table(report)
    lines = table.splitlines()
    assert lines[0].startswith("| metric | target | model (mean ± 95 % CI, 3 seeds) | corpus ceiling | published anchor | met |")
    assert len(lines) == 2 + 5
    row = next(x for x in lines if x.startswith("| pitch: voiced frames"))
    assert "≥ 95.0 %" in row and "50.0 ± 5.0 %" in row and "99.9 %" in row and row.endswith("| **no** |")
    assert ANCHORS["pitch_error_semitones"] in table and ANCHORS["pitch_notes_within_50"] in table
    vs = next(x for x in lines if x.startswith("| timbre: share of the corpus ceiling"))
    assert vs.split("|")[4].strip() == "—"                                    # 1.00 by construction: not shown
    assert "2.0 ± 1.0" in table
    assert format_table(report).startswith(table)


def test_evaluate_quick_cli(tiny_run, tmp_path, capsys):
    from wavenet_core.cli import main
    from wavenet_core.evaluation.evaluate import main as card_main
    out = tmp_path / "report.json"
    assert main(["evaluate", "--model", str(tiny_run / "model.safetensors"), "--quick", "--seed", "3",
                 "--batch", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["model_kind"] == "wavenet" and report["plan"] == "quick" and report["seeds"] == [3]
    assert report["method"] in ("fast", "reference")
    m, c = report["metrics"], report["ceiling"]
    for key in TARGETS:
        assert key in m and key in report["passed"] and key in report["targets"]
    clips = report["clips"]
    assert len(clips) == m["clips"] == len(INSTRUMENTS) * 2 + 1
    assert [x["seed"] for x in clips] == list(range(3, 3 + len(clips)))
    assert {x["instrument"] for x in clips if x["row"] == "notes"} == set(INSTRUMENTS)
    assert all(x["predicted"] in INSTRUMENTS + (NONE_OF_THESE,) for x in clips if x["row"] == "notes")
    assert 0 <= m["pitch_rpa"] <= 1 and 0 <= m["timbre_accuracy"] <= 1 and m["failures"] == m["silent"] + m["noise_only"]
    # the ceiling: the corpus playing the same requests, measured the same way — near perfect on pitch,
    # but its loudness is measured, not copied from the request
    assert c["pitch_rpa"] > 0.95 and c["melody_notes_within_50"] == 1.0 and c["failures"] == 0
    assert 0 < c["loudness_l1_db"] < 2 and c["timbre_accuracy"] >= 0.5
    q = report["quick"]
    assert q["seed"] == 3 and q["metrics"] == m and q["plan"] == quick_plan_signature(INSTRUMENTS, SR, HOP)
    assert "| metric | target |" in printed and "pitch: voiced frames within 50 cents" in printed
    assert f"wrote {out}" in printed
    assert report == json.loads(json.dumps(report))                           # plain JSON, no NaN
    assert card_main(["--card", str(out)]) == 0
    assert capsys.readouterr().out.startswith("| metric | target | model (1 seed) |")
    assert card_main(["--card", str(tmp_path / "missing.json")]) == 2


def test_evaluate_dispatches_autoencoders_explicitly(monkeypatch, tmp_path, capsys):
    import wavenet_core.model.checkpoint as checkpoint
    from wavenet_core.cli import main
    from wavenet_core.evaluation.evaluate import evaluate_model
    seen = {}

    def fake_eval(model, *, seed=0, quick=False, temperature=1.0, method=None, log=print):
        seen.update(model=model, seed=seed, quick=quick, temperature=temperature, method=method)
        return {"metrics": {"pitch": 1.0}}
    monkeypatch.setattr(checkpoint, "load_checkpoint_metadata", lambda name: {"kind": "autoencoder"})
    monkeypatch.setattr(checkpoint, "load_model", lambda name: f"loaded {name}")
    monkeypatch.setitem(sys.modules, "wavenet_core.evaluation.autoencoder", types.SimpleNamespace(evaluate_autoencoder=fake_eval))
    report = evaluate_model("ae", out=tmp_path / "r.json", seed=7, quick=True, temperature=0.9, method="reference")
    assert seen == {"model": "loaded ae", "seed": 7, "quick": True, "temperature": 0.9, "method": "reference"}
    assert report["model_kind"] == "autoencoder" and json.loads((tmp_path / "r.json").read_text())["metrics"] == {"pitch": 1.0}
    for extra, flag in (({"batch": 4}, "--batch"), ({"guidance": 2.0}, "--guidance"), ({"save_audio": tmp_path}, "--save-audio")):
        with pytest.raises(ValueError, match=flag):
            evaluate_model("ae", **extra)
    assert main(["evaluate", "--model", "ae", "--guidance", "2", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --guidance") and not (tmp_path / "x.json").exists()


# ---- models trained on the SoundFont -------------------------------------------------------------
def _fake_model(data: str, names: tuple[str, ...]):
    config = types.SimpleNamespace(local_dim=6, instrument_names=list(names), n_instruments=len(names),
                                   sample_rate=SR, hop_length=HOP)
    return types.SimpleNamespace(config=config, training_info={"train_config": {"data": data, "soundfont": ""}})


def test_plan_source_follows_the_checkpoints_training_data():
    from wavenet_core.data.soundfont import INSTRUMENT_NAMES
    from wavenet_core.evaluation.evaluate import CorpusPlan, SoundFontPlan, plan_source
    corpus = plan_source(_fake_model("corpus", INSTRUMENTS))
    assert isinstance(corpus, CorpusPlan) and corpus.names == INSTRUMENTS
    assert isinstance(plan_source(types.SimpleNamespace(config=_fake_model("corpus", INSTRUMENTS).config)), CorpusPlan)
    sf = plan_source(_fake_model("soundfont", INSTRUMENT_NAMES[:3]), instruments=(INSTRUMENT_NAMES[2], INSTRUMENT_NAMES[0]))
    assert isinstance(sf, SoundFontPlan) and sf.names == (INSTRUMENT_NAMES[0], INSTRUMENT_NAMES[2])
    with pytest.raises(ValueError, match="not SoundFont instruments"):
        plan_source(_fake_model("soundfont", ("pluck", "piano")))
    with pytest.raises(ValueError, match="not among"):
        plan_source(_fake_model("soundfont", ("piano",)), instruments=("violin",))
    with pytest.raises(ValueError, match="knows none"):
        plan_source(_fake_model("corpus", ("piano", "violin")))


def test_soundfont_plan_plays_each_instrument_in_its_natural_range():
    from wavenet_core.data.soundfont import SOUNDFONT_INSTRUMENTS
    from wavenet_core.evaluation.evaluate import SF_VELOCITIES, SoundFontPlan
    names = ("piano", "marimba", "electric bass", "violin", "trumpet", "flute")     # one per family, wide and narrow
    source = SoundFontPlan(names, SR, HOP)
    ranges = {i.name: (i.low, i.high) for i in SOUNDFONT_INSTRUMENTS}
    runs = [plan_requests(names, SR, HOP, run=k, seed=SEED_STRIDE * k, source=source) for k in range(3)]
    notes = [r for run in runs for r in run if r.row == "notes"]
    for name in names:
        lo, hi = ranges[name]
        keys = source.keys(name)
        ps = sorted({r.notes[0].midi for r in notes if r.instrument == name})
        assert ps and all(lo <= p <= hi and p in keys for p in ps)                  # inside the natural range …
        assert ps[0] <= keys[0] + 5 and ps[-1] >= keys[-1] - 5                      # … and across it
    for r in notes[:20]:
        voiced = r.f0_hz > 0
        assert r.velocity in SF_VELOCITIES and voiced.sum() > 20
        assert np.allclose(r.f0_hz[voiced], 440.0 * 2 ** ((r.notes[0].midi - 69) / 12), rtol=1e-4)   # exact label
        np.testing.assert_allclose(r.loudness_db, frame_loudness_db(r.source_audio, HOP))           # the render's level
    for r in (r for run in runs for r in run if r.row == "melody"):
        lo, hi = ranges[r.instrument]
        assert len(r.notes) == 8 and all(lo <= n.midi <= hi for n in r.notes) and r.transpose % 12 == 0
    run = runs[0]
    assert not any(r.row == "stress" for r in run) and sum(r.row == "free" for r in run) >= 10
    vel = [r for r in run if r.row == "velocity"]
    assert len(vel) == 3 * len(names) and {r.velocity for r in vel} == set(SF_VELOCITIES)
    transfer = {r.instrument: r for r in run if r.row == "transfer"}
    assert set(transfer) == set(names)
    for name, r in transfer.items():           # the recording moved by octaves into the instrument's range
        lo, hi = ranges[name]
        midi = 12 * np.log2(r.f0_hz[r.f0_hz > 0] / 440.0) + 69
        assert r.transpose % 12 == 0 and np.mean((midi >= lo - 1) & (midi <= hi + 1)) > 0.8
        c = r.controls()
        assert c.instrument == name and c.f0_hz is r.f0_hz and r.from_audio.endswith("melody.flac")
    quick = plan_requests(names, SR, HOP, quick=True, source=source)
    rows = [r.row for r in quick]
    assert rows.count("notes") == 2 * len(names) and rows.count("melody") == 1
    assert rows.count("velocity") == 3 * 4 < 3 * len(names) and rows.count("transfer") == 4
    corpus_quick = plan_requests(INSTRUMENTS, SR, HOP, quick=True)
    assert quick_plan_signature(names, SR, HOP, source) != quick_plan_signature(INSTRUMENTS, SR, HOP)
    assert not any(r.row in ("velocity", "transfer") for r in corpus_quick)   # frozen by notes' shipped eval.json


def test_velocity_and_transfer_summaries():
    vel = [{"row": "velocity", "instrument": i, "velocity": v, "level_db": lv, "brightness_hz": b,
            "silent": False, "noise_only": False}
           for i, rows in (("a", ((40, -30, 900), (80, -20, 1200), (120, -12, 1500))),
                           ("b", ((120, -10, 800), (40, -25, 1000), (80, -18, 900))))   # b: darker when louder
           for v, lv, b in rows]
    tr = [{"row": "transfer", "instrument": "a", "followed": 0.9, "silent": False, "noise_only": False},
          {"row": "transfer", "instrument": "b", "followed": None, "silent": False, "noise_only": True}]
    m = summarise(vel + tr)
    assert m["velocity_level_monotone"] == 1.0 and m["velocity_brightness_monotone"] == 0.5
    assert m["velocity_level_span_db"] == pytest.approx((18 + 15) / 2)
    assert m["transfer_rpa"] == pytest.approx(0.45) and m["transfer_rpa_worst_instrument"] == 0.0
    assert m["failures"] == 1 and m["velocity_clips"] == 6 and m["transfer_clips"] == 2
    assert summarise([])["velocity_level_monotone"] is None


def test_evaluate_a_model_trained_on_the_soundfont(tmp_path):
    from conftest import pinned
    from wavenet_core import load_model
    from wavenet_core.data.soundfont import SOUNDFONT_INSTRUMENTS
    from wavenet_core.evaluation.evaluate import SF_VELOCITIES, SoundFontPlan, evaluate_wavenet, plan_source
    from wavenet_core.training.train import TrainConfig, train
    cfg = TrainConfig(out=str(tmp_path / "run"), data="soundfont", preset="tiny", steps=10, batch_size=4, segment=1600,
                      corpus_size=16, corpus_seconds=1.0, val_every=10, val_batches=1, checkpoint_every=10, lr=1e-2,
                      warmup=2, seed=0)
    with pinned(cfg.seed):
        train(cfg, log=lambda *a: None, progress=False)
    model = load_model(tmp_path / "run" / "model.safetensors")
    assert isinstance(plan_source(model), SoundFontPlan) and len(plan_source(model).names) == len(SOUNDFONT_INSTRUMENTS)
    names = ("piano", "violin")
    report = evaluate_wavenet(model, quick=True, seed=2, batch=3, instruments=names, classifier_size=40,
                              save_audio=tmp_path / "clips", log=lambda *a: None)
    assert report["data"] == "soundfont" and report["soundfont"].endswith(".sf2") and report["instruments"] == list(names)
    assert report["batch"] == 3 and report["recording"]["licence"] == "BSD-3-Clause"
    clips, m, c = report["clips"], report["metrics"], report["ceiling"]
    assert len(list((tmp_path / "clips").glob("*.wav"))) == len(clips) == m["clips"]     # --save-audio honoured
    ranges = {i.name: (i.low, i.high) for i in SOUNDFONT_INSTRUMENTS}
    for x in clips:
        if x["row"] in ("notes", "velocity"):
            assert ranges[x["instrument"]][0] <= x["pitch"] <= ranges[x["instrument"]][1]
        if x["row"] == "notes":
            assert x["predicted"] in names + (NONE_OF_THESE,)
    assert sorted(x["velocity"] for x in clips if x["row"] == "velocity") == sorted(SF_VELOCITIES * 2)
    assert {x["instrument"] for x in clips if x["row"] == "transfer"} == set(names)
    for key in TARGETS:
        assert key in m and key in report["passed"]
    for key in ("pitch_rpa", "timbre_accuracy", "velocity_level_monotone", "velocity_brightness_monotone", "transfer_rpa"):
        assert 0 <= m[key] <= 1
    assert m["failures"] == m["silent"] + m["noise_only"] <= m["clips"]
    # the ceiling: the SoundFont's own renders measured the same way (its loudness is the request's)
    assert c["pitch_rpa"] > 0.9 and c["melody_notes_within_50"] >= 0.875 and c["failures"] == 0
    assert c["velocity_level_monotone"] == 1.0 and c["velocity_brightness_monotone"] == 1.0
    assert c["timbre_accuracy"] >= 0.5 and c["transfer_rpa"] is None and c["loudness_l1_db"] < 1e-6
    table = format_table(report)
    assert "velocity 40/80/120: brightness rises" in table and "transfer: recording's voiced frames" in table
    assert "quick plan on the soundfont" in table


def test_classifier_corpus_is_named_by_the_instruments():
    from wavenet_core.measure.timbre import classifier_corpus
    assert classifier_corpus(INSTRUMENTS[:2]) == "notes" and classifier_corpus(("piano", "violin")) == "soundfont"
    with pytest.raises(ValueError, match="no corpus plays"):
        classifier_corpus(("pluck", "piano"))


def test_measuring_in_several_processes_gives_the_same_records():
    """`wavenet evaluate --jobs 2` spreads pitch tracking over processes; the records must not change."""
    from wavenet_core.evaluation.evaluate import measure_all
    reqs = [note_request("notes", inst, midi, -12.0, 0, SR, HOP) for inst, midi in (("saw", 55), ("organ", 62), ("pluck", 48))]
    items = [(corpus_clip(r, SR, HOP), r, True) for r in reqs]
    items.append((np.zeros(SR, np.float32), reqs[0], False))
    one = measure_all(items, SR, HOP, None, jobs=1)
    two = measure_all(items, SR, HOP, None, jobs=2)
    assert json.dumps(one, sort_keys=True, default=str) == json.dumps(two, sort_keys=True, default=str)
    assert one[0]["within_50"] and one[-1]["silent"]
