"""Evaluation of a WaveNet autoencoder (the figures in its model card).

Measures, on held-out corpus clips (``NoteCorpus`` with a seed the model was not trained on):

* **pitch** — pYIN f0 (65–1050 Hz) of the original and of its reconstruction, frame by frame;
  a clip's error is the median |cents| over the original's voiced frames, a frame where the
  reconstruction is unvoiced counting as an infinite error. Target: ≤ 50 cents for ≥ 90 % of clips.
* **log-mel distance** — mean absolute difference in dB of 64-band log-mel spectrograms
  (n_fft 1024, hop 256, floor −80 dB), original vs reconstruction, against the mean distance
  between two different held-out clips. Target: ratio ≤ 0.5.
* **morph brightness** — for pairs of clips of different instruments whose spectral centroids
  differ by at least 25 %, decode ``n_alphas`` evenly spaced α from 0 to 1 (one batch, one
  shared seed); the energy-weighted mean spectral centroid of the decoded audio should move
  from one end to the other: Spearman ρ(α, centroid), signed by the originals' order, ≥ 0.8.
  Target: ≥ 80 % of pairs.
* the same measures, without targets, on a few recordings outside the corpus
  (``outside_recordings``: espeak-ng speech and sox synth when installed, numpy-made sounds).

``python -m wavenet_core.evaluation.autoencoder --model autoencoder --out eval.json``
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..controls.autoencoder import (check_autoencoder, clip_f0, decode, encode_batch, interpolate, plan_f0, silence_latent)

EVAL_CORPUS_SEED = 9001          # held out: training uses the corpus with --seed (0 for the shipped model)
PITCH_FMIN, PITCH_FMAX = 65.0, 1050.0
MEL = dict(n_fft=1024, hop_length=256, n_mels=64)
FLOOR_DB = -80.0
TARGETS = {"pitch_within_50_cents_share": 0.90, "mel_distance_ratio": 0.5, "morph_monotonic_share": 0.80,
           "morph_spearman": 0.8, "pitch_cents": 50.0}


# ---- measures -------------------------------------------------------------------------------
def log_mel_db(audio: np.ndarray, sr: int) -> np.ndarray:
    import librosa
    S = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=sr, power=2.0, **MEL)
    return np.maximum(10 * np.log10(np.maximum(S, 1e-12)), FLOOR_DB)


def mel_distance(a_db: np.ndarray, b_db: np.ndarray) -> float:
    n = min(a_db.shape[1], b_db.shape[1])
    return float(np.mean(np.abs(a_db[:, :n] - b_db[:, :n])))


def pitch_track(audio: np.ndarray, sr: int, hop: int = 256) -> np.ndarray:
    from ..measure.descriptors import f0_contour
    return f0_contour(audio, sr, hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)


def frame_pitch_accuracy(f0_ref: np.ndarray, f0_test: np.ndarray, semitones: float = 0.0) -> tuple[int, int]:
    """(frames within 50 cents, voiced reference frames): per frame, against the reference's pitch moved
    by ``semitones``; an unvoiced test frame where the reference is voiced counts as a miss."""
    n = min(len(f0_ref), len(f0_test))
    ref, test = f0_ref[:n] * 2.0 ** (semitones / 12.0), f0_test[:n]
    voiced = f0_ref[:n] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (test > 0) & (np.abs(1200 * np.log2(np.maximum(test, 1e-9) / np.maximum(ref, 1e-9))) <= TARGETS["pitch_cents"])
    return int((ok & voiced).sum()), int(voiced.sum())


def pitch_error_cents(f0_ref: np.ndarray, f0_test: np.ndarray) -> float | None:
    """Median |cents| over the reference's voiced frames (unvoiced test frames count as ∞); None if < 5 voiced."""
    n = min(len(f0_ref), len(f0_test))
    ref, test = f0_ref[:n], f0_test[:n]
    voiced = ref > 0
    if voiced.sum() < 5:
        return None
    with np.errstate(divide="ignore"):
        err = np.where(test[voiced] > 0, np.abs(1200 * np.log2(np.maximum(test[voiced], 1e-9) / ref[voiced])), np.inf)
    return float(np.median(err))


def brightness(audio: np.ndarray, sr: int) -> float:
    """Energy-weighted mean spectral centroid (Hz) over frames within 40 dB of the loudest."""
    import librosa
    y = np.asarray(audio, dtype=np.float32)
    cent = librosa.feature.spectral_centroid(y=y, sr=sr, n_fft=1024, hop_length=256)[0]
    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=256)[0]
    n = min(len(cent), len(rms))
    cent, w = cent[:n], rms[:n] ** 2
    if w.max() <= 0:
        return 0.0
    w = np.where(w >= w.max() * 1e-4, w, 0.0)
    return float(np.sum(cent * w) / np.sum(w))


