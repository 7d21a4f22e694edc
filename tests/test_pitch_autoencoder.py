"""The pitch-aware autoencoder: the clip's own f0 drives the decoder's excitation (keep, transpose,
flatten, morph), and warm starts that add the excitation to a trained model."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_core import WaveNet, preset_config
from wavenet_core.controls import autoencoder as ae
from wavenet_core.model.autoencoder import WaveNetAutoencoder, autoencoder_config
from wavenet_core.model.checkpoint import save_model
from wavenet_core.data import NoteCorpus
from wavenet_core.model.wavenet import WaveNetConfig
from wavenet_core.training.warmstart import warm_start


def tiny_ae(excitation: str = "sine", seed: int = 0) -> WaveNetAutoencoder:
    torch.manual_seed(seed)
    return WaveNetAutoencoder(autoencoder_config("tiny", excitation=excitation)).eval()


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return NoteCorpus(size=6, seconds=0.5, phrase_share=0.0).example(3).audio      # a clarinet note


def test_plan_f0_keeps_transposes_and_flattens():
    f0 = np.array([0, 220, 233.08, 0, 246.94], dtype=np.float32)
    np.testing.assert_allclose(ae.plan_f0(f0, transpose=12), f0 * 2, rtol=1e-6)
    np.testing.assert_allclose(ae.plan_f0(f0, transpose=-7)[1], 220 * 2 ** (-7 / 12), rtol=1e-6)
    flat = ae.plan_f0(f0, flatten=True)
    assert flat[0] == 0 and flat[3] == 0 and np.allclose(flat[[1, 2, 4]], 233.08, rtol=1e-4)
    np.testing.assert_allclose(ae.plan_f0(f0, flatten=57.0)[[1, 2, 4]], 220.0, rtol=1e-6)
    with pytest.raises(ValueError, match="Transpose"):
        ae.plan_f0(f0, transpose=60)


def test_blend_f0_interpolates_in_log_frequency():
    a, b = np.array([220.0, 220.0, 0.0]), np.array([440.0, 0.0, 330.0])
    np.testing.assert_allclose(ae.blend_f0(a, b, 0.5)[0], 311.127, rtol=1e-4)   # the geometric mean
    assert ae.blend_f0(a, b, 0.0).tolist() == pytest.approx(a.tolist())
    assert ae.blend_f0(a, b, 1.0).tolist() == pytest.approx(b.tolist())


def test_clip_f0_reads_the_clips_pitch(clip):
    model = tiny_ae()
    f0 = ae.clip_f0(model, clip)
    assert len(f0) == len(ae.encode(model, clip))            # one value per latent frame
    voiced = f0[f0 > 0]
    label = NoteCorpus(size=6, seconds=0.5, phrase_share=0.0).example(3).f0
    want = np.median(label[label > 0])
    assert len(voiced) >= len(f0) // 2
    assert abs(1200 * np.log2(np.median(voiced) / want)) < 50


def test_transpose_moves_the_excitation_exactly(clip, monkeypatch):
    """reconstruct() hands the decoder the clip's f0 times 2^(k/12): check what reaches generate()."""
    model = tiny_ae()
    seen = []
    real = ae.decode

    def spy(m, z, **kw):
        seen.append(kw.get("f0"))
        return real(m, z, **kw)
    monkeypatch.setattr(ae, "decode", spy)
    kept = ae.reconstruct(model, clip, seed=1)
    up = ae.reconstruct(model, clip, seed=1, transpose=7)
    base = ae.clip_f0(model, clip)
    np.testing.assert_allclose(seen[0], base, rtol=1e-6)
    np.testing.assert_allclose(seen[1], base * 2 ** (7 / 12), rtol=1e-6)
    assert kept.shape == up.shape and not np.array_equal(kept, up)   # the excitation reaches the audio


def test_without_excitation_pitch_controls_are_refused(clip):
    with pytest.raises(ValueError, match="pitch-aware"):
        ae.reconstruct(tiny_ae("none"), clip, transpose=3)


def test_decode_without_f0_reads_the_pitch_probe(clip):
    model = tiny_ae()
    z = ae.encode(model, clip)
    probe = ae.latent_f0(model, z)
    np.testing.assert_array_equal(ae.decode(model, z, seed=2), ae.decode(model, z, seed=2, f0=probe))


