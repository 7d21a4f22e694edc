"""Regression guard: a quick evaluation of the shipped `notes` model against the figures its own
``eval.json`` stores for the same quick plan and seed (written by `wavenet evaluate --model notes
--out assets/models/notes/eval.json`). Pitch accuracy, timbre and loudness must not fall well below
them (margins in ``evaluate.guard_limits``).

The guard has to be able to fail: the second test feeds the shipped model deliberately wrong
features — in memory, through ``regression_guard``'s ``transform`` — and checks that it turns red.
Nothing here writes a file.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from wavenet_core.evaluation.evaluate import regression_guard

SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "models" / "notes"


@pytest.fixture(scope="module")
def shipped():
    from wavenet_core import load_model
    report = json.loads((SHIPPED / "eval.json").read_text())
    if not isinstance(report.get("quick"), dict):
        pytest.fail("assets/models/notes/eval.json has no quick-plan figures for the guard; write them with "
                    "`wavenet evaluate --model notes --out assets/models/notes/eval.json`")
    return load_model("notes"), report


def test_shipped_model_keeps_its_quick_figures(shipped):
    model, report = shipped
    result = regression_guard(model, report)
    assert set(result["limits"]) == {"pitch_rpa", "timbre_accuracy", "loudness_l1_db"}
    assert result["failures"] == [], "; ".join(result["failures"])


def _feature_order_slip(inputs):
    """The local features in reverse row order (loudness where pitch belongs, and so on)."""
    return dataclasses.replace(inputs, local_cond=inputs.local_cond.flip(1))


def _normalisation_slip(inputs):
    """Raw units: pitch in semitones from C4 (not octaves), loudness in dB (not (dB + 40) / 20) and the
    excitation's f0 in kHz (not Hz)."""
    local = inputs.local_cond.clone()
    local[:, 1] *= 12
    local[:, 4] = local[:, 4] * 20 - 40
    f0 = None if inputs.f0_hz is None else inputs.f0_hz / 1000
    return dataclasses.replace(inputs, local_cond=local, f0_hz=f0)


@pytest.mark.parametrize("slip", [_feature_order_slip, _normalisation_slip], ids=["feature-order", "normalisation"])
def test_guard_turns_red_on_a_feature_slip(shipped, slip):
    model, report = shipped
    result = regression_guard(model, report, transform=slip)
    broken = {line.split(" ")[0] for line in result["failures"]}
    assert broken & {"pitch_rpa", "loudness_l1_db"}, f"the guard missed the slip: {result['metrics']}"