def spearman(x, y) -> float:
    from scipy.stats import spearmanr
    if np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y).statistic)


# ---- recordings outside the corpus ----------------------------------------------------------
def _tool_recording(cmd: list[str], sr: int) -> np.ndarray | None:
    from ..audio_io import load_audio
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.wav"
        try:
            subprocess.run([str(out) if c == "OUT" else c for c in cmd], check=True, capture_output=True, timeout=30)
            return load_audio(out, sr, max_seconds=10)
        except (OSError, subprocess.SubprocessError, ValueError):
            return None


def outside_recordings(sr: int, seconds: float = 1.5) -> dict[str, np.ndarray]:
    """Sounds unlike the corpus: espeak-ng speech and sox synth (when installed) and numpy-made ones."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    rng = np.random.default_rng(7)
    clips: dict[str, np.ndarray] = {}
    if shutil.which("espeak-ng"):
        y = _tool_recording(["espeak-ng", "-v", "en", "-s", "140", "-w", "OUT", "hello, how are you"], sr)
        if y is not None:
            clips["speech (espeak-ng)"] = y[:n]
    if shutil.which("sox"):
        y = _tool_recording(["sox", "-n", "-r", str(sr), "-c", "1", "OUT", "synth", f"{seconds}", "pluck", "A2",
                             "fade", "0", f"{seconds}", "0.3"], sr)
        if y is not None:
            clips["pluck A2, below the corpus range (sox)"] = y[:n]
        y = _tool_recording(["sox", "-n", "-r", str(sr), "-c", "1", "OUT", "synth", f"{seconds}", "sine", "200-800",
                             "vol", "0.4"], sr)
        if y is not None:
            clips["sine glide 200-800 Hz (sox)"] = y[:n]
    # a sung "aah": glottal pulses at 150 Hz with vibrato through three formant resonators
    from scipy.signal import lfilter
    f0 = 150 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5 * t))
    phase = np.cumsum(f0) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0)
    voice = np.zeros(n)
    for fc, bw, g in [(700, 110, 1.0), (1220, 120, 0.5), (2600, 160, 0.25)]:
        r = np.exp(-np.pi * bw / sr)
        voice += g * lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / sr), r * r], pulses)
    voice *= np.minimum(1, t / 0.05) * np.minimum(1, (seconds - t) / 0.1)
    clips["sung vowel 150 Hz (numpy formants)"] = (0.3 * voice / np.abs(voice).max()).astype(np.float32)
    # Karplus–Strong string at 196 Hz (a physical model, not the corpus' additive pluck)
    period = int(round(sr / 196.0))
    buf = rng.uniform(-1, 1, period)
    ks = np.zeros(n)
    for i in range(n):
        ks[i] = buf[i % period]
        buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
    clips["Karplus-Strong string 196 Hz (numpy)"] = (0.5 * ks / np.abs(ks).max()).astype(np.float32)
    # an inharmonic metal bar: partials at 1, 2.76, 5.40, 8.93 × 330 Hz
    bar = sum(np.exp(-t * (2 + 3 * k)) * np.sin(2 * np.pi * 330 * r * t) / (k + 1)
              for k, r in enumerate([1.0, 2.76, 5.40, 8.93]))
    clips["inharmonic bar 330 Hz (numpy)"] = (0.4 * bar / np.abs(bar).max()).astype(np.float32)
    return {k: np.asarray(v, dtype=np.float32) for k, v in clips.items()}


# ---- evaluation -----------------------------------------------------------------------------
def _reconstruct_all(model, clips: list[np.ndarray], *, temperature: float, seed: int, method, progress,
                    transpose: float = 0.0):
    """Encode every clip and decode all reconstructions in batched calls (clips of one length). A
    pitch-aware decoder gets each clip's own pitch track (moved by ``transpose`` semitones)."""
    zs = encode_batch(model, clips)
    f0s = None
    if model.decoder.config.excitation_dim:
        f0s = [plan_f0(clip_f0(model, c), transpose) for c in clips]
    out = [None] * len(clips)
    by_len: dict[int, list[int]] = {}
    for i, z in enumerate(zs):
        by_len.setdefault(len(z), []).append(i)
    for idx in by_len.values():
        audio = decode(model, [zs[i] for i in idx], temperature=temperature, seed=[seed + i for i in idx],
                       method=method, progress=progress, f0=None if f0s is None else [f0s[i] for i in idx])
        for i, a in zip(idx, audio):
            out[i] = a[: len(clips[i])]
    return zs, out