def test_morph_pitch_follows_the_chosen_clip(clip, monkeypatch):
    model = tiny_ae()
    other = NoteCorpus(size=6, seconds=0.5, phrase_share=0.0).example(5).audio
    seen = []
    real = ae.decode
    monkeypatch.setattr(ae, "decode", lambda m, z, **kw: (seen.append(kw["f0"]), real(m, z, **kw))[1])
    ae.morph(model, clip, other, [0.0, 1.0], pitch="a")
    ae.morph(model, clip, other, [0.0, 1.0], pitch="b")
    f_a, f_b = ae.clip_f0(model, clip), ae.clip_f0(model, other)
    np.testing.assert_array_equal(seen[0][1][: len(f_a)], f_a)
    np.testing.assert_array_equal(seen[1][0][: len(f_b)], f_b)
    with pytest.raises(ValueError, match="Morph pitch"):
        ae.morph(model, clip, other, [0.5], pitch="c")


def test_warm_start_adds_the_excitation_without_changing_the_output():
    torch.manual_seed(0)
    old = WaveNet(preset_config("tiny", local_dim=6, n_instruments=3, global_dim=2)).eval()
    new = WaveNet(WaveNetConfig.from_dict({**old.config.to_dict(), "excitation": "sine"})).eval()
    report = warm_start(new, old)
    assert len(report["widened"]) == old.config.n_layers and not report["skipped"]
    x = torch.randint(0, 256, (2, 500))
    kw = dict(instrument=torch.tensor([0, 2]), global_cond=torch.randn(2, 2), local_cond=torch.randn(2, 6, 5))
    with torch.no_grad():
        assert torch.equal(old(x, **kw), new(x, **kw, f0=torch.full((2, 5), 220.0)))
    # the excitation's columns start at zero, the others are the old model's
    w_new, w_old = new.layers[0].cond.weight, old.layers[0].cond.weight
    assert torch.all(w_new[:, 8:16] == 0) and torch.equal(w_new[:, :8], w_old[:, :8])
    assert torch.equal(w_new[:, 16:], w_old[:, 8:])


