"""The WaveNet autoencoder: encoder shape/rate, round trip, interpolation, PCA sliders, latents, CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_core import load_model
from wavenet_core.model.autoencoder import WaveNetAutoencoder, autoencoder_config
from wavenet_core.controls.autoencoder import check_latent, decode, edit, encode, interpolate, latent_pitch, load_latent, pca_coordinates, principal_directions, save_latent, shift_pitch, silence_latent
from wavenet_core.cli import main as cli_main
from wavenet_core.data.corpus import NoteCorpus
from wavenet_core.model.mulaw import mu_law_encode

SR = 16000


@pytest.fixture(scope="module")
def ae(tiny_ae_run):
    return load_model(tiny_ae_run / "model.safetensors")


@pytest.fixture(scope="module")
def clips():
    """Held-out corpus clips (another seed than training), 0.5 s each."""
    corpus = NoteCorpus(sample_rate=SR, hop_length=256, seed=4242, size=6, seconds=0.5)
    return [e.audio for e in corpus]


def _tf_loss(model, audio: np.ndarray) -> float:
    """Teacher-forced cross-entropy of a clip given its own latent."""
    x = torch.from_numpy(audio)[None]
    with torch.no_grad():
        logits = model(mu_law_encode(x), x)
    return float(torch.nn.functional.cross_entropy(logits, mu_law_encode(x)))


def _wav(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    sf.write(path, audio, sr, subtype="PCM_16")
    return path


# ---- encoder --------------------------------------------------------------------------------
def test_encoder_shape_and_rate():
    cfg = autoencoder_config("tiny")
    torch.manual_seed(0)
    model = WaveNetAutoencoder(cfg)
    assert cfg.frame_rate == SR / cfg.hop_length == 62.5
    for n in [1, cfg.hop_length, cfg.hop_length + 1, SR]:
        z = encode(model, np.zeros(n, dtype=np.float32) + 0.1)
        assert z.shape == (-(-n // cfg.hop_length), cfg.latent_dim) and z.dtype == np.float32
    # The default preset: 16 dims at hop 512, 31.25 frames/s at 16 kHz
    default = autoencoder_config("default")
    assert (default.latent_dim, default.hop_length, default.frame_rate) == (16, 512, 31.25)
    # Non-causal over the whole clip: changing the end of a clip changes earlier frames too
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(SR // 2)).astype(np.float32)
    later = audio.copy()
    later[-cfg.hop_length:] = 0
    za, zb = encode(model, audio), encode(model, later)
    assert not np.allclose(za[-3], zb[-3])
    assert np.array_equal(za[:2], zb[:2])   # but only within its receptive field
    # A latent of F frames decodes to exactly F · hop samples
    out = decode(model, za[:3], temperature=0.0)
    assert out.shape == (3 * cfg.hop_length,)


def test_config_round_trip_and_unknown_fields():
    cfg = autoencoder_config("tiny")
    assert type(cfg).from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="Unknown AutoencoderConfig field"):
        type(cfg).from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="must divide hop_length"):
        autoencoder_config("tiny", encoder_hop=100)


# ---- round trip -----------------------------------------------------------------------------
def test_trained_round_trip_beats_untrained(ae, clips):
    """Training lowers the held-out teacher-forced loss (by over a nat on any machine: 5.5 → 4.2 here).
    How good the tiny model's reconstructions sound is not asserted: that varies with the CPU the
    fixture trained on, and model quality is measured by `wavenet evaluate`, not by tests."""
    torch.manual_seed(0)
    untrained = WaveNetAutoencoder(ae.config).eval()
    trained_loss = np.mean([_tf_loss(ae, c) for c in clips])
    untrained_loss = np.mean([_tf_loss(untrained, c) for c in clips])
    assert trained_loss < untrained_loss
    # decode: the clips reconstruct in one batched call, a whole number of latent frames each, finite
    zs = [encode(ae, c) for c in clips[:3]]
    rec = decode(ae, zs, seed=1)
    assert rec.shape == (3, len(zs[0]) * ae.config.hop_length) and np.isfinite(rec).all()


def test_decode_is_deterministic_per_seed_and_batched(ae, clips):
    z = encode(ae, clips[0])
    a = decode(ae, z, seed=3)
    b = decode(ae, [z, z], seed=3)
    assert np.array_equal(a, b[0]) and np.array_equal(b[0], b[1])     # one seed shared by every stream
    c = decode(ae, [z, z], seed=[3, 4])
    assert np.array_equal(a, c[0]) and not np.array_equal(c[0], c[1])


# ---- interpolation --------------------------------------------------------------------------
def test_interpolation_endpoints_exact_and_padding(ae, clips):
    z_a, z_b = encode(ae, clips[0]), encode(ae, clips[1][: 3 * SR // 10])
    assert len(z_b) < len(z_a)
    pad = silence_latent(ae)
    mixes = interpolate(z_a, z_b, [0.0, 0.5, 1.0], pad=pad)
    assert mixes.shape == (3, len(z_a), z_a.shape[1])
    assert np.array_equal(mixes[0], z_a)
    assert np.array_equal(mixes[2][: len(z_b)], z_b)
    assert np.array_equal(mixes[2][len(z_b):], np.broadcast_to(pad, (len(z_a) - len(z_b), len(pad))))
    assert np.allclose(mixes[1][: len(z_b)], 0.5 * (z_a[: len(z_b)] + z_b), atol=1e-6)
    # scalar α gives one latent; the same-length case needs no padding
    assert np.array_equal(interpolate(z_a, z_a * 2, 1.0), z_a * 2)
    # without a pad code the shorter latent repeats its last frame
    assert np.array_equal(interpolate(z_a, z_b, 1.0)[-1], z_b[-1])
    # several α decode in one batch of the same length
    audio = decode(ae, mixes, seed=0)
    assert audio.shape == (3, len(z_a) * ae.config.hop_length)


# ---- PCA sliders ----------------------------------------------------------------------------
def test_pca_shipped_in_checkpoint_and_orthonormal(tiny_ae_run, ae, clips):
    from safetensors import safe_open
    with safe_open(str(tiny_ae_run / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert {"pca.mean", "pca.components", "pca.std", "pca.fitted"} <= keys
    mean, comps, std = principal_directions(ae)
    dims = ae.config.latent_dim
    assert comps.shape == (dims, dims)
    assert np.allclose(comps @ comps.T, np.eye(dims), atol=1e-5)
    assert np.all(np.diff(std) <= 1e-6) and std[0] > 0            # sorted by falling variance
    z = encode(ae, clips[2])
    moved = edit(ae, z, offsets={0: 1.5})                          # +1.5 corpus std along direction 0, every frame
    assert np.allclose(moved - z, 1.5 * std[0] * comps[0], atol=1e-4 * (1 + np.abs(z).max()))
    assert np.allclose(pca_coordinates(ae, moved)[:, 0] - pca_coordinates(ae, z)[:, 0], 1.5, atol=1e-3)
    flat = edit(ae, z, scales=[1, 0])                              # sequence form: direction 1 scaled to 0
    assert np.allclose((flat - mean) @ comps[1], 0, atol=1e-4 * (1 + np.abs(z).max()))
    assert np.allclose((flat - mean) @ comps[0], (z - mean) @ comps[0], atol=1e-4 * (1 + np.abs(z).max()))
    assert np.array_equal(edit(ae, z), z)
    with pytest.raises(ValueError, match="direction 99 does not exist"):
        edit(ae, z, offsets={99: 1})


def test_pitch_probe_shift(ae, clips):
    z = encode(ae, clips[0])
    voiced, midi = latent_pitch(ae, z)
    assert voiced.shape == midi.shape == (len(z),) and np.all((voiced >= 0) & (voiced <= 1))
    _, higher = latent_pitch(ae, shift_pitch(ae, z, 12.0))
    assert np.allclose(higher - midi, 12.0, atol=1e-2)


def test_untrained_model_has_no_pca():
    model = WaveNetAutoencoder(autoencoder_config("tiny"))
    with pytest.raises(ValueError, match="no PCA directions"):
        principal_directions(model)


# ---- .npy latents ---------------------------------------------------------------------------
def test_latent_npy_round_trip_and_malformed(ae, clips, tmp_path):
    z = encode(ae, clips[0])
    path = save_latent(tmp_path / "z.npy", z)
    assert np.array_equal(load_latent(path, ae), z)
    dims = ae.config.latent_dim
    bad = {
        "shape.npy": (np.zeros((4, dims + 1), np.float32), r"expected shape \(frames, 8\)"),
        "flat.npy": (np.zeros(dims, np.float32), r"expected shape \(frames, dims\)"),
        "cube.npy": (np.zeros((2, 4, dims), np.float32), r"expected shape \(frames, dims\)"),
        "empty.npy": (np.zeros((0, dims), np.float32), "0 frames"),
        "nan.npy": (np.full((4, dims), np.nan, np.float32), "NaN or infinite"),
        "inf.npy": (np.full((4, dims), np.inf, np.float32), "NaN or infinite"),
        "text.npy": (np.array([["a"] * dims] * 4), "expected a float array"),
        "long.npy": (np.zeros((100_000, dims), np.float32), "a latent must have 1 to"),
    }
    for name, (arr, message) in bad.items():
        np.save(tmp_path / name, arr)
        with pytest.raises(ValueError, match=message) as e:
            load_latent(tmp_path / name, ae)
        assert "\n" not in str(e.value) and name in str(e.value)
    np.save(tmp_path / "pickle.npy", np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        load_latent(tmp_path / "pickle.npy", ae)
    (tmp_path / "fake.npy").write_bytes(b"\x80\x04not numpy at all")
    with pytest.raises(ValueError, match="not a .npy file"):
        load_latent(tmp_path / "fake.npy", ae)
    with pytest.raises(FileNotFoundError):
        load_latent(tmp_path / "missing.npy", ae)
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_latent(ae, np.where(np.arange(dims) == 3, np.nan, z))


# ---- CLI ------------------------------------------------------------------------------------
def test_cli_end_to_end(tiny_ae_run, ae, clips, tmp_path, capsys):
    model = str(tiny_ae_run / "model.safetensors")
    hop = ae.config.hop_length
    # any rate and channel count: a stereo 22.05 kHz file of 0.4 s
    t = np.arange(int(0.4 * 22050)) / 22050
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    a = _wav(tmp_path / "a.wav", stereo, 22050)
    b = _wav(tmp_path / "b.wav", clips[1])
    z_path = tmp_path / "z.npy"
    assert cli_main(["encode", str(a), "--model", model, "--out", str(z_path)]) == 0
    z = load_latent(z_path, ae)
    assert z.shape == (-(-int(0.4 * SR) // hop), ae.config.latent_dim)

    out = tmp_path / "dec.wav"
    assert cli_main(["decode", str(z_path), "--model", model, "--out", str(out), "--seed", "2",
                     "--temperature", "0.8", "--offset", "0=1.0"]) == 0
    audio, sr = sf.read(out)
    assert sr == SR and len(audio) == len(z) * hop

    rec = tmp_path / "rec.wav"
    assert cli_main(["reconstruct", str(b), "--model", model, "--out", str(rec)]) == 0
    audio, sr = sf.read(rec)
    assert sr == SR and len(audio) == -(-len(clips[1]) // hop) * hop

    morph = tmp_path / "morph"
    assert cli_main(["interpolate", str(a), str(b), "--model", model, "--alpha", "0", "0.5", "1",
                     "--out-dir", str(morph)]) == 0
    files = sorted(p.name for p in morph.iterdir())
    assert files == ["alpha-0.5.wav", "alpha-0.wav", "alpha-1.wav"]
    lengths = {len(sf.read(morph / f)[0]) for f in files}
    assert lengths == {-(-len(clips[1]) // hop) * hop}            # the longer clip's length

    # user mistakes: one-line errors, exit status 2
    capsys.readouterr()
    np.save(tmp_path / "nan.npy", np.full((3, ae.config.latent_dim), np.nan, np.float32))
    assert cli_main(["decode", str(tmp_path / "nan.npy"), "--model", model, "--out", str(tmp_path / "x.wav")]) == 2
    long = _wav(tmp_path / "long.wav", np.zeros(int(10.5 * SR), np.float32))
    assert cli_main(["encode", str(long), "--model", model, "--out", str(tmp_path / "l.npy")]) == 2
    assert cli_main(["decode", str(z_path), "--model", model, "--offset", "x=1"]) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite" in err and "10 s limit" in err and "--offset expects K=VALUE" in err
    assert not (tmp_path / "x.wav").exists()
    assert cli_main(["encode", str(long), "--model", model, "--out", str(tmp_path / "l.npy"), "--truncate"]) == 0
    assert load_latent(tmp_path / "l.npy", ae).shape[0] == 10 * SR // hop + (1 if (10 * SR) % hop else 0)