def _clip_measures(orig: np.ndarray, recon: np.ndarray, sr: int) -> dict:
    f0_o, f0_r = pitch_track(orig, sr), pitch_track(recon, sr)
    err = pitch_error_cents(f0_o, f0_r)
    return {"pitch_error_cents": None if err is None else (round(err, 1) if np.isfinite(err) else "unvoiced"),
            "pitch_ok": None if err is None else bool(err <= TARGETS["pitch_cents"]),
            "mel_distance_db": round(mel_distance(log_mel_db(orig, sr), log_mel_db(recon, sr)), 2),
            "brightness_hz": [round(brightness(orig, sr)), round(brightness(recon, sr))]}


def evaluate_autoencoder(model, *, n_clips: int = 30, n_pairs: int = 10, n_alphas: int = 7, seed: int = 0,
                         temperature: float = 1.0, method: str | None = None, clip_seconds: float = 1.5,
                         outside: bool = True, corpus_seed: int = EVAL_CORPUS_SEED, quick: bool = False,
                         progress: Callable[[int, int], None] | None = None, log=print) -> dict:
    """Run the evaluation; returns a JSON-ready dict with per-clip figures, summaries and targets.

    ``quick``: a smoke-sized run (12 clips, 4 pairs × 5 α, no outside recordings).
    """
    if quick:
        n_clips, n_pairs, n_alphas, outside = min(n_clips, 12), min(n_pairs, 4), min(n_alphas, 5), False
    from ..data.corpus import INSTRUMENTS, NoteCorpus
    model = check_autoencoder(model)
    cfg = model.config
    sr = cfg.sample_rate
    t0 = time.perf_counter()
    corpus = NoteCorpus(sample_rate=sr, hop_length=cfg.hop_length, seed=corpus_seed, size=n_clips, seconds=clip_seconds)
    examples = list(corpus)
    clips = [e.audio for e in examples]

    # 1. reconstructions
    log(f"reconstructing {len(clips)} held-out corpus clips …")
    zs, recons = _reconstruct_all(model, clips, temperature=temperature, seed=seed, method=method, progress=progress)
    per_clip = []
    for e, r in zip(examples, recons):
        per_clip.append({"name": e.name, **_clip_measures(e.audio, r, sr)})
    mels = [log_mel_db(c, sr) for c in clips]
    between = [mel_distance(mels[i], mels[j]) for i in range(len(mels)) for j in range(i + 1, len(mels))]
    baseline = float(np.mean(between))
    judged = [c for c in per_clip if c["pitch_ok"] is not None]
    pitch_share = float(np.mean([c["pitch_ok"] for c in judged])) if judged else 0.0
    finite = [c["pitch_error_cents"] for c in judged if isinstance(c["pitch_error_cents"], float)]
    recon_dist = float(np.mean([c["mel_distance_db"] for c in per_clip]))
    tracks = [pitch_track(c, sr) for c in clips]
    hits = [frame_pitch_accuracy(t, pitch_track(r, sr)) for t, r in zip(tracks, recons)]
    frame_share = sum(h for h, _ in hits) / max(1, sum(n for _, n in hits))
    transposed = {}
    if model.decoder.config.excitation_dim:
        # transposition, exact through the excitation: frames within 50 cents of the moved pitch
        k = min(len(clips), 6 if quick else 12)
        for shift in (12, -12):
            _, outs = _reconstruct_all(model, clips[:k], temperature=temperature, seed=seed + 500, method=method,
                                       progress=progress, transpose=shift)
            h = [frame_pitch_accuracy(tracks[i], pitch_track(o, sr), shift) for i, o in enumerate(outs)]
            transposed[f"{shift:+d}"] = round(sum(a for a, _ in h) / max(1, sum(b for _, b in h)), 3)

    # 2. morphs between clips of different instruments with clearly different brightness
    log(f"morphing {n_pairs} pairs × {n_alphas} α …")
    bright = [brightness(c, sr) for c in clips]
    rng = np.random.default_rng(seed)
    pairs = []
    for i, j in rng.permutation([(i, j) for i in range(len(clips)) for j in range(len(clips)) if i < j]):
        if len(pairs) >= n_pairs:
            break
        if examples[i].instrument != examples[j].instrument and max(bright[i], bright[j]) >= 1.25 * min(bright[i], bright[j]):
            if not any(i in p or j in p for p in pairs):     # each clip in at most one pair
                pairs.append((int(i), int(j)))
    alphas = np.linspace(0.0, 1.0, n_alphas)
    pad = silence_latent(model)
    morphs = []
    for k, (i, j) in enumerate(pairs):
        mixes = list(interpolate(zs[i], zs[j], alphas, pad=pad))
        f0 = None
        if model.decoder.config.excitation_dim:     # the pitch held at clip a's while the timbre moves
            f_a = clip_f0(model, clips[i])
            f0 = [np.pad(f_a, (0, max(0, len(mixes[0]) - len(f_a))))[: len(mixes[0])]] * len(mixes)
        audio = decode(model, mixes, temperature=temperature, seed=seed + 1000 + k, method=method,
                       progress=progress, f0=f0)
        cents = [brightness(a, sr) for a in audio]
        sign = 1.0 if bright[j] >= bright[i] else -1.0
        rho = sign * spearman(alphas, cents)
        morphs.append({"a": examples[i].name, "b": examples[j].name, "brightness_hz": [round(c) for c in cents],
                       "original_brightness_hz": [round(bright[i]), round(bright[j])], "spearman": round(rho, 3),
                       "monotonic": bool(rho >= TARGETS["morph_spearman"])})
    morph_share = float(np.mean([m["monotonic"] for m in morphs])) if morphs else 0.0

    result = {
        "model": getattr(model, "checkpoint_path", "in memory"),
        "settings": {"quick": quick, "n_clips": n_clips, "clip_seconds": clip_seconds, "corpus_seed": corpus_seed, "seed": seed,
                     "temperature": temperature, "method": method or "default", "alphas": [round(float(a), 4) for a in alphas],
                     "pitch_range_hz": [PITCH_FMIN, PITCH_FMAX], "mel": {**MEL, "floor_db": FLOOR_DB}},
        "summary": {
            "pitch_within_50_cents_share": round(pitch_share, 3),
            "pitch_frames_within_50": round(frame_share, 3),
            "transpose_frames_within_50": transposed,
            "pitch_clips_judged": len(judged),
            "median_pitch_error_cents": round(float(np.median(finite)), 1) if finite else None,
            "reconstruction_mel_distance_db": round(recon_dist, 2),
            "between_clips_mel_distance_db": round(baseline, 2),
            "mel_distance_ratio": round(recon_dist / baseline, 3),
            "morph_pairs": len(morphs),
            "morph_monotonic_share": round(morph_share, 3),
            "morph_median_spearman": round(float(np.median([m["spearman"] for m in morphs])), 3) if morphs else None,
        },
        "targets": TARGETS,
        "clips": per_clip,
        "morphs": morphs,
    }
    s = result["summary"]
    result["met"] = {"pitch": s["pitch_within_50_cents_share"] >= TARGETS["pitch_within_50_cents_share"],
                     "mel": s["mel_distance_ratio"] <= TARGETS["mel_distance_ratio"],
                     "morph": s["morph_monotonic_share"] >= TARGETS["morph_monotonic_share"]}
    result["by_instrument"] = {
        name: {"pitch_ok_share": round(float(np.mean([c["pitch_ok"] for c, e in zip(per_clip, examples)
                                                       if e.instrument == k and c["pitch_ok"] is not None] or [0])), 3),
               "mel_distance_db": round(float(np.mean([c["mel_distance_db"] for c, e in zip(per_clip, examples)
                                                       if e.instrument == k] or [0])), 2)}
        for k, name in enumerate(INSTRUMENTS) if any(e.instrument == k for e in examples)}

    # 3. outside the corpus (no targets)
    if outside:
        log("recordings outside the corpus …")
        rec = outside_recordings(sr, clip_seconds)
        names = list(rec)
        _, outs = _reconstruct_all(model, [rec[n] for n in names], temperature=temperature, seed=seed + 2000,
                                   method=method, progress=progress)
        result["outside"] = [{"name": n, **_clip_measures(rec[n], o, sr),
                              "mel_distance_ratio": round(mel_distance(log_mel_db(rec[n], sr), log_mel_db(o, sr)) / baseline, 3)}
                             for n, o in zip(names, outs)]
    result["wall_time_s"] = round(time.perf_counter() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> None:
    import torch
    p = argparse.ArgumentParser(prog="python -m wavenet_core.evaluation.autoencoder", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="autoencoder")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--clips", type=int, default=30)
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--alphas", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--reference", action="store_true")
    p.add_argument("--no-outside", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from ..model.checkpoint import load_model
    res = evaluate_autoencoder(load_model(args.model), n_clips=args.clips, n_pairs=args.pairs, n_alphas=args.alphas,
                               seed=args.seed, temperature=args.temperature,
                               method="reference" if args.reference else None, outside=not args.no_outside)
    text = json.dumps(res, indent=2)
    if args.out:
        from ..audio_io import atomic_write_bytes
        atomic_write_bytes(args.out, lambda tmp: Path(tmp).write_text(text + "\n"))
    print(json.dumps({"summary": res["summary"], "met": res["met"]}, indent=2))


if __name__ == "__main__":
    main()
