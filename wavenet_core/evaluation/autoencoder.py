"""Evaluation of a WaveNet autoencoder (the figures in its model card): ``wavenet evaluate --model
autoencoder`` and ``python -m wavenet_core.evaluation.autoencoder``.

Three runs by default (decode seeds ``seed + 1000·k``, the clips the same), reported as the mean
with a Student-t 95 % confidence half-width, like the WaveNet evaluation. Sets:

* **held-out corpus clips** — ``NoteCorpus(seed=9001)`` (training used seed 0);
* **SoundFont renders** — real sampled instruments (``data.soundfont.SoundFontCorpus``, all 16 GM
  instruments in turn, seed ``SOUNDFONT_SEED``: the shipped model never heard any of them);
* **a real recording** — evenly spaced excerpts of each recording ``data.recordings`` finds installed
  (music21's BSD-licensed monophonic melody);
* numpy-made sounds outside the corpus (first run only, no targets).

Measures, frame by frame at ``EVAL_HOP`` (``reconstruction_record``):

* **pitch** — the share of the original's voiced, sounding frames that the reconstruction
  reproduces within 50 cents (pitch tracks by ``descriptors.pitch_track``, 65–1050 Hz; a frame
  the reconstruction leaves unvoiced is a miss), pooled over the clips; also the share of clips
  whose median error is ≤ 50 cents (the unit of NSynth's pitch-classifier figure);
* **transposition ±12** — the same against the original's pitch moved by an octave;
* **failures** — reconstructions that come out silent (median level under -50 dB over the
  original's sounding frames) or noise-only (voiced on fewer than half of the frames where both
  sound, from a pitched original), counted apart; they stay in the pitch figures as misses;
* **loudness L1** — mean |level difference| in dB over the original's sounding frames, failures
  left out (and kept, as a second figure); the median level offset says whether it is too quiet;
* **log-mel distance** — mean absolute difference in dB of 64-band log-mel spectrograms
  (n_fft 1024, hop 256, floor −80 dB), against the mean distance between two held-out clips;
* **morph brightness** — for pairs of clips of different instruments whose spectral centroids
  differ by at least 25 %, decode ``n_alphas`` evenly spaced α (pitch held at clip a's): Spearman
  ρ(α, centroid), signed by the originals' order, ≥ 0.8 counts as monotonic.

``card_table(report)`` prints the card's table (metric, target, model ± CI, published anchor, met).
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
from ..measure.descriptors import SOUNDING_DB
from ..measure.timbre import MIN_VOICED
from .common import N_SEEDS, SEED_STRIDE, SILENT_DB

EVAL_CORPUS_SEED = 9001          # held out: training uses the corpus with --seed (0 for the shipped model)
SOUNDFONT_SEED = 9002            # SoundFont renders: the shipped model was trained on the NoteCorpus only
RECORDING_EXCERPTS, RECORDING_SECONDS = 4, 2.5
PITCH_FMIN, PITCH_FMAX = 65.0, 1050.0
EVAL_HOP = 256                   # frames of the pitch and level comparison (16 ms at 16 kHz)
MEL = dict(n_fft=1024, hop_length=256, n_mels=64)
FLOOR_DB = -80.0
TARGETS = {"morph_spearman": 0.8, "pitch_cents": 50.0}     # per-pair and per-frame thresholds (card targets: CARD_TARGETS)


# ---- measures -------------------------------------------------------------------------------
def log_mel_db(audio: np.ndarray, sr: int) -> np.ndarray:
    import librosa
    S = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=sr, power=2.0, **MEL)
    return np.maximum(10 * np.log10(np.maximum(S, 1e-12)), FLOOR_DB)


def mel_distance(a_db: np.ndarray, b_db: np.ndarray) -> float:
    n = min(a_db.shape[1], b_db.shape[1])
    return float(np.mean(np.abs(a_db[:, :n] - b_db[:, :n])))


def pitch_track(audio: np.ndarray, sr: int, hop: int = EVAL_HOP) -> np.ndarray:
    """f0 per frame (Hz, 0 unvoiced) by ``descriptors.pitch_track`` over 65–1050 Hz."""
    from ..measure import descriptors
    return descriptors.pitch_track(audio, sr, hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)


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


# ---- real and realistic recordings the model never saw ----------------------------------------
def soundfont_clips(sr: int, n: int, seconds: float, log=print) -> list:
    """``n`` SoundFont renders (real sampled instruments, every one of the 16 in turn; seed
    ``SOUNDFONT_SEED``, never used in training): corpus ``Example``s, or [] when the synthesiser or
    SoundFont is missing (said in the log)."""
    from ..data.soundfont import SoundFontCorpus, SoundFontError
    try:
        return list(SoundFontCorpus(sample_rate=sr, hop_length=EVAL_HOP, seed=SOUNDFONT_SEED, size=n, seconds=seconds))
    except SoundFontError as e:
        log(f"SoundFont renders skipped: {e}")
        return []


def recording_excerpts(sr: int, seconds: float, log=print) -> dict[str, np.ndarray]:
    """Excerpts of the real recordings ``data.recordings`` finds installed (music21's BSD-licensed
    monophonic melody): ``RECORDING_EXCERPTS`` of ``seconds`` each, evenly spaced; {} when none is."""
    from ..audio_io import load_audio
    from ..data.recordings import recording_paths
    out = {}
    for name, path in recording_paths().items():
        audio = load_audio(path, sr, max_seconds=None)
        n = int(seconds * sr)
        starts = np.linspace(0, max(0, len(audio) - n), RECORDING_EXCERPTS).astype(int)
        for k, a in enumerate(starts):
            clip = audio[a: a + n]
            peak = float(np.abs(clip).max()) if len(clip) else 0.0
            if peak > 0:
                out[f"{name} {a / sr:.1f}-{(a + n) / sr:.1f} s"] = clip.astype(np.float32)
    if not out:
        log("no real recording installed (pip install --no-deps music21): the recording rows are left out")
    return out


# ---- evaluation -----------------------------------------------------------------------------
def _reconstruct_all(model, clips: list[np.ndarray], *, temperature: float, seed: int, method, progress,
                     transpose: float = 0.0):
    """Encode every clip and decode all reconstructions in batched calls (clips of one length). A
    pitch-aware decoder gets each clip's own pitch track (moved by ``transpose`` semitones).
    Clip i decodes with sampling seed ``seed + i``."""
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


def reconstruction_record(orig: np.ndarray, recon: np.ndarray, sr: int, ref_f0: np.ndarray | None = None,
                          semitones: float = 0.0) -> dict:
    """One reconstruction against its original, frame by frame at ``EVAL_HOP`` (JSON-ready):

    * ``hits`` / ``frames`` — the original's voiced, sounding frames (≥ -40 dB) that the
      reconstruction reproduces within 50 cents of the original's pitch moved by ``semitones``
      (a frame it leaves unvoiced is a miss); ``pitch_error_cents`` median |error| per clip;
    * ``level_offset_db`` — median level of the reconstruction minus the original's over the
      original's sounding frames; ``loudness_l1_db`` — mean |difference| over those frames;
    * ``silent`` — the reconstruction's median level there is under ``SILENT_DB`` (-50 dB);
      ``noise_only`` — not silent but voiced on fewer than ``MIN_VOICED`` of the frames where both
      sound, while the original is voiced on at least that share (an unpitched original cannot fail so);
    * ``mel_distance_db`` — the log-mel distance.
    ``ref_f0``: the original's pitch track (Hz per ``EVAL_HOP`` frame) when already measured."""
    from ..measure.descriptors import frame_loudness_db, loudness_l1_db, pitch_frame_metrics
    ref = pitch_track(orig, sr, EVAL_HOP) if ref_f0 is None else ref_f0
    test = pitch_track(recon, sr, EVAL_HOP)
    lo, lr = frame_loudness_db(orig, EVAL_HOP), frame_loudness_db(recon, EVAL_HOP)
    n = min(len(ref), len(test), len(lo), len(lr))
    ref, test, lo, lr = ref[:n], test[:n], lo[:n], lr[:n]
    sounding = lo >= SOUNDING_DB
    moved = ref * 2.0 ** (semitones / 12.0)
    pm = pitch_frame_metrics(test, moved, frames=sounding, tolerance_cents=TARGETS["pitch_cents"])
    hits = int(round((pm["raw_pitch_accuracy"] or 0.0) * pm["frames"]))
    level = float(np.median(lr[sounding])) if sounding.any() else float(np.median(lr))
    both = sounding & (lr >= SOUNDING_DB)
    vf = float(np.mean(test[both] > 0)) if both.any() else 0.0
    orig_vf = float(np.mean(ref[sounding] > 0)) if sounding.any() else 0.0
    silent = level < SILENT_DB
    err = pitch_error_cents(moved, test)
    return {"hits": hits, "frames": int(pm["frames"]),
            "pitch_error_cents": None if err is None else (round(err, 1) if np.isfinite(err) else "unvoiced"),
            "pitch_ok": None if err is None else bool(err <= TARGETS["pitch_cents"]),
            "level_offset_db": round(level - float(np.median(lo[sounding])), 2) if sounding.any() else None,
            "loudness_l1_db": loudness_l1_db(lr, lo),
            "silent": bool(silent), "noise_only": bool(not silent and orig_vf >= MIN_VOICED and vf < MIN_VOICED),
            "mel_distance_db": round(mel_distance(log_mel_db(orig, sr), log_mel_db(recon, sr)), 2)}


