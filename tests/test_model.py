"""The model as the paper describes it: causality, receptive field, μ-law, a config matrix."""
from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wavenet_core import WaveNet, generate, load_model, mu_law_decode, mu_law_encode, preset_config, save_model
from wavenet_core.generation.inputs import ModelInputs

VARIANTS = {
    "none": dict(),
    "global": dict(n_instruments=3, global_dim=2),
    "local": dict(local_dim=6),
    "both": dict(n_instruments=3, local_dim=6),
    "context": dict(context_layers=2, context_hop=16, n_instruments=3),
}


def make(variant: str, sample_rate: int = 16000) -> WaveNet:
    torch.manual_seed(0)
    return WaveNet(preset_config("tiny", sample_rate=sample_rate, **VARIANTS[variant]))


def inputs_for(model: WaveNet, batch: int, length: int) -> dict:
    cfg = model.config
    g = torch.Generator().manual_seed(1)
    kw = {}
    if cfg.n_instruments:
        kw["instrument"] = torch.randint(0, cfg.n_instruments + 1, (batch,), generator=g)
    if cfg.global_dim:
        kw["global_cond"] = torch.randn(batch, cfg.global_dim, generator=g)
    if cfg.local_dim:
        kw["local_cond"] = torch.randn(batch, cfg.local_dim, -(-length // cfg.hop_length), generator=g)
    return kw


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_causal_every_variant(variant):
    """Changing the input at time t never changes outputs at times <= t."""
    model = make(variant).eval()
    length = 600
    x = torch.randint(0, 256, (1, length), generator=torch.Generator().manual_seed(2))
    kw = inputs_for(model, 1, length)
    with torch.no_grad():
        base = model(x, **kw)
        for t in (0, 37, 255, 400, length - 1):
            y = x.clone()
            y[0, t] = (y[0, t] + 97) % 256
            diff = (model(y, **kw) - base).abs().amax(dim=1)[0]
            assert diff[: t + 1].max() == 0, f"output at <= {t} changed"
            if t + 1 < length and variant != "context":
                assert diff[t + 1] > 0, "the next output must depend on the changed input"


@pytest.mark.parametrize("variant", ["none", "both"])
def test_receptive_field_matches_measured_footprint(variant):
    model = make(variant).eval()
    length, t = 200, 150
    x = torch.randint(0, 256, (1, length), generator=torch.Generator().manual_seed(3))
    emb = model.embed(x).detach().requires_grad_(True)
    # gradient of output t with respect to every input position, through the embedding lookup
    kw = inputs_for(model, 1, length)
    cond = model.conditioning(x, **kw)
    h = F.pad(emb[:, :-1], (0, 0, 1, 0)).transpose(1, 2)
    skips = 0
    for layer in model.layers:
        h, s = layer(h, cond)
        skips = skips + s
    out = model.head2(F.relu(model.head1(F.relu(skips))))
    out[0, :, t].sum().backward()
    touched = (emb.grad[0].abs().sum(dim=1) > 0).nonzero().flatten()
    assert touched.max().item() == t - 1
    assert t - touched.min().item() == model.receptive_field


def test_receptive_field_formula():
    cfg = preset_config("reference")
    assert cfg.dilations == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 2
    assert cfg.receptive_field == 2 * 1023 + 1
    assert abs(cfg.receptive_field_ms - 1000 * 2047 / 16000) < 1e-9


def test_mu_law_matches_librosa_and_round_trips():
    x = np.concatenate([np.linspace(-1, 1, 20001), np.random.default_rng(0).uniform(-1, 1, 20000)])
    classes = mu_law_encode(x)
    np.testing.assert_array_equal(classes, librosa.mu_compress(x, mu=255, quantize=True) + 128)
    np.testing.assert_allclose(mu_law_decode(classes), librosa.mu_expand(classes - 128, mu=255, quantize=True), atol=1e-6)
    np.testing.assert_array_equal(mu_law_encode(torch.from_numpy(x)).numpy(), classes)
    err = np.abs(mu_law_decode(classes) - x)
    # μ-law error grows with amplitude: bounded by the widest bin (near full scale) and tiny near zero
    assert err.max() < 0.05
    assert err[np.abs(x) < 0.01].max() < 1e-3
    assert mu_law_decode(np.array([128]))[0] == 0.0


@pytest.mark.parametrize("sample_rate", [16000, 8000])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_config_matrix_forward_backward_save_load_generate(variant, sample_rate, tmp_path):
    model = make(variant, sample_rate)
    x = torch.randint(0, 256, (2, 480), generator=torch.Generator().manual_seed(4))
    kw = inputs_for(model, 2, 480)
    logits = model(x, **kw)
    assert logits.shape == (2, 256, 480)
    loss = F.cross_entropy(logits, x)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    path = save_model(model, tmp_path / "m")
    loaded = load_model(path)
    assert loaded.config == model.config
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, **kw), model.eval()(x, **kw), rtol=0, atol=0)
    n = 64
    inputs = ModelInputs(n_samples=n, **{k: v[:1] for k, v in inputs_for(model, 1, n).items()})
    audio = generate(loaded, inputs, seed=0, method="reference")
    assert audio.shape == (1, n) and np.isfinite(audio).all()


def test_instrument_mixture_weights_interpolate_embeddings():
    model = make("both")
    w = torch.tensor([[0.25, 0.75, 0.0, 0.0]])
    g = model.global_vector(1, instrument=w)
    expected = 0.25 * model.instrument_embed.weight[0] + 0.75 * model.instrument_embed.weight[1]
    torch.testing.assert_close(g[0], expected)
    with pytest.raises(ValueError, match="instrument weights"):
        model.global_vector(1, instrument=torch.ones(1, 2))


def test_bad_inputs_are_refused_clearly():
    model = make("local")
    with pytest.raises(ValueError, match="LongTensor"):
        model(torch.zeros(1, 10))
    with pytest.raises(ValueError, match="needs local_cond"):
        model(torch.zeros(1, 10, dtype=torch.long))
    with pytest.raises(ValueError, match="frames"):
        model(torch.zeros(1, 400, dtype=torch.long), local_cond=torch.zeros(1, 6, 1))
    with pytest.raises(ValueError, match="upsample_scales"):
        preset_config("tiny", local_dim=2, hop_length=100)
