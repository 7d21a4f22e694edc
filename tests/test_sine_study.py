"""benchmarks/sine_study.py: the four variants are causal, (d)'s tap follows f0, the study's own
generator gives generate()'s samples, and ``--quick`` runs end to end."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ss():
    spec = importlib.util.spec_from_file_location("sine_study", REPO / "benchmarks" / "sine_study.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sine_study"] = module          # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _model(ss, variant: str, seed: int = 0):
    """A tiny untrained variant; (c)'s masks get random weights (zero at init would hide them)."""
    torch.manual_seed(seed)
    model = ss.build_variant(variant, ss.variant_config(variant, quick=True)).eval()
    for name, p in model.named_parameters():
        if ".mask." in name:
            torch.nn.init.normal_(p, std=0.5)
    return model


def _inputs(ss, model, pitches=(45.0, 70.0), seconds: float = 0.05):
    from wavenet_core.controls.conditioning import Controls, model_inputs
    names = model.config.instrument_names
    return ss.concat_inputs([model_inputs(Controls(seconds=seconds, instrument=names[i % len(names)], pitch=p,
                                                   loudness=-12), model.config) for i, p in enumerate(pitches)])


def _logits(model, x, inputs):
    return model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=inputs.f0_hz, phase0=inputs.phase0)


@pytest.mark.parametrize("variant", ["frames", "sine_add", "sine_mask", "period_tap"])
def test_variant_is_causal(ss, variant):
    """Changing x at t0 leaves logits[..., :t0 + 1] (the predictions of x[:t0 + 1]) untouched and
    changes the very next prediction."""
    model = _model(ss, variant)
    inputs = _inputs(ss, model)
    x = torch.randint(0, 256, (2, inputs.n_samples), generator=torch.Generator().manual_seed(1))
    t0 = 500
    y = x.clone()
    y[:, t0] = (y[:, t0] + 128) % 256
    with torch.no_grad():
        a, b = _logits(model, x, inputs), _logits(model, y, inputs)
    assert torch.equal(a[..., : t0 + 1], b[..., : t0 + 1])
    assert (a[..., t0 + 1] - b[..., t0 + 1]).abs().max() > 1e-4


@pytest.mark.parametrize("variant", ["sine_mask", "period_tap"])
def test_subclasses_read_x_in_as_the_past(ss, variant):
    """Training's noisy past (``x_in``) is what the subclasses read, as ``WaveNet.forward`` does."""
    model = _model(ss, variant)
    inputs = _inputs(ss, model, seconds=0.02)
    g = torch.Generator().manual_seed(5)
    x, y = torch.randint(0, 256, (2, inputs.n_samples), generator=g), torch.randint(0, 256, (2, inputs.n_samples), generator=g)
    with torch.no_grad():
        noisy = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=inputs.f0_hz, x_in=y)
        assert torch.equal(noisy, _logits(model, y, inputs))
        assert not torch.equal(noisy, _logits(model, x, inputs))


def test_period_lag_follows_f0(ss):
    """round(sr / f0) per sample, f0 held per frame; 1 where unvoiced; clamped to sr // 50; the last
    frame holds past the end."""
    f0 = torch.tensor([[0.0, 100.0, 200.0, 441.0, 10.0]])
    lag = ss.period_lag(f0, length=22, hop=4, sample_rate=16000)
    expected = [1] * 4 + [160] * 4 + [80] * 4 + [36] * 4 + [320] * 6      # 16000 / 441 = 36.3; 10 Hz → 320 cap
    assert lag.tolist() == [expected]
    h = torch.arange(10.0).reshape(1, 1, 10)
    out = ss.lagged(h, torch.tensor([[1, 1, 2, 2, 3, 3, 12, 1, 5, 9]]))
    assert out.tolist() == [[[0, 0, 0, 1, 1, 2, 0, 6, 3, 0]]]        # h[t − lag], zero before the start


def test_period_tap_reaches_one_period_back(ss):
    """(d) with a 100 Hz request (lag 160 samples, receptive field 15): a change at t0 reaches the
    logits right after it and again one period later, and nowhere in between."""
    from wavenet_core.controls.conditioning import encode_local
    model = _model(ss, "period_tap")
    rf = model.config.receptive_field
    n = 1280
    frames = n // model.config.hop_length
    local = torch.from_numpy(encode_local(np.full(frames, 100.0), np.full(frames, -12.0)))[None]
    inst = torch.zeros(1, dtype=torch.long)
    x = torch.randint(0, 256, (1, n), generator=torch.Generator().manual_seed(2))
    t0 = 400
    y = x.clone()
    y[:, t0] = (y[:, t0] + 128) % 256
    with torch.no_grad():
        diff = (model(x, instrument=inst, local_cond=local) - model(y, instrument=inst, local_cond=local)).abs().amax(1)[0]
    changed = set(torch.nonzero(diff > 0).flatten().tolist())
    assert changed and min(changed) == t0 + 1
    assert not changed & set(range(t0 + rf + 1, t0 + 160))          # beyond the dilated reach, before one period
    assert changed & set(range(t0 + 160, t0 + 160 + rf + 1))        # one period later, through the tap
    assert max(changed) <= t0 + 160 + rf
    # and the same request at 200 Hz moves the echo to 80 samples
    local2 = torch.from_numpy(encode_local(np.full(frames, 200.0), np.full(frames, -12.0)))[None]
    with torch.no_grad():
        diff2 = (model(x, instrument=inst, local_cond=local2) - model(y, instrument=inst, local_cond=local2)).abs().amax(1)[0]
    changed2 = set(torch.nonzero(diff2 > 0).flatten().tolist())
    assert changed2 & set(range(t0 + 80, t0 + 80 + rf + 1)) and not changed2 & set(range(t0 + 160, n))


