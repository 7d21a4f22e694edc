"""The fast generator (wavenet_core/generation/fast.py) against the model's own forward pass and the reference sampler."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_core.generation import fast
from wavenet_core.generation.inputs import Cancelled, ModelInputs, free_inputs, guided_logits, stream_uniforms
from wavenet_core.generation.generate import generate, reference_classes
from wavenet_core.model.wavenet import WaveNet, preset_config

VARIANTS = {
    "none": {},
    "instrument": dict(n_instruments=3),
    "global_vector": dict(global_dim=5),
    "local": dict(local_dim=6),
    "both": dict(local_dim=6, n_instruments=3, global_dim=2),
    "context": dict(context_layers=3, context_hop=64),
    "excitation": dict(local_dim=6, n_instruments=3, excitation="sine", excitation_harmonics=3),
    "excitation_only": dict(excitation="sine", excitation_harmonics=2),
}
RATES = (16000, 8000)


def make_model(variant: str, sample_rate: int = 16000) -> WaveNet:
    torch.manual_seed(sorted(VARIANTS).index(variant))
    model = WaveNet(preset_config("tiny", sample_rate=sample_rate, **VARIANTS[variant])).eval()
    with torch.no_grad():                 # sharper than the init, so samples depend on the logits
        for p in model.parameters():
            p.mul_(3.0)
    return model


def make_inputs(model: WaveNet, batch: int, n: int, seed: int = 0) -> ModelInputs:
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    inputs = ModelInputs(n)
    if cfg.n_instruments:
        # one stream per id, the last one "free"; a mixture of weights for the rest
        ids = torch.arange(batch) % (cfg.n_instruments + 1)
        inputs.instrument = torch.nn.functional.one_hot(ids, cfg.n_instruments + 1).float() * 0.7 + 0.3 / (cfg.n_instruments + 1)
    if cfg.global_dim:
        inputs.global_cond = torch.randn(batch, cfg.global_dim, generator=g)
    if cfg.local_dim:
        inputs.local_cond = torch.randn(batch, cfg.local_dim, -(-n // cfg.hop_length) + 1, generator=g)
    if cfg.excitation_dim:
        # pitches from bass to above the top harmonic's Nyquist, a glide, unvoiced frames, random phases
        frames = -(-n // cfg.hop_length) + 1
        f0 = 60.0 * 2 ** (torch.rand(batch, frames, generator=g) * 6)
        f0[:, 1:3] = 0
        f0[0] = torch.linspace(100, 900, frames)
        inputs.f0_hz = f0
        inputs.phase0 = torch.rand(batch, generator=g, dtype=torch.float64) * 2 * np.pi
    return inputs


def _streams(inputs: ModelInputs, sel: slice) -> ModelInputs:
    """Streams ``sel`` of ``inputs``."""
    return ModelInputs(inputs.n_samples, *(None if t is None else t[sel] for t in
                                           (inputs.instrument, inputs.global_cond, inputs.local_cond,
                                            inputs.f0_hz, inputs.phase0)))


def teacher_forced(model: WaveNet, classes: np.ndarray, inputs: ModelInputs) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(classes), instrument=inputs.instrument, global_cond=inputs.global_cond,
                     local_cond=inputs.local_cond, f0=inputs.f0_hz, phase0=inputs.phase0).numpy()


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks and upsampling blocks of a few hundred samples, so every boundary is exercised."""
    monkeypatch.setattr(fast, "_CHUNK_WORK", 300)
    monkeypatch.setattr(fast, "_LOCAL_BYTES", 3 * 8 * 4 * 250)
    monkeypatch.setattr(fast, "_EXC_FRAMES", 2)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_logits_equal_teacher_forced(variant, rate, small_chunks):
    model = make_model(variant, rate)
    batch, n = 3, 900
    inputs = make_inputs(model, batch, n)
    uniforms = stream_uniforms([11, 12, 13], n)
    classes, logits = fast.fast_classes(model, inputs, uniforms, 1.0, return_logits=True)
    assert classes.shape == (batch, n) and classes.dtype == np.int64
    assert len(np.unique(classes)) > 30                       # not stuck on one class
    expected = teacher_forced(model, classes, inputs)
    assert logits.shape == expected.shape
    assert np.abs(logits - expected).max() <= 1e-4
    assert np.abs(expected).max() > 1.0                        # a comparison of non-trivial logits
    # Batched, threaded and single-stream runs give the same samples.
    threaded = fast.fast_classes(model, inputs, uniforms, 1.0, threads=2)
    single = fast.fast_classes(model, _streams(inputs, slice(1, 2)), uniforms[1:2], 1.0)
    np.testing.assert_array_equal(threaded, classes)
    np.testing.assert_array_equal(single[0], classes[1])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fast_equals_reference(variant):
    model = make_model(variant)
    n = 160
    inputs = make_inputs(model, 2, n, seed=1)
    uniforms = stream_uniforms([3, 4], n)
    for temperature in ((1.0, 0.0) if variant == "both" else (1.0,)):
        ref = reference_classes(model, inputs, uniforms, temperature)
        got = fast.fast_classes(model, inputs, uniforms, temperature)
        np.testing.assert_array_equal(got, ref)


