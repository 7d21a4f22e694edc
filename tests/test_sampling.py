"""Rejection sampling (wavenet_core/controls/sampling/): targets, budgets, early rejection, novelty, CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_core.generation import fast
from wavenet_core.measure.descriptors import describe
from wavenet_core.generation.inputs import stream_uniforms
from wavenet_core.generation.generate import generate
from wavenet_core.model.wavenet import WaveNet, preset_config
from wavenet_core.model.mulaw import SILENCE_CLASS
from wavenet_core.controls.sampling import (PREFIX_SAFE, TARGET_NAMES, Goal, NoveltyIndex, PrefixJudge, RejectionSampler,
                                   Target, compare_control_methods, corpus_params_for, failed_targets, parse_target,
                                   parse_targets)

SECONDS = 0.25          # short candidates keep the tests fast


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def free_run(model):
    """Eight complete candidates with nothing rejected: what the tiny model makes (noise near -20 dB)."""
    return RejectionSampler(model, ["loudness=-80..0"], seconds=SECONDS, keep=8, max_candidates=8, batch=8,
                            threads=1, seed=100).run()


# ---- targets -------------------------------------------------------------------------------------
def test_parse_target_forms():
    assert parse_target("pitch=55..62") == Target("pitch", 55, 62)
    assert parse_target("pitch=G3..D4") == Target("pitch", 55, 62)
    assert parse_target(" Loudness = -20.. ") == Target("loudness", -20, math.inf)
    assert parse_target("sounding-seconds=..0.5") == Target("sounding_seconds", -math.inf, 0.5)
    assert parse_target("novelty=0.5..") == Target("novelty", 0.5, math.inf)
    assert parse_target("timbre=Bell", ["pluck", "bell"]) == Target("timbre", label="bell")
    assert str(parse_target("brightness=800..2000")) == "brightness=800..2000"
    t = parse_target("noisiness=0..0.05")
    assert t.contains(0.05) and t.contains(0) and not t.contains(0.06) and not t.contains(None)
    assert t.gap(0.02) == 0 and t.gap(0.15) == pytest.approx(1.0)          # noisiness scale is 0.1
    assert set(PREFIX_SAFE) == {"loudness", "noisiness", "sounding_seconds"}


@pytest.mark.parametrize("text, match", [
    ("colour=1..2", "valid names: " + ", ".join(TARGET_NAMES)),
    ("pitch", "NAME=LOW..HIGH"),
    ("pitch=62..55", "inverted"),
    ("pitch=60..60", "empty"),
    ("pitch=..", "no bounds"),
    ("pitch=60", "range LOW..HIGH"),
    ("loudness=a..-3", "not a number"),
    ("loudness=5..10", "can never be met"),
    ("pitch=1..2..3", "one '..'"),
    ("pitch=H9..C4", "unknown note"),
    ("timbre=", "name an instrument"),
])
def test_bad_targets_are_refused_in_one_line(text, match):
    with pytest.raises(ValueError, match=match) as e:
        parse_target(text)
    assert "\n" not in str(e.value)


def test_bad_target_sets_are_refused(model):
    with pytest.raises(ValueError, match="given twice"):
        parse_targets(["pitch=50..60", "pitch=55..65"])
    with pytest.raises(ValueError, match="unknown instrument 'banjo'; choose from: pluck"):
        RejectionSampler(model, ["timbre=banjo"], seconds=SECONDS)
    with pytest.raises(ValueError, match="never be met by 0.25 s clips"):
        RejectionSampler(model, ["sounding_seconds=0.5.."], seconds=SECONDS)
    with pytest.raises(ValueError, match="novelty index"):
        RejectionSampler(model, ["novelty=1.."], seconds=SECONDS)
    with pytest.raises(ValueError, match="max_candidates"):
        RejectionSampler(model, ["pitch=50..60"], max_candidates=0)


# ---- the fast generator's stop= hook ----------------------------------------------------------------
def test_fast_stop_hook_keeps_other_streams_exact(monkeypatch):
    """Stopped streams are compacted away and the others carry on from their exact state. Streams
    are stopped 4 at a time on one thread, so every running stream stays in the kernel's blocks of
    4 (a lone stream is rounded differently: see fast_classes) and must match the unstopped run."""
    torch.manual_seed(0)
    net = WaveNet(preset_config("tiny", local_dim=6, n_instruments=3, context_layers=3, context_hop=64)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    b, n = 12, 1500
    g = torch.Generator().manual_seed(1)
    from wavenet_core.generation.inputs import ModelInputs
    inputs = ModelInputs(n, instrument=torch.arange(b) % 4, local_cond=torch.randn(b, 6, n // 160 + 2, generator=g))
    u = stream_uniforms(range(10, 10 + b), n)
    monkeypatch.setattr(fast, "_CHUNK_WORK", 1400)
    full = fast.fast_classes(net, inputs, u, 1.0, threads=1)
    plan = {2: [0, 3, 7, 11], 5: [1, 6, 9, 10]}          # call number → streams stopped then
    kept = [2, 4, 5, 8]
    calls = []

    def stop(t, classes):
        calls.append(t)
        np.testing.assert_array_equal(classes[:, :t][kept], full[kept, :t])
        halt = np.zeros(b, dtype=bool)
        halt[plan.get(len(calls), [])] = True
        return halt

    got = fast.fast_classes(net, inputs, u, 1.0, threads=1, stop=stop)
    np.testing.assert_array_equal(got[kept], full[kept])
    for call, streams in plan.items():
        t = calls[call - 1]
        for s in streams:
            np.testing.assert_array_equal(got[s, :t], full[s, :t])
            assert np.all(got[s, t:] == SILENCE_CLASS)
    with pytest.raises(ValueError, match="return_logits"):
        fast.fast_classes(net, inputs, u, 1.0, stop=stop, return_logits=True)


# ---- sampling ------------------------------------------------------------------------------------
def test_accepted_candidates_meet_targets_and_regenerate_exactly(model, free_run, tmp_path):
    loud = sorted(c.descriptors["loudness"] for c in free_run.candidates)
    # a loudness window around the middle of what the model makes: some pass, some do not
    lo, hi = loud[2] - 1e-3, loud[-1] + 1.0
    targets = [f"loudness={lo}..{hi}", "noisiness=0.05..1"]
    sampler = RejectionSampler(model, targets, seconds=SECONDS, keep=3, max_candidates=12, batch=4, threads=1, seed=100)
    res = sampler.run()
    assert res.stop_reason == "keep" and len(res.picks) == 3
    assert all(c.meets_targets and c.status == "accepted" for c in res.picks)
    assert res.candidates_generated >= 3 and res.samples_generated <= res.candidates_generated * sampler.n
    assert res.verification_samples == 0           # verify is off by default: the batch is exact
    for cand in res.picks:
        # re-measured from the audio written to disk, after regenerating from the recorded seed at batch 1
        again = generate(model, sampler.inputs, seed=cand.seed)[0]
        np.testing.assert_array_equal(again, cand.audio)
        assert cand.seed == 100 + cand.index
        path = tmp_path / f"{cand.seed}.wav"
        sf.write(path, again, 16000, subtype="FLOAT")
        audio, _ = sf.read(path, dtype="float32")
        measured = describe(audio, 16000)
        assert failed_targets(measured, sampler.targets) == []
    # every candidate's record is complete and serialisable
    d = json.loads(res.to_json())
    assert d["candidates_generated"] == res.candidates_generated and len(d["candidates"]) == res.candidates_generated
    assert d["picks"] == [c.index for c in res.picks]
    for c in d["candidates"]:
        assert c["status"] in ("accepted", "rejected", "early_rejected")
        assert c["meets_targets"] == (c["status"] == "accepted")
        assert bool(c["reasons"]) == (not c["meets_targets"])
    assert 0 < d["acceptance_rate"] <= 1 and d["wall_seconds"] > 0


def test_picks_are_their_batch1_regeneration(model, monkeypatch):
    """With verify=True, if the batched sample of a candidate ever differed from its batch-1
    regeneration, the pick would be the regeneration, re-measured: here the regeneration of one
    seed is made silent, so that candidate fails."""
    real = RejectionSampler.regenerate
    victim = {}

    def regenerate(self, seed):
        audio = real(self, seed)
        if not victim:
            victim["seed"] = seed
            return np.zeros_like(audio)
        return audio
    monkeypatch.setattr(RejectionSampler, "regenerate", regenerate)
    res = RejectionSampler(model, ["loudness=-60..0"], seconds=SECONDS, keep=2, max_candidates=8, batch=4,
                           threads=1, seed=20, verify=True).run()
    bad = next(c for c in res.candidates if c.seed == victim["seed"])
    assert bad.batch_mismatch and bad.verified and not bad.meets_targets and not bad.picked
    assert np.all(bad.audio == 0) and "judged on the regeneration" in bad.reasons[-1]
    assert len(res.picks) == 2 and all(c.meets_targets and c.verified and not c.batch_mismatch for c in res.picks)
    assert res.summary()["batch_mismatches"] == 1


def test_max_candidates_returns_closest_flagged(model):
    sampler = RejectionSampler(model, ["brightness=0..100", "loudness=-80..0"], seconds=SECONDS, keep=2,
                               max_candidates=5, batch=4, threads=1, seed=7)
    res = sampler.run()
    assert res.stop_reason == "max_candidates" and res.candidates_generated == 5
    assert res.accepted == [] and len(res.picks) == 2
    dists = sorted(c.distance for c in res.candidates if c.status == "rejected")
    assert [c.distance for c in res.picks] == dists[:2]                  # nearest first
    assert [c.rank for c in res.picks] == [1, 2]
    for c in res.picks:
        assert not c.meets_targets and c.distance > 0 and c.reasons[0].startswith("brightness")
        gap = (c.descriptors["brightness"] - 100) / 1000
        assert c.distance == pytest.approx(gap)


def test_max_seconds_budget(model):
    # 1 s clips are generated in several chunks, and the budget is checked between chunks
    res = RejectionSampler(model, ["loudness=-80..-70"], seconds=1.0, keep=1, max_candidates=64, batch=4,
                           max_seconds=1e-4, threads=1, early_rejection=False).run()
    assert res.stop_reason == "max_seconds"
    assert res.candidates_generated <= 4
    assert all(c.status == "unfinished" and c.samples_generated < 16000 for c in res.candidates)
    assert res.picks == [] and res.acceptance_rate == 0.0


def test_cancel_stops_at_the_next_chunk(model):
    res = RejectionSampler(model, ["loudness=-80..0"], seconds=SECONDS, keep=4, max_candidates=8, batch=4,
                           threads=1).run(cancel=lambda: True)
    assert res.stop_reason == "cancelled" and res.accepted == []


# ---- early rejection ------------------------------------------------------------------------------
def _final_values(audio: np.ndarray) -> dict:
    return describe(audio, 16000, pitch=False)


def test_prefix_bounds_contain_the_final_value():
    """For every prefix length, the bounds hold the full clip's value (model-free signals that change
    character after the prefix: silence then a loud tone, a tone then silence, noise bursts)."""
    sr, n = 16000, 8000
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    tone = 0.5 * np.sin(2 * np.pi * 220 * t)
    clips = [
        np.where(t < 0.3, 0.0, tone),
        np.where(t < 0.2, tone, 0.001 * tone),
        np.where((t * 8).astype(int) % 2 == 0, 0.3 * rng.standard_normal(n), 0.01 * tone),
        0.02 * rng.standard_normal(n) * (t > 0.4) + 0.003 * tone,
    ]
    targets = [Target("loudness", -30, -10), Target("noisiness", 0, 0.1), Target("sounding_seconds", 0.1, 0.4)]
    judge = PrefixJudge(targets, n, sr)
    for clip in clips:
        clip = clip.astype(np.float32)
        final = _final_values(clip)
        for cut in range(160, n, 240):
            b = judge.bounds(clip[:cut])
            for name, (lo, hi) in b.items():
                assert lo - 1e-9 <= final[name] <= hi + 1e-9, (name, cut, lo, final[name], hi)


@pytest.mark.parametrize("hopeless", [False, True])
def test_early_rejection_never_drops_a_passing_candidate(model, free_run, monkeypatch, hopeless):
    """Same seeds with and without early rejection: a candidate stopped early misses a prefix-safe
    target at full length (and its recorded bounds held the full-length values); every other
    candidate is identical."""
    monkeypatch.setattr(fast, "_CHUNK_WORK", 2000)           # a check every 256 samples
    loud = sorted(c.descriptors["loudness"] for c in free_run.candidates)
    if hopeless:    # far too quiet and too short for this model: most candidates are hopeless early
        targets = ["loudness=-80..-30", "sounding_seconds=..0.15"]
    else:           # a loudness window that about half the candidates end inside
        targets = [f"loudness={loud[3]}..{loud[-1] + 0.5}", "noisiness=0..0.9"]
    common = dict(seconds=SECONDS, keep=8, max_candidates=8, batch=8, threads=1, seed=100)
    full = RejectionSampler(model, targets, early_rejection=False, **common).run()
    early = RejectionSampler(model, targets, early_rejection=True, **common).run()
    assert [c.seed for c in early.candidates] == [c.seed for c in full.candidates]
    stopped = [c for c in early.candidates if c.status == "early_rejected"]
    if hopeless:
        assert len(stopped) >= 1 and early.samples_saved > 0     # how many depends on the tiny model
    else:
        assert any(f.meets_targets for f in full.candidates)
    assert early.samples_saved == sum(early.n_samples - c.samples_generated for c in stopped)
    assert early.samples_generated + early.samples_saved == full.samples_generated
    for e, f in zip(early.candidates, full.candidates):
        if e.status == "early_rejected":
            assert not f.meets_targets
            assert any(r.split(" ")[0] in PREFIX_SAFE for r in f.reasons)
            for name, (lo, hi) in e.bounds.items():
                assert lo - 1e-9 <= f.descriptors[name] <= hi + 1e-9
            assert e.samples_generated < early.n_samples
        else:
            assert e.status == f.status and e.meets_targets == f.meets_targets
            np.testing.assert_array_equal(e.audio, f.audio)


# ---- novelty ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    return NoveltyIndex.for_corpus(seed=3, size=12, seconds=0.5, cache=tmp_path_factory.mktemp("cache"))


def test_novelty_zero_for_training_clip_and_grows_with_noise(small_index):
    from wavenet_core.data.corpus import NoteCorpus
    corpus = NoteCorpus(seed=3, size=12, seconds=0.5)
    ex = corpus.example(5)
    nov, nearest = small_index.novelty(ex.audio, 16000)
    assert nov == 0.0 and nearest == ex.name
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(ex.audio)).astype(np.float32)
    peak = float(np.abs(ex.audio).max())
    values = [small_index.novelty(np.clip(ex.audio + level * peak * noise, -1, 1), 16000)[0]
              for level in (0.003, 0.03, 0.3)]
    assert 0 < values[0] < values[1] < values[2], values


def test_novelty_index_is_cached_on_disk(small_index, tmp_path, monkeypatch):
    from wavenet_core.controls.sampling import novelty
    index = NoveltyIndex.for_corpus(seed=3, size=4, seconds=0.5, cache=tmp_path)
    files = list(tmp_path.glob("novelty-*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(novelty, "_INDEX_MEMO", {})
    monkeypatch.setattr(novelty, "embedding_features", lambda *a, **k: pytest.fail("rebuilt instead of loaded"))
    again = NoveltyIndex.for_corpus(seed=3, size=4, seconds=0.5, cache=tmp_path)
    np.testing.assert_array_equal(again.desc, index.desc)
    assert again.names == index.names
    assert index.desc.shape == (4, 5) and index.mfcc.shape == (4, 38)


def test_novelty_target_and_corpus_of_a_checkpoint(model, small_index, tiny_run):
    assert corpus_params_for(tiny_run / "model.safetensors") == {"sample_rate": 16000, "seed": 0, "size": 48,
                                                                 "seconds": 1.0,
                                                                 "instruments": list(model.config.instrument_names)}
    sampler = RejectionSampler(model, ["novelty=0.5.."], seconds=SECONDS, keep=2, max_candidates=4, batch=4,
                               threads=1, novelty=small_index)
    res = sampler.run()
    assert all(c.novelty is not None and c.nearest for c in res.candidates)
    for c in res.accepted:
        assert small_index.novelty(c.audio, 16000)[0] == pytest.approx(c.novelty) and c.novelty >= 0.5


# ---- comparison, figure, CLI ----------------------------------------------------------------------------
def test_compare_control_methods_reports_every_method(model):
    rep = compare_control_methods(model, Goal((48, 72), "bell"), outputs=1, seconds=SECONDS, max_candidates=2,
                                  batch=2, threads=1, classifier_size=12)
    assert set(rep["methods"]) == {"rejection", "conditioning", "both", "conditioning+verify"}
    cond = rep["methods"]["conditioning"]
    assert cond["candidates"] == 1 and cond["samples_generated"] == 4000 and cond["conditioned"] == {
        "instrument": "bell", "pitch": 60.0}
    for name, m in rep["methods"].items():
        assert 1 <= m["candidates"] <= 2 and m["outputs"] == 1 and 0 <= m["share_meeting_goal"] <= 1
        assert m["samples_generated"] <= m["candidates"] * 4000
    assert rep["methods"]["both"]["rejected_on"] == ["pitch=48..72"]


def test_measure_clip_is_what_the_sampler_judges_on(model, free_run):
    from wavenet_core.controls.sampling import measure_clip, sampler_classifier
    clip = free_run.candidates[0].audio
    plain = measure_clip(clip, 16000)
    assert {k: plain[k] for k in describe(clip, 16000)} == describe(clip, 16000)
    assert plain["novelty"] is None and plain["nearest"] is None and plain["timbre"] is None
    sampler = RejectionSampler(model, ["timbre=bell"], seconds=SECONDS, classifier_size=12)
    judged = measure_clip(clip, 16000, classifier=sampler_classifier(model.config.instrument_names, 16000, 12),
                          pitch=False)
    assert judged == sampler.measure(clip) and judged["timbre"] in model.config.instrument_names


def test_candidate_scatter_figure(free_run):
    from dataclasses import replace

    from matplotlib.figure import Figure

    from wavenet_core.plots import candidate_scatter_figure
    run = replace(free_run, targets=[Target("loudness", -21, -15), Target("brightness", 3000, 3700)])
    fig = candidate_scatter_figure(run, x="loudness", y="brightness")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    drawn = sum(len(c.get_offsets()) for c in ax.collections)
    assert drawn == len(free_run.candidates)
    assert len(ax.patches) == 1                                   # the target box
    fig2 = candidate_scatter_figure(json.loads(free_run.to_json()), x="pitch", y="loudness")
    assert any("no pitch/loudness value (8)" in t.get_text() for t in fig2.axes[0].get_legend().get_texts())


def test_cli_sample_end_to_end(tiny_run, tmp_path, capsys):
    from wavenet_core import load_model
    from wavenet_core.cli import main
    out = tmp_path / "picks"
    ckpt = str(tiny_run / "model.safetensors")
    rc = main(["sample", "--model", ckpt, "--seconds", str(SECONDS), "--target", "loudness=-60..0",
               "--target", "sounding_seconds=0.05..", "--keep", "2", "--max-candidates", "4", "--batch", "4",
               "--seed", "3", "--instrument", "bell", "--temperature", "1.0", "--max-seconds", "600",
               "--no-novelty", "--out-dir", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accepted"] >= 2 and report["controls"]["instrument"] == "bell"
    assert len(report["files"]) == 2 and report["budget"] == {"max_candidates": 4, "max_seconds": 600.0}
    model = load_model(ckpt)
    from wavenet_core import Controls, model_inputs
    inputs = model_inputs(Controls(seconds=SECONDS, instrument="bell"), model.config)
    for name, idx in zip(report["files"], report["picks"]):
        cand = report["candidates"][idx]
        audio, sr = sf.read(out / name, dtype="float32")
        assert sr == 16000 and name == f"pick-{report['picks'].index(idx) + 1:02d}-seed-{cand['seed']}.wav"
        again = generate(model, inputs, seed=cand["seed"])[0]
        np.testing.assert_allclose(audio, again, atol=2 / 32768)       # 16-bit WAV
    assert "met loudness=-60..0" in capsys.readouterr().out
    rc = main(["sample", "--model", ckpt, "--target", "colour=1..2", "--out-dir", str(out)])
    assert rc == 2
    assert "valid names: pitch, loudness" in capsys.readouterr().err


def test_shipped_model_novelty_index_ships_with_it(tmp_path, monkeypatch):
    """`wavenet sample --target novelty=…` on the shipped notes model loads the index from assets/
    (building it for 1,200 clips takes minutes), and the index is that model's training corpus."""
    from wavenet_core.controls.sampling import novelty
    from wavenet_core.data.corpus import NoteCorpus
    monkeypatch.setenv("WAVENET_CACHE_DIR", str(tmp_path))          # an empty user cache
    monkeypatch.setattr(novelty, "_INDEX_MEMO", {})
    monkeypatch.setattr(novelty, "embedding_features", lambda *a, **k: pytest.fail("rebuilt instead of loaded"))
    params = corpus_params_for("notes")
    shipped = sorted(novelty.SHIPPED_NOVELTY.glob("novelty-*.npz")) if novelty.SHIPPED_NOVELTY.is_dir() else []
    if not shipped:
        pytest.skip("no novelty index ships with this notes model (its corpus changed; build: see README)")
    index = NoveltyIndex.for_corpus(**params)
    assert len(index.names) == params["size"]
    ex = NoteCorpus(sample_rate=params["sample_rate"], seed=params["seed"], size=params["size"],
                    seconds=params["seconds"]).example(params["size"] - 3)
    monkeypatch.undo()
    nov, nearest = index.novelty(ex.audio, params["sample_rate"])
    # 0 up to float noise: the shipped features were measured on another machine's FFT/BLAS
    # (white noise at 0.03 % of the peak already scores 0.004)
    assert nearest == ex.name and nov < 1e-5
