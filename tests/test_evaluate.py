"""Evaluation: the plan, the measurements on known audio, the summary maths, and `wavenet evaluate --quick`."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from wavenet_core.conditioning import requested_curves
from wavenet_core.data.corpus import INSTRUMENTS, PITCH_RANGE
from wavenet_core.evaluate import (MELODIES, TARGETS, check_targets, corpus_clip, format_table, measure,
                                   plan_requests, summarise)

SR, HOP = 16000, 160


def test_full_plan_covers_range_instruments_and_melodies():
    reqs = plan_requests(INSTRUMENTS, quick=False, seed=5)
    notes = [r for r in reqs if r.kind == "note"]
    pitches = sorted({r.controls.pitch for r in notes})
    assert len(pitches) >= 12 and pitches[0] == PITCH_RANGE[0] and pitches[-1] == PITCH_RANGE[1]
    assert {r.instrument for r in notes} == set(INSTRUMENTS)
    assert len(notes) == len(pitches) * len(INSTRUMENTS) and all(r.controls.seconds == 1.0 for r in notes)
    levels = {r.controls.loudness for r in notes}
    assert len(levels) >= 5 and all({r.controls.loudness for r in notes if r.instrument == i} == levels for i in INSTRUMENTS)
    melodies = [r for r in reqs if r.kind == "melody"]
    assert len(melodies) == len(MELODIES) and all(len(m.controls.melody.split()) == 8 for m in melodies)
    assert [r.seed for r in reqs] == list(range(5, 5 + len(reqs)))             # each clip its own seed
    for r in melodies:
        c = requested_curves(r.controls, SR, HOP)
        assert all(PITCH_RANGE[0] <= n.midi <= PITCH_RANGE[1] for n in c.notes)


def test_measurements_on_corpus_audio_are_exact():
    reqs = plan_requests(("organ", "flute"), quick=True, seed=0)
    for r in reqs:
        r.curves = requested_curves(r.controls, SR, HOP)
    records = []
    for r in (reqs[0], reqs[-1]):                                             # a note and a melody
        audio, labelled = corpus_clip(r, SR, HOP)
        records.append(measure(audio, labelled, SR, HOP))
    note, melody = records
    assert abs(note["cents"]) < 3 and note["voiced_fraction"] > 0.9 and not note["silent"] and not note["noise_only"]
    assert note["measured_loudness"] == pytest.approx(note["loudness"], abs=6)   # rendered at peak gain level + 3 dB
    assert len(melody["notes"]) == 8 and all(abs(n["cents"]) < 5 for n in melody["notes"])
    silence = measure(np.zeros(reqs[0].curves.n_samples, dtype=np.float32), reqs[0], SR, HOP)
    assert silence["silent"] and silence["cents"] is None
    noise = measure(np.random.default_rng(0).standard_normal(reqs[0].curves.n_samples).astype(np.float32) * 0.05,
                    reqs[0], SR, HOP)
    assert noise["noise_only"] and not noise["silent"]


def test_summary_maths_and_targets():
    notes = [{"kind": "note", "instrument": "bell", "cents": c, "loudness": lv, "measured_loudness": lv + d,
              "predicted": p, "silent": False, "noise_only": False}
             for c, lv, d, p in [(10, -30, 1, "bell"), (-20, -20, -1, "bell"), (60, -10, 2, "pluck"), (None, -25, 0, "bell")]]
    melody = {"kind": "melody", "notes": [{"cents": 5}, {"cents": -70}, {"cents": 0}, {"cents": None}],
              "silent": False, "noise_only": True}
    m = summarise(notes + [melody])
    assert m["pitch_median_cents"] == pytest.approx(40)                       # |10|, |20|, |60|, ∞ → 40
    assert m["pitch_within_50"] == pytest.approx(0.5)
    assert m["timbre_accuracy"] == pytest.approx(0.75)
    assert m["loudness_mae_db"] == pytest.approx(1.0)
    assert m["loudness_r"] == pytest.approx(np.corrcoef([-30, -20, -10, -25], [-29, -21, -8, -25])[0, 1])
    assert m["melody_within_50"] == pytest.approx(0.5) and m["melody_notes"] == 4
    assert m["failures"] == 1 and m["noise_only"] == 1 and m["clips"] == 5
    ok = check_targets(m)
    assert set(ok) == set(TARGETS) and ok["pitch_median_cents"] is False and ok["loudness_mae_db"] is True
    assert check_targets({})["timbre_accuracy"] is None


def test_evaluate_quick_cli(tiny_run, tmp_path, capsys):
    from wavenet_core.cli import main
    out = tmp_path / "report.json"
    assert main(["evaluate", "--model", str(tiny_run / "model.safetensors"), "--quick", "--seed", "3",
                 "--batch", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["model_kind"] == "wavenet" and report["quick"] is True and report["seed"] == 3
    assert report["method"] in ("fast", "reference")
    m, c = report["metrics"], report["ceiling"]
    for key in TARGETS:
        assert key in m and key in c and key in report["passed"]
        assert key in report["targets"]
    clips = report["clips"]
    assert len(clips) == m["clips"] == len(INSTRUMENTS) * 2 + 1
    assert [x["seed"] for x in clips] == list(range(3, 3 + len(clips)))
    assert {x["instrument"] for x in clips if x["kind"] == "note"} == set(INSTRUMENTS)
    assert all(x["predicted"] in INSTRUMENTS for x in clips if x["kind"] == "note")
    assert 0 <= m["pitch_within_50"] <= 1 and 0 <= m["timbre_accuracy"] <= 1 and m["loudness_mae_db"] >= 0
    assert m["failures"] == m["silent"] + m["noise_only"] <= m["clips"]
    # the ceiling: the corpus's own audio measured the same way is near perfect on pitch and melody
    assert c["pitch_median_cents"] < 5 and c["pitch_within_50"] == 1.0 and c["melody_within_50"] == 1.0
    assert c["failures"] == 0 and c["loudness_mae_db"] < 0.01
    for label in ("pitch: median error (cents)", "timbre: identified instrument", "loudness: correlation r",
                  "melody: notes within 50 cents", "silent or noise-only clips"):
        assert label in printed
    assert "≤ 25.0" in printed and "≥ 90%" in printed and "≥ 85%" in printed and f"wrote {out}" in printed
    assert report == json.loads(json.dumps(report))                           # plain JSON, no NaN
    assert format_table(report).splitlines()[0].startswith("metric")


def test_evaluate_dispatches_autoencoders(monkeypatch, tmp_path):
    import wavenet_core.checkpoint as checkpoint
    from wavenet_core.evaluate import evaluate_model
    seen = {}

    def fake_eval(model, *, seed=0, temperature=1.0, log=print):
        seen.update(model=model, seed=seed)
        return {"metrics": {"pitch": 1.0}}
    monkeypatch.setattr(checkpoint, "load_checkpoint_metadata", lambda name: {"kind": "autoencoder"})
    monkeypatch.setattr(checkpoint, "load_model", lambda name: f"loaded {name}")
    monkeypatch.setitem(sys.modules, "wavenet_core.autoencoder_eval", types.SimpleNamespace(evaluate_autoencoder=fake_eval))
    report = evaluate_model("ae", out=tmp_path / "r.json", seed=7, quick=True)
    assert seen == {"model": "loaded ae", "seed": 7}
    assert report["model_kind"] == "autoencoder" and json.loads((tmp_path / "r.json").read_text())["metrics"] == {"pitch": 1.0}