def summarise_set(records: list[dict], baseline_db: float | None = None) -> dict:
    """Per-run figures of one set of reconstructions: frames within 50 cents (pooled, failures kept
    as misses), clips within 50 cents (median error), failures, loudness L1 (failures left out, and
    kept), median level offset, log-mel distance (and its ratio to ``baseline_db``)."""
    ok = [r for r in records if not (r["silent"] or r["noise_only"])]
    frames = sum(r["frames"] for r in records)
    judged = [r for r in records if r["pitch_ok"] is not None]
    mean = lambda xs: float(np.mean(xs)) if xs else None      # noqa: E731
    mel = mean([r["mel_distance_db"] for r in records])
    return {"pitch_frames_within_50": sum(r["hits"] for r in records) / frames if frames else None,
            "pitch_clips_within_50": mean([r["pitch_ok"] for r in judged]),
            "failures": sum(r["silent"] or r["noise_only"] for r in records),
            "silent": sum(r["silent"] for r in records),
            "noise_only": sum(r["noise_only"] for r in records),
            "loudness_l1_db": mean([r["loudness_l1_db"] for r in ok if r["loudness_l1_db"] is not None]),
            "loudness_l1_db_with_failures": mean([r["loudness_l1_db"] for r in records if r["loudness_l1_db"] is not None]),
            "level_offset_db": (float(np.median([r["level_offset_db"] for r in records if r["level_offset_db"] is not None]))
                                if any(r["level_offset_db"] is not None for r in records) else None),
            "mel_distance_db": mel,
            "mel_distance_ratio": None if mel is None or not baseline_db else mel / baseline_db,
            "clips": len(records)}