def test_mask_starts_as_identity(ss):
    """(c) at initialisation ignores the excitation (W_l = 0, so the mask is 1); with weights it does not."""
    torch.manual_seed(0)
    model = ss.build_variant("sine_mask", ss.variant_config("sine_mask", quick=True)).eval()
    inputs = _inputs(ss, model, pitches=(57.0,))
    x = torch.randint(0, 256, (1, inputs.n_samples), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = _logits(model, x, inputs)
        b = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=inputs.f0_hz * 1.5)
        assert torch.equal(a, b)
        for layer in model.layers:
            torch.nn.init.normal_(layer.mask.weight, std=0.5)
        c = _logits(model, x, inputs)
        d = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=inputs.f0_hz * 1.5)
    assert (c - d).abs().max() > 1e-3


@pytest.mark.parametrize("variant", ["frames", "sine_add", "sine_mask", "period_tap"])
def test_study_generators_match_reference(ss, variant):
    """The incremental generator computes forward's logits (teacher-forced), and both study
    generators sample what generate(method="reference") samples."""
    from wavenet_core.generation.generate import generate
    model = _model(ss, variant)
    inputs = _inputs(ss, model, seconds=0.03)
    x = torch.randint(0, 256, (2, inputs.n_samples), generator=torch.Generator().manual_seed(4))
    _, forced = ss.incremental_run(model, inputs, forced=x)
    with torch.no_grad():
        torch.testing.assert_close(forced, _logits(model, x, inputs), atol=1e-5, rtol=1e-5)
    ref = generate(model, inputs, temperature=1.0, seed=7, method="reference")
    np.testing.assert_array_equal(ss.incremental_generate(model, inputs, 1.0, 7), ref)
    np.testing.assert_array_equal(ss.windowed_generate(model, inputs, 1.0, 7), ref)


def test_quick_study_end_to_end(ss, tmp_path, capsys):
    """``--quick``: four trained variants, a table, a JSON with every metric, loadable weights."""
    out = tmp_path / "study" / "results.json"
    ss.main(["--quick", "--out", str(out)])
    table = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert list(results["variants"]) == list(ss.VARIANTS)
    for variant, r in results["variants"].items():
        assert r["label"] in table
        assert r["steps"] == results["settings"]["steps"] == ss.QUICK["steps"]   # equal budget
        assert 0 <= r["within_50"] <= 1 and 0 <= r["voiced_share"] <= 1 and np.isfinite(r["val_loss"])
        assert r["clips"] == len(results["requests"]) and r["frames"] > 0
        audio = ss.example_audio(results, variant)
        assert len(audio) == round(ss.example_request(results)["seconds"] * 16000)
        loaded_variant, model = ss.load_variant(out.parent / f"{variant}.safetensors")
        assert loaded_variant == variant and model.n_parameters == r["parameters"]
    assert type(ss.load_variant(out.parent / "period_tap.safetensors")[1]).__name__ == "PeriodTapWaveNet"
    assert type(ss.load_variant(out.parent / "sine_mask.safetensors")[1]).__name__ == "SineMaskWaveNet"
    # the mask left identity would make (c) a copy of (a) with fewer inputs: training moved it
    _, masked = ss.load_variant(out.parent / "sine_mask.safetensors")
    assert any(layer.mask.weight.abs().max() > 0 for layer in masked.layers)


def test_merge_keeps_study_order_and_refuses_unequal_budgets(ss):
    part = {"settings": {"steps": 400, "segment": 1600}, "requests": [], "command": "x"}
    a = {**part, "variants": {"period_tap": {"label": "d"}}}
    b = {**part, "variants": {"frames": {"label": "a"}, "sine_add": {"label": "b"}}}
    assert list(ss.merge_results([a, b])["variants"]) == ["frames", "sine_add", "period_tap"]
    with pytest.raises(ValueError, match="steps"):
        ss.merge_results([a, {**b, "settings": {"steps": 300, "segment": 1600}}])


def test_shipped_results_are_complete(ss):
    """The figures the README and notebook 02 quote: all four variants, every metric, an example each."""
    if not ss.SHIPPED.is_file():
        pytest.skip("no study shipped yet: run benchmarks/sine_study.py and copy its results.json there")
    results = json.loads(ss.SHIPPED.read_text())
    assert list(results["variants"]) == list(ss.VARIANTS)
    assert not results["settings"]["quick"]
    for variant, r in results["variants"].items():
        for key in ("within_50", "mean_abs_semitones", "voiced_share", "val_loss", "parameters", "steps"):
            assert key in r, (variant, key)
        assert len(ss.example_audio(results, variant)) == round(ss.example_request(results)["seconds"] * 16000)
    assert len({r["steps"] for r in results["variants"].values()}) == 1
    assert ss.format_table(results).count("\n") == 1 + len(ss.VARIANTS)
