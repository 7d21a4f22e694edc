"""Excitation conditioning (model.sine_excitation) and the training data fixes that go with it:
stratified validation, an all-free share, real preceding audio."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wavenet_core import WaveNet, preset_config
from wavenet_core.controls.conditioning import Controls, model_inputs
from wavenet_core.data import NoteCorpus
from wavenet_core.data.corpus import INSTRUMENTS, PITCH_RANGE
from wavenet_core.model.wavenet import WaveNetConfig, excitation_phase, sine_excitation
from wavenet_core.training.train import TrainingData, stratified_holdout

SR, HOP = 16000, 160


def test_excitation_is_the_integrated_phase_of_f0():
    """sin(kφ) with φ = phase0 + 2π·Σ f0/sr: for a steady 440 Hz it is sin(2π·440·t/sr + phase0)."""
    f0 = torch.full((1, 20), 440.0)
    exc = sine_excitation(f0, 3, HOP, SR, 0, 20 * HOP, torch.tensor([0.3])).numpy()[0]
    t = np.arange(20 * HOP)
    for k in (1, 2, 3):
        np.testing.assert_allclose(exc[2 * (k - 1)], np.sin(k * (2 * np.pi * 440 * t / SR + 0.3)), atol=2e-6)
        np.testing.assert_allclose(exc[2 * (k - 1) + 1], np.cos(k * (2 * np.pi * 440 * t / SR + 0.3)), atol=2e-6)


def test_excitation_zero_where_unvoiced_and_above_nyquist_and_phase_continuous():
    f0 = torch.tensor([[200.0, 200.0, 0.0, 0.0, 3000.0, 3000.0, 300.0]])
    exc = sine_excitation(f0, 4, HOP, SR, 0, 7 * HOP).numpy()[0]
    assert np.all(exc[:, 2 * HOP: 4 * HOP] == 0)                       # unvoiced frames
    assert np.all(exc[4:, 4 * HOP: 6 * HOP] == 0)                       # 3 × 3 kHz and 4 × 3 kHz ≥ 8 kHz
    assert np.abs(exc[:4, 4 * HOP: 6 * HOP]).max() > 0.9
    # No jump in the phase at a frequency change (frame 0 → 1 is steady, 5 → 6 changes 3 kHz → 300 Hz).
    phase = np.unwrap(np.arctan2(exc[0], exc[1]))
    steps = np.diff(phase[6 * HOP - 2: 6 * HOP + 2])
    assert np.all(np.abs(steps - 2 * np.pi * np.array([3000, 3000, 300]) / SR) < 1e-4)   # float32 values


def test_any_slice_equals_the_whole_clip():
    """Closed form per frame: the fast generator's chunks hold exactly the full clip's values."""
    g = torch.Generator().manual_seed(0)
    f0 = 100 + 500 * torch.rand(2, 30, generator=g)
    phase0 = torch.rand(2, generator=g, dtype=torch.float64)
    whole = sine_excitation(f0, 2, HOP, SR, 0, 30 * HOP, phase0)
    for a, b in [(0, 37), (1000, 1601), (4799, 4800)]:
        assert torch.equal(sine_excitation(f0, 2, HOP, SR, a, b - a, phase0), whole[..., a:b])
    assert excitation_phase(f0, HOP, SR, phase0)[:, 0].tolist() == phase0.tolist()


def test_old_configs_load_without_excitation_and_bad_values_are_refused():
    cfg = WaveNetConfig.from_dict({k: v for k, v in WaveNetConfig().to_dict().items()
                                   if not k.startswith("excitation")})
    assert cfg.excitation == "none" and cfg.excitation_dim == 0
    with pytest.raises(ValueError, match="excitation must be one of"):
        WaveNetConfig(excitation="square")
    with pytest.raises(ValueError, match="excitation_harmonics"):
        WaveNetConfig(excitation="sine", excitation_harmonics=0)
    assert WaveNetConfig(excitation="sine", excitation_harmonics=5).excitation_dim == 10


def test_the_excitation_reaches_the_logits_and_free_pitch_is_zero():
    torch.manual_seed(0)
    model = WaveNet(preset_config("tiny", local_dim=6, n_instruments=6, excitation="sine",
                                  instrument_names=INSTRUMENTS)).eval()
    inputs = model_inputs(Controls(pitch=57, instrument="flute", seconds=0.2), model.config)
    assert inputs.f0_hz is not None and torch.allclose(inputs.f0_hz[0, 3], torch.tensor(220.0))
    x = torch.randint(0, 256, (1, inputs.n_samples))
    with torch.no_grad():
        a = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=inputs.f0_hz)
        b = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=inputs.f0_hz * 2)
        free = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=None)
        zero = model(x, instrument=inputs.instrument, local_cond=inputs.local_cond, f0=torch.zeros_like(inputs.f0_hz))
    assert (a - b).abs().max() > 1e-3                    # another pitch, other logits
    assert torch.equal(free, zero)                       # "free" is the all-zero excitation
    assert model_inputs(Controls(instrument="flute", seconds=0.2), model.config).f0_hz is None


def test_corpus_covers_the_studios_range():
    assert PITCH_RANGE == (36, 84)
    corpus = NoteCorpus(size=120, seconds=0.5, phrase_share=0.0)
    midi = [69 + 12 * np.log2(np.median(e.f0[e.f0 > 0]) / 440) for e in corpus]
    assert min(midi) < 42 and max(midi) > 78


def test_validation_is_stratified_by_instrument_and_pitch():
    corpus = list(NoteCorpus(size=240, seconds=0.5, phrase_share=0.0))
    val = stratified_holdout(corpus)
    assert {e.instrument for e in val} == set(range(len(INSTRUMENTS)))
    assert len(val) == 24
    midi = [69 + 12 * np.log2(np.median(e.f0[e.f0 > 0]) / 440) for e in val]
    assert max(midi) - min(midi) > 24                   # low and high notes both validated


def test_batches_drop_everything_together_and_see_real_history():
    corpus = list(NoteCorpus(size=60, seconds=1.0))
    data = TrainingData(corpus, HOP, 1600, n_instruments=6, cond_dropout=0.0, free_share=0.5, history=511)
    assert data.history == 4                             # ceil(511 / 160) frames of real past
    b = data.batch(seed=0, step=0, batch_size=64)
    free = (b["instrument"] == 6) & (b["local"][:, 3].amax(1) == 0) & (b["local"][:, 5].amax(1) == 0)
    assert 16 <= int(free.sum()) <= 48                  # ~half of 64, all controls at once
    assert torch.all(b["cond_f0"][free] == 0)
    assert torch.all((b["instrument"] == 6) == free)     # no per-control dropout asked for
    assert b["x"].shape == (64, 1600 + 4 * HOP)
    mask = b["loss_mask"]
    # Windows with a past are scored after it; a window at the clip's start is scored throughout.
    assert set(mask.sum(1).tolist()) <= {1600.0, 1600.0 + 4 * HOP}
    assert float(mask.sum(1).min()) == 1600.0
    assert 0 <= float(b["phase0"].min()) and float(b["phase0"].max()) < 2 * math.pi
    again = data.batch(seed=0, step=0, batch_size=64)
    assert all(torch.equal(again[k], b[k]) for k in b)   # a pure function of (seed, step)


def test_input_noise_corrupts_only_the_past_the_model_reads():
    corpus = list(NoteCorpus(size=30, seconds=1.0))
    data = TrainingData(corpus, HOP, 1600, n_instruments=6, cond_dropout=0.0, input_noise=0.5)
    b = data.batch(seed=1, step=0, batch_size=16)
    noisy = (b["x_in"] != b["x"]).float().mean(1)
    assert int((noisy > 0.1).sum()) >= 4 and int((noisy == 0).sum()) >= 1     # some noisy, some clean
    assert "x_in" not in data.batch(seed=1, step=0, batch_size=16, split="val")  # validation reads the truth
    torch.manual_seed(0)
    model = WaveNet(preset_config("tiny", local_dim=6, n_instruments=6)).eval()
    with torch.no_grad():
        plain = model(b["x"], instrument=b["instrument"], local_cond=b["local"])
        same = model(b["x"], instrument=b["instrument"], local_cond=b["local"], x_in=b["x"])
        read = model(b["x"], instrument=b["instrument"], local_cond=b["local"], x_in=b["x_in"])
    assert torch.equal(plain, same)
    clean = noisy == 0
    assert torch.equal(read[clean], plain[clean]) and not torch.equal(read[~clean], plain[~clean])


def test_training_excitation_is_in_phase_with_the_corpus_audio():
    """With the corpus's own phase per frame, sin(φ) follows the note's fundamental (a random start
    phase would leave the excitation uncorrelated with the target, and its gradient zero on average)."""
    corpus = list(NoteCorpus(size=12, seconds=1.0, phrase_share=0.0))
    data = TrainingData(corpus, HOP, 3200, n_instruments=6, cond_dropout=0.0, history=511)
    b = data.batch(seed=0, step=0, batch_size=6)
    exc = sine_excitation(b["cond_f0"], 1, HOP, SR, 0, b["x"].shape[1], frame_phase=b["frame_phase"]).numpy()
    corr = []
    for i in range(6):
        voiced = np.abs(exc[i, 0]) > 0
        if voiced.sum() > 1000:
            corr.append(np.corrcoef(b["audio"][i].numpy()[voiced], exc[i, 0][voiced])[0, 1])
    assert len(corr) >= 3 and min(corr) > 0.5
    shuffled = sine_excitation(b["cond_f0"], 1, HOP, SR, 0, b["x"].shape[1], phase0=torch.full((6,), 1.3)).numpy()
    assert not np.allclose(shuffled, exc)


def test_a_share_of_windows_starts_at_the_clip_start():
    corpus = list(NoteCorpus(size=30, seconds=1.5))
    data = TrainingData(corpus, HOP, 1600, n_instruments=6, cond_dropout=0.0, history=511, start_share=0.5)
    b = data.batch(seed=2, step=0, batch_size=32)
    full = b["loss_mask"].sum(1) == b["x"].shape[1]          # scored throughout: the window starts the clip
    assert 8 <= int(full.sum()) <= 28
    starts = [e.audio[: b["x"].shape[1]] for e in corpus]
    assert any(torch.equal(b["audio"][i], torch.from_numpy(s)) for i in np.flatnonzero(full.numpy()) for s in starts)


def test_the_phase_estimated_from_audio_matches_the_synthesis_phase():
    """Sampled instruments have no known phase; the estimate from the audio must recover the
    corpus's own (known) synthesis phase wherever the fundamental is present, and a wrong
    estimator (say, without the +π/2 of a sine) would be a quarter turn off everywhere."""
    from wavenet_core.data.corpus import estimate_frame_phase
    errors = []
    for e in NoteCorpus(seed=3, size=12):
        if INSTRUMENTS[e.instrument] == "bell":          # FM: its fundamental is not the strongest partial
            continue
        est = estimate_frame_phase(e.audio, e.f0, e.hop_length, e.sample_rate)
        voiced = (e.f0 > 0) & (e.loudness > -40)
        errors.extend(np.abs(np.angle(np.exp(1j * (est - e.phase))))[voiced])
    errors = np.asarray(errors)
    assert len(errors) > 300
    assert np.median(errors) < 0.1 and (errors < 0.5).mean() > 0.95


def test_soundfont_examples_carry_an_excitation_phase_in_step_with_their_audio():
    pytest.importorskip("tinysoundfont")
    from wavenet_core.data.soundfont import SoundFontCorpus
    corpus = SoundFontCorpus(size=16, seed=0)
    aligned, shuffled = [], []
    rng = np.random.default_rng(0)
    for e in corpus:
        assert e.phase is not None and e.phase.shape == e.f0.shape
        for phase, out in ((e.phase, aligned), (rng.uniform(0, 2 * np.pi, len(e.phase)), shuffled)):
            sine = sine_excitation(torch.tensor(e.f0)[None], 1, e.hop_length, e.sample_rate, 0, len(e.audio),
                                   frame_phase=torch.tensor(phase)[None])[0, 0].numpy()
            out.append(np.dot(sine, e.audio) / (np.linalg.norm(sine) * np.linalg.norm(e.audio) + 1e-9))
    assert np.mean(aligned) > 0.3 > np.mean(np.abs(shuffled)) + 0.2