def evaluate_autoencoder(model, *, n_clips: int = 30, n_pairs: int = 10, n_alphas: int = 7, seed: int = 0,
                         seeds: int = N_SEEDS, temperature: float = 1.0, method: str | None = None,
                         clip_seconds: float = 1.5, outside: bool = True, corpus_seed: int = EVAL_CORPUS_SEED,
                         n_soundfont: int = 16, recordings: bool = True, quick: bool = False,
                         progress: Callable[[int, int], None] | None = None, log=print) -> dict:
    """Run the evaluation ``seeds`` times (decode seeds ``seed + SEED_STRIDE·k``; the clips stay the
    same) and return a JSON-ready report: ``metrics`` (mean over runs), ``ci95`` (Student-t 95 %
    half-width), ``per_seed``, ``passed`` per target, per-clip records of the first run.

    Sets: held-out corpus clips (``NoteCorpus(seed=corpus_seed)``); SoundFont renders of real sampled
    instruments (``SOUNDFONT_SEED``, never seen in training); excerpts of the real recordings
    ``data.recordings`` finds installed; numpy-made sounds outside the corpus (``outside``, first
    run only, no targets). ``quick``: one run of a smoke-sized plan (12 clips, 4 pairs × 5 α,
    6 SoundFont renders, no outside sounds)."""
    from ..data.corpus import INSTRUMENTS, NoteCorpus
    from .common import combine
    if quick:
        n_clips, n_pairs, n_alphas, outside = min(n_clips, 12), min(n_pairs, 4), min(n_alphas, 5), False
        n_soundfont, seeds = min(n_soundfont, 6), 1
    if not 1 <= seeds <= 10:
        raise ValueError(f"seeds must be between 1 and 10; got {seeds}.")
    model = check_autoencoder(model)
    cfg = model.config
    sr = cfg.sample_rate
    t0 = time.perf_counter()
    examples = list(NoteCorpus(sample_rate=sr, hop_length=cfg.hop_length, seed=corpus_seed, size=n_clips,
                               seconds=clip_seconds))
    clips = [e.audio for e in examples]
    tracks = [pitch_track(c, sr, EVAL_HOP) for c in clips]
    mels = [log_mel_db(c, sr) for c in clips]
    baseline = float(np.mean([mel_distance(mels[i], mels[j]) for i in range(len(mels)) for j in range(i + 1, len(mels))]))
    log(f"rendering {n_soundfont} SoundFont clips (seed {SOUNDFONT_SEED}) and reading the recordings …")
    sf_examples = soundfont_clips(sr, n_soundfont, clip_seconds, log) if n_soundfont else []
    sf_clips = [e.audio for e in sf_examples]
    sf_tracks = [pitch_track(c, sr, EVAL_HOP) for c in sf_clips]
    recs = recording_excerpts(sr, RECORDING_SECONDS, log) if recordings else {}
    rec_clips = list(recs.values())
    rec_tracks = [pitch_track(c, sr, EVAL_HOP) for c in rec_clips]

    # morph pairs: clips of different instruments with clearly different brightness, each in one pair
    bright = [brightness(c, sr) for c in clips]
    rng = np.random.default_rng(seed)
    pairs = []
    for i, j in rng.permutation([(i, j) for i in range(len(clips)) for j in range(len(clips)) if i < j]):
        if len(pairs) >= n_pairs:
            break
        if examples[i].instrument != examples[j].instrument and max(bright[i], bright[j]) >= 1.25 * min(bright[i], bright[j]):
            if not any(i in p or j in p for p in pairs):
                pairs.append((int(i), int(j)))
    alphas = np.linspace(0.0, 1.0, n_alphas)
    pad = silence_latent(model)
    excite = bool(model.decoder.config.excitation_dim)

    runs, first = [], {}
    for k in range(seeds):
        s = seed + SEED_STRIDE * k
        log(f"run {k + 1}/{seeds} (decode seed {s}): reconstructing {len(clips)} corpus clips, "
            f"{len(sf_clips)} SoundFont renders, {len(rec_clips)} recording excerpts …")
        zs, recons = _reconstruct_all(model, clips, temperature=temperature, seed=s, method=method, progress=progress)
        corpus_recs = [reconstruction_record(c, r, sr, t) for c, r, t in zip(clips, recons, tracks)]
        m = {f"corpus_{key}": v for key, v in summarise_set(corpus_recs, baseline).items()}
        for name, sub, subtracks in (("soundfont", sf_clips, sf_tracks), ("recording", rec_clips, rec_tracks)):
            if sub:
                _, outs = _reconstruct_all(model, sub, temperature=temperature, seed=s + 200, method=method,
                                           progress=progress)
                rs = [reconstruction_record(c, o, sr, t) for c, o, t in zip(sub, outs, subtracks)]
                m.update({f"{name}_{key}": v for key, v in summarise_set(rs, baseline).items()})
                if k == 0:
                    first[name] = rs
        if excite:
            # transposition, exact through the excitation: frames within 50 cents of the moved pitch
            n_tr = min(len(clips), 6 if quick else 12)
            for shift in (12, -12):
                _, outs = _reconstruct_all(model, clips[:n_tr], temperature=temperature, seed=s + 500, method=method,
                                           progress=progress, transpose=shift)
                rs = [reconstruction_record(clips[i], o, sr, tracks[i], semitones=shift) for i, o in enumerate(outs)]
                m[f"transpose_{'up' if shift > 0 else 'down'}_frames_within_50"] = summarise_set(rs)["pitch_frames_within_50"]
        morphs = []
        for p, (i, j) in enumerate(pairs):
            mixes = list(interpolate(zs[i], zs[j], alphas, pad=pad))
            f0 = None
            if excite:     # the pitch held at clip a's while the timbre moves
                f_a = clip_f0(model, clips[i])
                f0 = [np.pad(f_a, (0, max(0, len(mixes[0]) - len(f_a))))[: len(mixes[0])]] * len(mixes)
            audio = decode(model, mixes, temperature=temperature, seed=s + 1000 + p, method=method,
                           progress=progress, f0=f0)
            cents = [brightness(a, sr) for a in audio]
            sign = 1.0 if bright[j] >= bright[i] else -1.0
            rho = sign * spearman(alphas, cents)
            morphs.append({"a": examples[i].name, "b": examples[j].name, "brightness_hz": [round(c) for c in cents],
                           "original_brightness_hz": [round(bright[i]), round(bright[j])], "spearman": round(rho, 3),
                           "monotonic": bool(rho >= TARGETS["morph_spearman"])})
        m["morph_monotonic_share"] = float(np.mean([x["monotonic"] for x in morphs])) if morphs else None
        m["morph_median_spearman"] = float(np.median([x["spearman"] for x in morphs])) if morphs else None
        runs.append(m)
        if k == 0:
            first.update(corpus=corpus_recs, morphs=morphs)

    metrics, ci95 = combine(runs)
    passed = {key: (None if metrics.get(key) is None else
                    bool(metrics[key] <= target if op == "<=" else metrics[key] >= target))
              for key, (op, target) in CARD_TARGETS.items()}
    result = {
        "model_kind": "autoencoder",
        "model": Path(getattr(model, "checkpoint_path", "in memory")).parent.name or "in memory",  # a name, not a path
        "plan": "quick" if quick else "full",
        "seeds": [seed + SEED_STRIDE * k for k in range(seeds)],
        "settings": {"quick": quick, "n_clips": n_clips, "clip_seconds": clip_seconds, "corpus_seed": corpus_seed,
                     "soundfont_seed": SOUNDFONT_SEED, "soundfont_clips": len(sf_clips),
                     "recording_excerpts": list(recs), "recording_seconds": RECORDING_SECONDS,
                     "temperature": temperature, "method": method or "default", "alphas": [round(float(a), 4) for a in alphas],
                     "pitch_range_hz": [PITCH_FMIN, PITCH_FMAX], "hop": EVAL_HOP, "mel": {**MEL, "floor_db": FLOOR_DB},
                     "silent_db": SILENT_DB, "min_voiced": MIN_VOICED},
        "between_clips_mel_distance_db": round(baseline, 2),
        "targets": {k: {"op": op, "value": v} for k, (op, v) in CARD_TARGETS.items()},
        "anchors": dict(ANCHORS),
        "metrics": metrics, "ci95": ci95, "per_seed": runs, "passed": passed,
        "clips": [{"name": e.name, **r} for e, r in zip(examples, first["corpus"])],
        "soundfont_clips": [{"name": e.name, **r} for e, r in zip(sf_examples, first.get("soundfont", []))],
        "recording_clips": [{"name": n, **r} for n, r in zip(recs, first.get("recording", []))],
        "morphs": first["morphs"],
    }
    result["by_instrument"] = {
        name: {"pitch_frames_within_50": round(sum(r["hits"] for r, e in zip(first["corpus"], examples) if e.instrument == k)
                                               / max(1, sum(r["frames"] for r, e in zip(first["corpus"], examples)
                                                            if e.instrument == k)), 3)}
        for k, name in enumerate(INSTRUMENTS) if any(e.instrument == k for e in examples)}
    if outside:
        log("sounds outside the corpus (first run's seed, no targets) …")
        rec = outside_recordings(sr, clip_seconds)
        names = list(rec)
        _, outs = _reconstruct_all(model, [rec[n] for n in names], temperature=temperature, seed=seed + 2000,
                                   method=method, progress=progress)
        result["outside"] = [{"name": n, **reconstruction_record(rec[n], o, sr),
                              "mel_distance_ratio": round(mel_distance(log_mel_db(rec[n], sr), log_mel_db(o, sr)) / baseline, 3)}
                             for n, o in zip(names, outs)]
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return result