# ---- conditioning strength (classifier-free guidance) ---------------------------------------------
@pytest.mark.parametrize("variant", ["both", "context", "excitation"])
def test_guided_logits_equal_teacher_forced_combination(variant, small_chunks):
    """With guidance, each step's logits are free + g·(conditioned − free) of the two teacher-forced
    passes over the samples drawn; every stream keeps its batch-1 samples; threads change nothing."""
    model = make_model(variant)
    batch, n, g = 3, 700, 2.5
    inputs = make_inputs(model, batch, n)
    uniforms = stream_uniforms([21, 22, 23], n)
    classes, logits = fast.fast_classes(model, inputs, uniforms, 1.0, return_logits=True, guidance=g)
    expected = guided_logits(teacher_forced(model, classes, inputs),
                             teacher_forced(model, classes, free_inputs(model, inputs)), g)
    assert np.abs(logits - expected).max() <= 1e-4
    plain = fast.fast_classes(model, inputs, uniforms, 1.0)
    if variant in ("both", "excitation"):   # the controls matter, so guidance changes the samples
        assert not np.array_equal(plain, classes)
    np.testing.assert_array_equal(fast.fast_classes(model, inputs, uniforms, 1.0, threads=2, guidance=g), classes)
    one = _streams(inputs, slice(2, 3))
    np.testing.assert_array_equal(fast.fast_classes(model, one, uniforms[2:3], 1.0, guidance=g)[0], classes[2])


def test_guidance_zero_is_the_free_model_and_reference_agrees():
    model = make_model("both")
    n = 160
    inputs = make_inputs(model, 2, n, seed=1)
    uniforms = stream_uniforms([3, 4], n)
    np.testing.assert_array_equal(fast.fast_classes(model, inputs, uniforms, 1.0, guidance=0.0),
                                  fast.fast_classes(model, free_inputs(model, inputs), uniforms, 1.0))
    np.testing.assert_array_equal(fast.fast_classes(model, inputs, uniforms, 1.0, guidance=3.0),
                                  reference_classes(model, inputs, uniforms, 1.0, guidance=3.0))
    for bad in (-0.5, 11.0, float("nan")):
        with pytest.raises(ValueError, match="Conditioning strength"):
            generate(model, inputs, guidance=bad)


def test_guided_early_stop_keeps_the_other_streams_exact(small_chunks):
    model = make_model("both")
    n = 600
    inputs = make_inputs(model, 4, n)
    uniforms = stream_uniforms([1, 2, 3, 4], n)
    full = fast.fast_classes(model, inputs, uniforms, 1.0, guidance=2.0)

    def stop(t, classes):
        assert classes.shape == (4, n)
        return np.array([False, True, False, False]) if t >= 200 else None
    cut = fast.fast_classes(model, inputs, uniforms, 1.0, guidance=2.0, stop=stop)
    np.testing.assert_array_equal(cut[[0, 2, 3]], full[[0, 2, 3]])
    stopped_at = int(np.flatnonzero(cut[1] != full[1])[0])
    assert 200 <= stopped_at < n and np.all(cut[1, stopped_at:] == fast.SILENCE_CLASS)