def test_cli_reconstruct_transpose(tmp_path, clip):
    model = tiny_ae()
    save_model(model, tmp_path / "ae.safetensors")
    sf.write(tmp_path / "clip.wav", clip, 16000)
    out = tmp_path / "up.wav"
    r = subprocess.run([sys.executable, "-m", "wavenet_core", "reconstruct", str(tmp_path / "clip.wav"), "--model",
                        str(tmp_path / "ae.safetensors"), "--transpose", "7", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    audio, sr = sf.read(out)
    assert sr == 16000 and len(audio) >= len(clip)
    save_model(tiny_ae("none"), tmp_path / "plain.safetensors")
    r = subprocess.run([sys.executable, "-m", "wavenet_core", "reconstruct", str(tmp_path / "clip.wav"), "--model",
                        str(tmp_path / "plain.safetensors"), "--flatten", "A3", "--out", str(tmp_path / "x.wav")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "pitch-aware" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.wav").exists()


def test_steering_holds_the_pitch_and_reports_what_moved(clip, monkeypatch):
    """Every candidate decodes with the one held pitch contour; the result lists untargeted
    properties (pitch, voicing, noisiness) with start, final and whether they moved."""
    from wavenet_core.controls import steering

    model = tiny_ae()
    ae.fit_pca(model, [clip])
    z = ae.encode(model, clip)
    f0 = ae.clip_f0(model, clip)
    seen = []
    real = ae.decode

    def spy(m, zs, **kw):
        seen.append(kw["f0"])
        return real(m, zs, **kw)
    monkeypatch.setattr(steering, "decode", spy)
    r = steering.steer(model, z, ["brightness=5000..6000"], budget=4, population=3, seed=0, f0=f0)
    assert seen and all(np.array_equal(f, f0) for call in seen for f in call)
    assert set(r.moved) == {"pitch", "voiced_fraction", "noisiness"}
    for m in r.moved.values():
        assert set(m) == {"start", "final", "tolerance", "moved", "per_seed"}
        assert [p["seed"] for p in m["per_seed"]] == r.seeds and len(r.seeds) >= 2
        assert m["moved"] == any(p["moved"] for p in m["per_seed"])
    d = r.to_dict()
    assert d["moved_untargeted"] == [k for k, m in r.moved.items() if m["moved"]]
    assert "pitch" not in steering.steer(model, z, ["pitch=50..70"], budget=4, seed=0, f0=f0).moved


def test_held_properties_tolerances():
    from wavenet_core.controls.steering import held_properties
    start = {"pitch": 60.0, "voiced_fraction": 0.9, "noisiness": 0.01}
    same = held_properties(start, {"pitch": 60.3, "voiced_fraction": 0.85, "noisiness": 0.05}, [])
    assert not any(m["moved"] for m in same.values())
    moved = held_properties(start, {"pitch": 69.0, "voiced_fraction": 0.2, "noisiness": 0.3}, [])
    assert all(m["moved"] for m in moved.values())
    assert held_properties(start, {"pitch": None, "voiced_fraction": 0.9, "noisiness": 0.01}, [])["pitch"]["moved"]


# ---- named sliders ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slider_clips():
    return list(NoteCorpus(sample_rate=16000, hop_length=256, seed=11, size=8, seconds=0.75))


def test_slider_correlations_are_what_a_direct_computation_gives(slider_clips):
    """Pearson r of each PCA coordinate with loudness, brightness and pitch, recomputed here from the
    network's own encoder, librosa's centroid and the corpus's f0 labels, frame by frame."""
    import librosa

    from wavenet_core.measure.descriptors import frame_loudness_db

    model = tiny_ae()
    ae.fit_pca(model, [e.audio for e in slider_clips])
    meanings = ae.slider_meanings(model, slider_clips)
    assert [m.direction for m in meanings] == list(range(model.config.latent_dim))
    hop = model.config.hop_length
    mean, comps, std = ae.principal_directions(model)
    coords, loud, bright, pitch = [], [], [], []
    for e in slider_clips:
        with torch.no_grad():
            z = model.encode(torch.from_numpy(e.audio)[None])[0].T.numpy().astype(np.float64)
        level = frame_loudness_db(e.audio, hop)
        n = len(z)
        # librosa's frame k is centred on sample k·hop; the latent's on f·hop + hop/2
        y = np.pad(e.audio[hop // 2:], (0, hop))
        cent = librosa.feature.spectral_centroid(y=y, sr=16000, n_fft=1024, hop_length=hop, pad_mode="reflect")[0]
        keep = level[:n] >= ae.SLIDER_SOUNDING_DB
        coords.append(((z - mean) @ comps.T / std)[keep])
        loud.append(level[:n][keep])
        bright.append(cent[:n][keep])
        pitch.append(np.where(e.f0[:n] > 0, 69 + 12 * np.log2(np.maximum(e.f0[:n], 1e-9) / 440), np.nan)[keep])
    c = np.concatenate(coords)
    loud, bright, pitch = map(np.concatenate, (loud, bright, pitch))
    voiced = np.isfinite(pitch)
    for j, m in enumerate(meanings):
        assert m.frames == len(c)
        assert m.correlations["loudness"] == pytest.approx(np.corrcoef(c[:, j], loud)[0, 1], abs=1e-3)
        assert m.correlations["brightness"] == pytest.approx(np.corrcoef(c[:, j], bright)[0, 1], abs=1e-3)
        assert m.correlations["pitch"] == pytest.approx(np.corrcoef(c[voiced, j], pitch[voiced])[0, 1], abs=1e-3)
        assert m.name == ae.name_direction(m.correlations)[0]


@pytest.mark.parametrize("descriptor", ["brightness", "loudness", "noisiness", "attack"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_direction_built_to_equal_a_descriptor_gets_its_name(slider_clips, monkeypatch, descriptor, sign):
    """Latents whose dimension 2 IS the descriptor (frame-aligned), the rest independent noise, and
    identity PCA: direction 2 is named after it (+ or − side) with r = ±1; the others stay "mixed"."""
    model = tiny_ae()
    dims, hop = model.config.latent_dim, model.config.hop_length
    rng = np.random.default_rng(0)

    def fake_encode_batch(m, audios):
        out = []
        for a in audios:
            d = ae.frame_descriptors(a, 16000, hop, np.zeros(1))[descriptor]
            z = rng.standard_normal((len(d), dims)).astype(np.float32)
            z[:, 2] = sign * d
            out.append(z)
        return out
    monkeypatch.setattr(ae, "encode_batch", fake_encode_batch)
    model.pca.fitted.fill_(1)                       # identity directions, mean 0, std 1
    meanings = ae.slider_meanings(model, [e.audio for e in slider_clips])
    up, down = ae.SLIDER_DESCRIPTORS[descriptor]
    assert meanings[2].name == (up if sign > 0 else down) and meanings[2].descriptor == descriptor
    assert meanings[2].r == pytest.approx(sign, abs=1e-6)
    assert descriptor in meanings[2].label and meanings[2].name in meanings[2].label
    assert all(m.name == "mixed" for m in meanings if m.direction != 2)


def test_slider_meanings_are_cached_and_follow_a_refit(slider_clips, monkeypatch):
    model = tiny_ae()
    ae.fit_pca(model, [e.audio for e in slider_clips])
    monkeypatch.setattr(ae, "SLIDER_CLIPS", 4)
    first = ae.slider_meanings(model)
    calls = []
    real = ae.encode_batch
    monkeypatch.setattr(ae, "encode_batch", lambda m, a: (calls.append(1), real(m, a))[1])
    assert ae.slider_meanings(model) == first and not calls           # cached: nothing re-encoded
    ae.fit_pca(model, [e.audio for e in slider_clips[:3]])              # new directions: measured again
    ae.slider_meanings(model)
    assert calls
    with pytest.raises(ValueError, match="no PCA"):
        ae.slider_meanings(tiny_ae())


def test_cli_sliders_prints_names_and_correlations(tmp_path, slider_clips, monkeypatch, capsys):
    import json

    from wavenet_core.cli import main as cli_main

    model = tiny_ae()
    ae.fit_pca(model, [e.audio for e in slider_clips])
    save_model(model, tmp_path / "ae.safetensors")
    monkeypatch.setattr(ae, "SLIDER_CLIPS", 4)
    assert cli_main(["sliders", "--model", str(tmp_path / "ae.safetensors"), "--json"]) in (0, None)
    rows = json.loads(capsys.readouterr().out)
    assert [r["direction"] for r in rows] == list(range(model.config.latent_dim))
    assert all(r["name"] == ae.name_direction(r["correlations"])[0] for r in rows)


# ---- the evaluation's per-clip measures and card table -----------------------------------------
def test_reconstruction_record_counts_failures_apart(clip):
    from wavenet_core.evaluation import autoencoder as ev

    same = ev.reconstruction_record(clip, clip, 16000)
    assert same["frames"] > 10 and same["hits"] == same["frames"]
    assert not same["silent"] and not same["noise_only"] and same["loudness_l1_db"] == 0 and same["level_offset_db"] == 0
    quiet = ev.reconstruction_record(clip, clip * 10 ** (-45 / 20), 16000)        # 45 dB down: under -50 dB
    assert quiet["silent"] and not quiet["noise_only"] and quiet["hits"] < quiet["frames"] // 4
    assert quiet["level_offset_db"] == pytest.approx(-45, abs=0.5)
    noise = np.random.default_rng(0).standard_normal(len(clip)).astype(np.float32)
    noise *= np.sqrt(np.mean(clip ** 2) / np.mean(noise ** 2))                      # same level, no pitch
    hiss = ev.reconstruction_record(clip, noise, 16000)
    assert hiss["noise_only"] and not hiss["silent"] and hiss["hits"] < hiss["frames"] // 4
    # an octave up, judged against the original's pitch moved by +12
    t = np.arange(8000) / 16000
    low, high = (0.3 * np.sin(2 * np.pi * f * t).astype(np.float32) for f in (220.0, 440.0))
    up = ev.reconstruction_record(low, high, 16000, semitones=12)
    assert up["hits"] == up["frames"] > 0 and ev.reconstruction_record(low, high, 16000)["hits"] == 0
    s = ev.summarise_set([same, quiet, hiss])
    assert s["failures"] == 2 and s["silent"] == 1 and s["noise_only"] == 1
    assert s["pitch_frames_within_50"] == pytest.approx((same["hits"] + quiet["hits"] + hiss["hits"])
                                                        / (same["frames"] + quiet["frames"] + hiss["frames"]))
    assert s["loudness_l1_db"] == 0                                  # failures left out
    assert s["loudness_l1_db_with_failures"] > 10                    # and kept


def test_card_table_prints_targets_intervals_and_verdicts():
    from wavenet_core.evaluation import autoencoder as ev

    report = {"seeds": [0, 1000, 2000],
              "metrics": {"corpus_pitch_frames_within_50": 0.9712, "corpus_loudness_l1_db": 4.25, "corpus_failures": 1.0,
                          "recording_pitch_frames_within_50": None},
              "ci95": {"corpus_pitch_frames_within_50": 0.0123, "corpus_loudness_l1_db": 0.5, "corpus_failures": 1.2},
              "passed": {"corpus_pitch_frames_within_50": True, "corpus_loudness_l1_db": False}}
    lines = ev.card_table(report).splitlines()
    assert lines[0].startswith("| metric | target | model (mean ± 95 % CI, 3 seeds) |")
    pitch = next(x for x in lines if "held-out corpus: voiced frames" in x)
    assert "≥ 95.0 %" in pitch and "97.1 % ± 1.2" in pitch and pitch.endswith("| yes |")
    loud = next(x for x in lines if "failures left out" in x)
    assert "≤ 3.0 dB" in loud and "4.2 dB ± 0.5" in loud and loud.endswith("| **no** |")
    assert any("1.0 ± 1.2" in x for x in lines)
    assert not any("real recording" in x for x in lines)               # not measured: no row