# ---- the card's table -----------------------------------------------------------------------
# (metric key, label, kind): kind "share" prints %, "db" dB, "count" a count per run, "num" a number
CARD_ROWS = [
    ("corpus_pitch_frames_within_50", "held-out corpus: voiced frames within 50 cents of the original", "share"),
    ("corpus_pitch_clips_within_50", "held-out corpus: clips whose median error ≤ 50 cents", "share"),
    ("soundfont_pitch_frames_within_50", "SoundFont renders (real sampled instruments): frames within 50 cents", "share"),
    ("recording_pitch_frames_within_50", "real recording (music21 melody): frames within 50 cents", "share"),
    ("transpose_up_frames_within_50", "transpose +12: frames within 50 cents of the moved pitch", "share"),
    ("transpose_down_frames_within_50", "transpose −12: frames within 50 cents of the moved pitch", "share"),
    ("corpus_mel_distance_ratio", "log-mel distance / between two corpus clips", "num"),
    ("corpus_loudness_l1_db", "loudness L1 over sounding frames, failures left out (dB)", "db"),
    ("corpus_loudness_l1_db_with_failures", "loudness L1 with failed clips kept (dB)", "db"),
    ("corpus_level_offset_db", "median level of the reconstruction − original (dB)", "db"),
    ("corpus_failures", "held-out corpus: silent or noise-only reconstructions (per run)", "count"),
    ("soundfont_failures", "SoundFont renders: silent or noise-only (per run)", "count"),
    ("soundfont_loudness_l1_db", "SoundFont renders: loudness L1 (dB)", "db"),
    ("soundfont_mel_distance_ratio", "SoundFont renders: log-mel distance ratio", "num"),
    ("recording_failures", "recording excerpts: silent or noise-only (per run)", "count"),
    ("recording_loudness_l1_db", "recording excerpts: loudness L1 (dB)", "db"),
    ("morph_monotonic_share", "morphs with brightness monotonic (ρ ≥ 0.8), pitch held", "share"),
    ("morph_median_spearman", "morphs: median ρ", "num"),
]
CARD_TARGETS: dict[str, tuple[str, float]] = {
    "corpus_pitch_frames_within_50": (">=", 0.95),
    "soundfont_pitch_frames_within_50": (">=", 0.90),
    "recording_pitch_frames_within_50": (">=", 0.90),
    "transpose_up_frames_within_50": (">=", 0.90),
    "transpose_down_frames_within_50": (">=", 0.90),
    "corpus_mel_distance_ratio": ("<=", 0.5),
    "corpus_loudness_l1_db": ("<=", 3.0),
    "morph_monotonic_share": (">=", 0.80),
}
ANCHORS: dict[str, str] = {
    "corpus_pitch_clips_within_50": "NSynth WaveNet autoencoder: 79.6 % (pitch classifier on reconstructions; 91.6 % on originals)",
    "recording_pitch_frames_within_50": "DDSP autoencoder: f0 handed to the synthesiser (within a fraction of a semitone)",
}