def test_seeds_through_generate():
    model = make_model("both")
    inputs = make_inputs(model, 1, 500)
    a = generate(model, inputs, seed=[5, 6, 7], batch=3)
    b = generate(model, inputs, seed=6)
    c = generate(model, inputs, seed=[5, 6, 7], batch=3)
    assert a.shape == (3, 500) and a.dtype == np.float32 and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(a[1], b[0])                 # batch or not
    np.testing.assert_array_equal(a, c)                       # repeatable
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])   # seeds differ
    cold = generate(model, inputs, seed=6, temperature=0.0)
    np.testing.assert_array_equal(cold, generate(model, inputs, seed=99, temperature=0.0))  # argmax ignores seeds


def test_progress_and_cancel(small_chunks, monkeypatch):
    monkeypatch.setattr(fast, "_PROGRESS_EVERY_S", 0.0)
    model = make_model("context")
    n = 2000
    calls = []
    out = generate(model, ModelInputs(n), seed=0, progress=lambda done, total: calls.append((done, total)))
    assert out.shape == (1, n)
    assert calls[-1] == (n, n) and len(calls) > 3
    assert all(b[0] > a[0] for a, b in zip(calls, calls[1:])) and all(t == n for _, t in calls)
    seen = []

    def cancel() -> bool:
        return len(seen) >= 2

    with pytest.raises(Cancelled):
        generate(model, ModelInputs(n), seed=0, progress=lambda d, t: seen.append(d), cancel=cancel)
    assert seen and seen[-1] < n


@pytest.mark.parametrize("method", ["fast", "reference"])
def test_on_audio_hands_on_the_samples_as_made(small_chunks, method):
    model = make_model("both")
    n = 900
    blocks = []
    out = generate(model, make_inputs(model, 2, n), seed=3, batch=2, method=method, on_audio=blocks.append)
    assert len(blocks) > 2 and all(b.shape[0] == 2 and b.dtype == np.float32 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), out)
    np.testing.assert_array_equal(out, generate(model, make_inputs(model, 2, n), seed=3, batch=2, method=method))


def test_bad_inputs_raise_one_line_errors():
    model = make_model("local")
    with pytest.raises(ValueError, match="needs local_cond"):
        fast.fast_classes(model, ModelInputs(100), stream_uniforms([0], 100), 1.0)
    short = ModelInputs(1000, local_cond=torch.zeros(1, 6, 2))
    with pytest.raises(ValueError, match="frames"):
        fast.fast_classes(model, short, stream_uniforms([0], 1000), 1.0)


def wavenet_generate(argv: list[str]) -> None:
    """`wavenet generate ARGV` in-process: the registered command and its argument set-up, without
    importing every other command module (the app's imports cost seconds)."""
    import argparse

    import wavenet_core.commands.core  # noqa: F401  (registers the command)
    from wavenet_core.cli import COMMANDS
    fn, _, setup = COMMANDS["generate"]
    parser = argparse.ArgumentParser()
    setup(parser)
    fn(parser.parse_args(argv))


def test_cli_generate_fast_by_default_and_reference(tiny_run, tmp_path, monkeypatch):
    calls = []
    real = fast.fast_classes
    monkeypatch.setattr(fast, "fast_classes", lambda *a, **k: calls.append(1) or real(*a, **k))
    args = ["--model", str(tiny_run / "model.safetensors"), "--seconds", "0.01", "--pitch", "62",
            "--loudness", "-20", "--seed", "4"]
    wavenet_generate(args + ["--out", str(tmp_path / "fast.wav")])
    assert calls == [1]
    wavenet_generate(args + ["--reference", "--out", str(tmp_path / "ref.wav")])
    assert calls == [1]
    a, sr = sf.read(tmp_path / "fast.wav")
    b, _ = sf.read(tmp_path / "ref.wav")
    assert sr == 16000 and len(a) == 160 and np.abs(a).max() > 0
    np.testing.assert_array_equal(a, b)
    # --guidance: the conditioning strength, the same through both paths
    wavenet_generate(args + ["--guidance", "2.5", "--out", str(tmp_path / "guided.wav")])
    wavenet_generate(args + ["--guidance", "2.5", "--reference", "--out", str(tmp_path / "guided_ref.wav")])
    g, _ = sf.read(tmp_path / "guided.wav")
    np.testing.assert_array_equal(g, sf.read(tmp_path / "guided_ref.wav")[0])
    assert not np.array_equal(g, a)