def _fmt(kind: str, v, ci=None) -> str:
    if v is None:
        return "n/a"
    if kind == "share":
        return f"{100 * v:.1f} %" + ("" if ci is None else f" ± {100 * ci:.1f}")
    if kind == "count":
        return (f"{v:.1f}" if ci is not None or not float(v).is_integer() else f"{int(v)}") + ("" if ci is None else f" ± {ci:.1f}")
    if kind == "db":
        return f"{v:.1f} dB" + ("" if ci is None else f" ± {ci:.1f}")
    return f"{v:.2f}" + ("" if ci is None else f" ± {ci:.2f}")


def card_table(report: dict) -> str:
    """The model card's measured table in Markdown, like the WaveNet card's: metric, target, model
    (mean ± 95 % CI over the runs), published anchor, met. Rows the plan did not measure are left out."""
    m, ci = report.get("metrics", {}), report.get("ci95", {}) or {}
    passed = report.get("passed", {})
    n = len(report.get("seeds") or [0])
    head = f"model (mean ± 95 % CI, {n} seeds)" if n > 1 else "model (1 seed)"
    lines = [f"| metric | target | {head} | published anchor | met |", "|---|---|---|---|---|"]
    for key, label, kind in CARD_ROWS:
        if m.get(key) is None:
            continue
        if key in CARD_TARGETS:
            op, target = CARD_TARGETS[key]
            tgt = ("≤ " if op == "<=" else "≥ ") + _fmt(kind, target)
            ok = passed.get(key)
            met = "—" if ok is None else ("yes" if ok else "**no**")
        else:
            tgt, met = "—", "—"
        lines.append(f"| {label} | {tgt} | {_fmt(kind, m[key], ci.get(key) if n > 1 else None)} | "
                     f"{ANCHORS.get(key, '')} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import torch
    p = argparse.ArgumentParser(prog="python -m wavenet_core.evaluation.autoencoder", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="autoencoder")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--card", default=None, metavar="REPORT", help="print a saved report's card table and stop")
    p.add_argument("--clips", type=int, default=30)
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--alphas", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=N_SEEDS, help="decode seeds (runs) for the confidence intervals")
    p.add_argument("--soundfont", type=int, default=16, help="SoundFont renders (0: none)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--reference", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-outside", action="store_true")
    p.add_argument("--no-recordings", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.card:
        print(card_table(json.loads(Path(args.card).read_text())))
        return
    torch.set_num_threads(args.threads)
    from ..model.checkpoint import load_model
    res = evaluate_autoencoder(load_model(args.model), n_clips=args.clips, n_pairs=args.pairs, n_alphas=args.alphas,
                               seed=args.seed, seeds=args.seeds, n_soundfont=args.soundfont, quick=args.quick,
                               temperature=args.temperature, method="reference" if args.reference else None,
                               outside=not args.no_outside, recordings=not args.no_recordings)
    from ..jsonsafe import json_safe
    res = json_safe(res, digits=4)
    text = json.dumps(res, indent=1)
    if args.out:
        from ..audio_io import atomic_write_bytes
        atomic_write_bytes(args.out, lambda tmp: Path(tmp).write_text(text + "\n"))
    print(card_table(res))
    print(f"\n{res['plan']} plan: {res['settings']['n_clips']} corpus clips, {res['settings']['soundfont_clips']} SoundFont "
          f"renders, {len(res['settings']['recording_excerpts'])} recording excerpts; seeds {res['seeds']}; "
          f"{res['wall_seconds']} s")


if __name__ == "__main__":
    main()
