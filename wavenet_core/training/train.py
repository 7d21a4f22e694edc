"""Training loop: teacher-forced cross-entropy, AdamW, warm-up + cosine decay, gradient clipping.

Every batch is a pure function of (seed, step), so ``--resume`` continues exactly, and under
``torchrun`` each rank takes its slice of the same global batch (DDP, gloo on CPU, NCCL on GPU):

    torchrun --nproc_per_node=2 -m wavenet_core.training.train --data corpus --out runs/ddp

Only rank 0 writes checkpoints and logs.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..audio_io import atomic_write_bytes
from ..model.checkpoint import read_header, save_model, write_safetensors
from ..controls.conditioning import LOCAL_DIM, encode_local
from ..data.corpus import INSTRUMENTS, Example, NoteCorpus
from ..model.wavenet import WaveNet, preset_config
from ..model.mulaw import mu_law_encode
from ..measure.descriptors import hz_to_midi
from .log import LOG_FIELDS, LOG_NAME, read_log

STATE_NAME = "trainer_state.safetensors"


@dataclass
class TrainConfig:
    out: str = "runs/notes"
    data: str = "corpus"                # "corpus", "soundfont" (sampled GM instruments) or a folder of audio files
    soundfont: str = ""                 # --data soundfont: a GM .sf2 file; "" = pretty_midi's TimGM6mb.sf2
    model_type: str = "wavenet"         # "wavenet" or "autoencoder"
    preset: str = "default"
    steps: int = 2000
    batch_size: int = 8
    segment: int = 4000                 # samples per training window (rounded to whole frames)
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    cond_dropout: float = 0.15          # per control, so the model also generates with it left free
    free_share: float = 0.1             # share of examples with every control free at once (sampling, guidance)
    start_share: float = 0.25           # share of windows that begin at the clip's start (notes begun from silence)
    input_noise: float = 0.0            # > 0: the past the model reads is noisy, SNR down to 1/this (see TrainingData)
    init_from: str = ""                 # a model name or checkpoint to warm-start from (wavenet_core.training.warmstart)
    precision: str = "fp32"             # "fp32", "bf16" (autocast) or "auto": bf16 on a CPU with AVX-512 BF16
    checkpoint_every: int = 250
    val_every: int = 100
    val_batches: int = 2
    corpus_size: int = 600
    corpus_seconds: float = 1.5
    sample_rate: int = 16000
    threads: int = 0                    # 0: torch default
    device: str = "auto"
    max_minutes: float = 0.0            # > 0: fit the step count into this wall time (measured after a few steps)
    model_overrides: dict = field(default_factory=dict)


# ---- data -----------------------------------------------------------------------------------
class TrainingData:
    """Examples split into train/validation, and deterministic batches drawn from them.

    * Validation is stratified: within each instrument, clips sorted by pitch, every 10th held
      out, so every instrument and the whole pitch range are validated.
    * Each window is preceded by ``history`` frames of the clip's real audio where the clip has
      them (the loss skips those positions), so the model learns from a real past rather than
      from the silent history of a window's first samples.
    * Each control is dropped with ``cond_dropout``, and a ``free_share`` of examples has every
      control dropped together: the free model that sampling and guidance rely on.
    """

    def __init__(self, examples: list[Example], hop: int, segment: int, n_instruments: int, cond_dropout: float,
                 free_share: float = 0.0, history: int = 0, input_noise: float = 0.0, start_share: float = 0.0):
        self.hop = hop
        self.frames = max(1, segment // hop)
        self.segment = self.frames * hop
        self.history = max(0, -(-history // hop))           # frames of real past before each window
        self.n_instruments = n_instruments
        self.cond_dropout = cond_dropout
        self.free_share = free_share
        self.input_noise = input_noise
        self.start_share = start_share
        usable = [e for e in examples if len(e.audio) >= self.segment]
        if not usable:
            raise ValueError(f"No example is at least one training window ({self.segment} samples) long.")
        if min(len(e.audio) for e in usable) < (self.frames + self.history) * self.hop:
            self.history = 0                                # clips too short for a window with a past
        self.val = stratified_holdout(usable) if len(usable) >= 10 else usable[:1]
        held = {id(e) for e in self.val}
        self.train = [e for e in usable if id(e) not in held] or usable

    def batch(self, seed: int, step: int, batch_size: int, split: str = "train", dropout: bool = True,
              rank: int = 0, world: int = 1) -> dict[str, torch.Tensor]:
        pool = self.train if split == "train" else self.val
        rng = np.random.default_rng([seed, step, 0 if split == "train" else 1])
        idx = rng.integers(0, len(pool), batch_size)
        starts = [int(rng.integers(0, (len(pool[i].audio) - self.segment) // self.hop + 1)) for i in idx]
        drop = rng.random((batch_size, 3)) < (self.cond_dropout if dropout else 0.0)
        drop |= (rng.random((batch_size, 1)) < (self.free_share if dropout else 0.0))
        phase0 = rng.uniform(0, 2 * np.pi, batch_size)
        # A share of windows starts where the clip starts: notes must be begun from silence, which is
        # how every generation starts (without these the model learned to stay silent there).
        from_start = rng.random(batch_size) < self.start_share
        h = self.history
        audio, local, inst, f0s, louds, cond_f0, keep, frame_ph = [], [], [], [], [], [], [], []
        for b in range(rank, batch_size, world):   # each rank takes its slice of the same global batch
            e, s = pool[idx[b]], starts[b]
            # The window [s - h, s + frames) in frames: h frames of real past where the clip has them,
            # else the window starts at the clip's start (a silent past there is the truth).
            w0 = 0 if from_start[b] else max(0, s - h)
            w0 = min(w0, max(0, len(e.audio) // self.hop - self.frames - h))
            n = self.frames + h
            audio.append(e.audio[w0 * self.hop: (w0 + n) * self.hop])
            f0 = e.f0[w0: w0 + n]
            loud = e.loudness[w0: w0 + n]
            f0s.append(f0)
            louds.append(loud)
            local.append(encode_local(None if drop[b, 1] else f0, None if drop[b, 2] else loud, n))
            cond_f0.append(np.zeros(n, np.float32) if drop[b, 1] else np.pad(f0, (0, n - len(f0))))
            # The excitation's phase: the audio's own where the data knows it (the corpus does), so
            # excitation and target are in phase; else integrated from the labels with a random start.
            # A random phase against a sample-level loss averages the excitation's gradient to zero.
            if e.phase is not None:
                ph = np.asarray(e.phase[w0: w0 + n], dtype=np.float64)
            else:
                ph = phase0[b] + np.concatenate([[0.0], np.cumsum(2 * np.pi * self.hop / e.sample_rate * f0[:-1])])
            frame_ph.append(np.pad(ph, (0, n - len(ph))))
            keep.append(0 if w0 == 0 else h * self.hop)      # loss from here on (the past is context)
            free = e.instrument < 0 or drop[b, 0]
            inst.append(self.n_instruments if free else e.instrument)
        audio_t = torch.from_numpy(np.stack(audio))
        extra = {}
        if self.input_noise > 0 and split == "train":
            # The past the model reads is the clip plus white noise at a random SNR (clean for a third
            # of the examples): the period and level must then come from the conditioning — the
            # excitation, the loudness — not from a perfect history, which is what generation lacks
            # once the model's own samples drift. Targets stay clean.
            scale = rng.uniform(0, self.input_noise, batch_size)[rank::world] * (rng.random(batch_size)[rank::world] > 1 / 3)
            level = audio_t.std(dim=1, keepdim=True).numpy()
            noise = rng.standard_normal(audio_t.shape).astype(np.float32) * (scale[:, None] * level).astype(np.float32)
            extra["x_in"] = mu_law_encode(torch.clamp(audio_t + torch.from_numpy(noise), -1, 1))
        t = torch.arange(audio_t.shape[1])
        mask = (t[None, :] >= torch.tensor(keep)[:, None]).float()
        return {"x": mu_law_encode(audio_t), "audio": audio_t, "local": torch.from_numpy(np.stack(local)),
                "instrument": torch.tensor(inst, dtype=torch.long),
                "f0": torch.from_numpy(np.stack(f0s)), "loudness": torch.from_numpy(np.stack(louds)),
                "cond_f0": torch.from_numpy(np.stack(cond_f0)), "phase0": torch.from_numpy(phase0[rank::world].copy()),
                "loss_mask": mask, "frame_phase": torch.from_numpy(np.stack(frame_ph)), **extra}


def stratified_holdout(examples: list[Example], every: int = 10) -> list[Example]:
    """Every ``every``-th clip of each instrument, ordered by median pitch: validation covers every
    instrument and the whole pitch range (a plain every-10th split of a corpus whose instruments
    cycle every 6 held out only 3 of them)."""
    groups: dict[int, list[Example]] = {}
    for e in examples:
        groups.setdefault(e.instrument, []).append(e)
    held = []
    for _, group in sorted(groups.items()):
        def pitch(e):
            voiced = e.f0[e.f0 > 0]
            return float(np.median(voiced)) if voiced.size else 0.0
        ordered = sorted(group, key=lambda e: (pitch(e), e.name))
        held += ordered[every // 2:: every] or ordered[:1]
    return held


def load_examples(cfg: TrainConfig, hop: int, log=print) -> tuple[list[Example], list[str]]:
    """The corpus or a user folder → (examples, instrument names)."""
    if cfg.data == "corpus":
        corpus = NoteCorpus(sample_rate=cfg.sample_rate, hop_length=hop, seed=cfg.seed, size=cfg.corpus_size,
                            seconds=cfg.corpus_seconds)
        return list(corpus), list(INSTRUMENTS)
    if cfg.data == "soundfont":
        from ..data.soundfont import SoundFontCorpus
        sfc = SoundFontCorpus(cfg.soundfont or None, sample_rate=cfg.sample_rate, hop_length=hop, seed=cfg.seed,
                              size=cfg.corpus_size, seconds=cfg.corpus_seconds)
        log(f"SoundFont corpus: {len(sfc)} clips of {len(sfc.instrument_names)} instruments from {sfc.renderer.path}")
        return list(sfc), list(sfc.instrument_names)
    from ..data.folder import load_folder
    examples, report = load_folder(cfg.data, cfg.sample_rate, hop, min_samples=cfg.segment)
    log(report.summary())
    return examples, report.instruments


# ---- model ----------------------------------------------------------------------------------
def build_model(cfg: TrainConfig, instruments: list[str]) -> torch.nn.Module:
    overrides = dict(cfg.model_overrides)
    if cfg.model_type == "autoencoder":
        from ..model.autoencoder import autoencoder_config, WaveNetAutoencoder
        return WaveNetAutoencoder(autoencoder_config(cfg.preset, sample_rate=cfg.sample_rate, **overrides))
    overrides.setdefault("local_dim", LOCAL_DIM)
    overrides.setdefault("n_instruments", len(instruments))
    overrides.setdefault("instrument_names", tuple(instruments))
    return WaveNet(preset_config(cfg.preset, sample_rate=cfg.sample_rate, **overrides))


def masked_loss(logits: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and next-sample accuracy over the positions where ``mask`` (B, T) is 1 (all if None):
    each example's mean over its scored positions, then the mean over examples — so every example
    weighs the same and torchrun's ranks (equal slices) average to exactly the one-process figure."""
    ce = F.cross_entropy(logits.float(), x, reduction="none")
    hit = (logits.argmax(1) == x).float()
    if mask is None:
        return ce.mean(), hit.mean()
    count = mask.sum(1).clamp_min(1)
    return ((ce * mask).sum(1) / count).mean(), ((hit * mask).sum(1) / count).mean()


def wavenet_loss(model: WaveNet, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    excite = model.config.excitation_dim > 0
    logits = model(batch["x"], instrument=batch["instrument"], local_cond=batch["local"],
                   f0=batch["cond_f0"] if excite else None, phase0=batch["phase0"] if excite else None,
                   x_in=batch.get("x_in"), frame_phase=batch.get("frame_phase") if excite else None)
    return masked_loss(logits, batch["x"], batch.get("loss_mask"))


class LossModule(torch.nn.Module):
    """(model, batch) → (loss, accuracy) as a module, so DDP can wrap any model kind."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if hasattr(self.model, "training_loss"):
            return self.model.training_loss(batch)
        return wavenet_loss(self.model, batch)


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


# ---- state ----------------------------------------------------------------------------------
def save_state(path: Path, model, optimizer, step: int, cfg: TrainConfig, instruments: list[str]) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for k, v in st.items():
            tensors[f"optim.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    meta = {"step": str(step), "train_config": json.dumps(asdict(cfg)), "instruments": json.dumps(instruments),
            "param_groups": json.dumps(opt["param_groups"]), "kind": getattr(model, "kind", "wavenet"),
            "config": json.dumps(model.config.to_dict())}
    write_safetensors(path, tensors, meta)


def load_state(path: Path, model, optimizer) -> int:
    from safetensors.torch import load_file
    header = read_header(path)
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state: dict = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": opt_state, "param_groups": json.loads(header["__metadata__"]["param_groups"])})
    return int(header["__metadata__"]["step"])


def check_writable(out: Path, need_bytes: int) -> None:
    """Fail before training starts if the output folder cannot hold the checkpoints."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise SystemExit(f"error: cannot write to {out} ({e.strerror}); choose another --out folder.") from None
    free = shutil.disk_usage(out).free
    if free < need_bytes:
        raise SystemExit(f"error: only {free / 1e6:.0f} MB free in {out}, checkpoints need about {need_bytes / 1e6:.0f} MB; free some space.")


# ---- loop -----------------------------------------------------------------------------------
def train(cfg: TrainConfig, resume: bool = False, log=print, progress: bool = True, stop_at: int | None = None) -> Path:
    """Train per ``cfg``; returns the path of the final model checkpoint.

    ``stop_at`` ends the run after that step with a checkpoint, as an interruption would
    (the schedule still follows ``cfg.steps``, so ``resume`` later continues the same run).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0:
        log = _quiet                   # one voice: rank 0 prints, logs and writes
    if cfg.batch_size % world:
        raise SystemExit(f"error: --batch-size {cfg.batch_size} does not split evenly over {world} processes; "
                         f"use a multiple of {world} (each rank takes batch-size / world examples).")
    out = Path(cfg.out)
    if rank == 0:                      # before the process group: a bad --out fails in seconds, not at a timeout
        check_writable(out, need_bytes=20_000_000)
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    if world > 1:
        import torch.distributed as dist
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)

    probe_model = build_model(cfg, list(INSTRUMENTS) if cfg.data == "corpus" else [])
    hop = probe_model.config.hop_length
    examples, instruments = load_examples(cfg, hop, log=log)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, instruments).to(device)
    n_inst = getattr(model.config, "n_instruments", 0)
    data = TrainingData(examples, hop, cfg.segment, n_inst, cfg.cond_dropout, cfg.free_share,
                        history=model.config.receptive_field, input_noise=cfg.input_noise,
                        start_share=cfg.start_share)
    if cfg.init_from and not resume:
        from ..model.checkpoint import load_model
        from .warmstart import warm_start
        report = warm_start(model, load_model(cfg.init_from))
        log(f"warm start from {cfg.init_from}: {len(report['copied'])} tensors copied, {len(report['widened'])} widened "
            f"(new inputs start at zero), {len(report['skipped'])} left as initialised")
        model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    start = 0
    state_path = out / STATE_NAME
    if resume:
        if not state_path.is_file():
            raise SystemExit(f"error: nothing to resume in {out} (no {STATE_NAME}); start without --resume.")
        start = load_state(state_path, model, optimizer)
        log(f"resuming from step {start}")
    loss_fn = LossModule(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        loss_fn = DistributedDataParallel(loss_fn)

    rows = read_log(out / LOG_NAME, upto=start) if resume and (out / LOG_NAME).is_file() else []
    n_params = sum(p.numel() for p in model.parameters())
    if rank == 0:
        log(f"model: {n_params:,} parameters, receptive field {model.config.receptive_field} samples; "
            f"{len(data.train)} train / {len(data.val)} val examples; device {device}, world {world}")
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=start, desc="train", unit="step", file=sys.stderr)
    t0, seen = time.perf_counter(), 0
    elapsed_before = rows[-1]["elapsed_s"] if rows else 0.0
    last = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True          # fixed shapes: pick the fastest convolution once
        torch.backends.cuda.matmul.allow_tf32 = True
    batches = _prefetched(data, cfg, start, rank, world, pin=device.type == "cuda")
    precision = resolve_precision(cfg.precision, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    if rank == 0:
        log(f"precision: {precision}")
    timing_from = None
    for step in range(start, last):
        model.train()
        if cfg.max_minutes > 0 and step in (start + _FIT_AFTER, start + 3 * _FIT_AFTER) and device.type == "cuda":
            torch.cuda.synchronize()    # time finished work, not queued work
        if cfg.max_minutes > 0 and step == start + _FIT_AFTER:
            timing_from = time.perf_counter()
        if timing_from is not None and step == start + 3 * _FIT_AFTER:
            cfg.steps = _fit_steps(cfg, step, (time.perf_counter() - timing_from) / (2 * _FIT_AFTER),
                                   time.perf_counter() - t0, log)
            last = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
            if bar is not None:
                bar.total = cfg.steps
        if step >= last:
            break
        batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, cfg)
        with autocast:
            loss, acc = loss_fn(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        seen += batch["x"].numel() * world
        done = step + 1
        if bar is not None:
            bar.update(1)
            if done % 25 == 0:          # .item() waits for the GPU: not every step
                bar.set_postfix(loss=f"{loss.item():.3f}")
        if done % cfg.val_every == 0 or done == last:
            # Under DDP each rank saw its slice: the log shows the whole global batch's loss.
            train_loss, train_acc = _global_mean([loss.item(), acc.item()], world)
            val_loss, val_acc = evaluate_loss(model, data, cfg, device, rank=rank, world=world)
            elapsed = elapsed_before + time.perf_counter() - t0
            rows.append({"step": done, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                         "val_acc": val_acc, "lr": lr_at(step, cfg), "samples_per_s": seen / (time.perf_counter() - t0),
                         "elapsed_s": elapsed})
            if rank == 0:
                _write_log(out, rows)
        if rank == 0 and done == cfg.steps and getattr(model, "kind", "") == "autoencoder":
            from ..controls.autoencoder import finish_training
            model.cpu()                 # the last step: the PCA sliders are fitted in numpy
            finish_training(model, data.train, log=log)
        if rank == 0 and (done % cfg.checkpoint_every == 0 or done == last):
            info = {"train_config": asdict(cfg), "step": done, "instruments": instruments,
                    "pitch_range": _pitch_range(examples),
                    "final": rows[-1] if rows else {}, "wall_time_s": elapsed_before + time.perf_counter() - t0}
            try:
                save_model(model, out / "model.safetensors", training=info)
                save_state(state_path, model, optimizer, done, cfg, instruments)
            except OSError as e:    # the rename never happened: the previous checkpoint is intact
                raise SystemExit(f"error: cannot write the step-{done} checkpoint in {out} ({e.strerror or e}); "
                                 "the previous checkpoint is intact: free some space, then run again with --resume.") from None
    if bar is not None:
        bar.close()
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()
    return out / "model.safetensors"


def _pitch_range(examples: list[Example]) -> list[float] | None:
    """The MIDI notes the training data covers (5th and 95th percentile of voiced frames), saved with
    the model so the studio can say which requests lie outside what it learned."""
    f0 = np.concatenate([e.f0[e.f0 > 0] for e in examples]) if examples else np.zeros(0)
    if f0.size == 0:
        return None
    midi = hz_to_midi(f0)
    return [round(float(np.percentile(midi, 1)), 1), round(float(np.percentile(midi, 99)), 1)]


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX): bf16 autocast pays there."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" → bf16 on a CPU with native bf16, else fp32 (on a GPU too: its fp32 path uses TF32)."""
    if precision not in ("auto", "fp32", "bf16"):
        raise SystemExit(f"error: --precision must be auto, fp32 or bf16; got {precision!r}.")
    if precision == "auto":
        return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"
    return precision


_FIT_AFTER = 50     # --max-minutes: skip this many steps (start-up, cuDNN autotuning), then time twice as many


def _fit_steps(cfg: TrainConfig, step: int, per_step: float, spent: float, log) -> int:
    """The step count that ends the run within ``cfg.max_minutes`` at the measured speed.

    A 10 % margin covers validation and checkpoints. The cosine schedule then follows the new
    count, and it is saved with the checkpoints, so ``--resume --steps N`` continues the same run.
    """
    left = cfg.max_minutes * 60 * 0.9 - spent
    steps = max(step + 1, min(cfg.steps, step + int(left / max(per_step, 1e-6))))
    log(f"--max-minutes {cfg.max_minutes:g}: {per_step * 1000:.1f} ms per step, so {steps} steps in all")
    return steps


def _prefetched(data: TrainingData, cfg: TrainConfig, start: int, rank: int, world: int, pin: bool = False):
    """Batches for steps start, start + 1, … built two ahead in a thread, so the data (numpy,
    mostly without the GIL) overlaps the model's step. Batches stay a pure function of (seed, step)."""
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=1)

    def make(step):
        b = data.batch(cfg.seed, step, cfg.batch_size, rank=rank, world=world)
        return {k: v.pin_memory() for k, v in b.items()} if pin else b

    ahead = [pool.submit(make, s) for s in range(start, start + 2)]
    step = start + 2
    try:
        while True:
            ready = ahead.pop(0)
            ahead.append(pool.submit(make, step))
            step += 1
            yield ready.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@torch.no_grad()
def evaluate_loss(model, data: TrainingData, cfg: TrainConfig, device, rank: int = 0, world: int = 1) -> tuple[float, float]:
    """Mean loss and accuracy over ``cfg.val_batches`` fixed batches; under DDP each rank takes its slice."""
    model.eval()
    losses, accs = [], []
    for i in range(cfg.val_batches):
        batch = data.batch(cfg.seed, i, cfg.batch_size, split="val", dropout=False, rank=rank, world=world)
        loss, acc = LossModule(model)({k: v.to(device) for k, v in batch.items()})
        losses.append(float(loss))
        accs.append(float(acc))
    val_loss, val_acc = _global_mean([float(np.mean(losses)), float(np.mean(accs))], world)
    return val_loss, val_acc


def _global_mean(values: list[float], world: int) -> list[float]:
    """Average per-rank scalars over all ranks (equal slices: the mean over the global batch)."""
    if world == 1:
        return values
    import torch.distributed as dist
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return (t / world).tolist()


def _quiet(*_args, **_kwargs) -> None:
    pass


def _write_log(out: Path, rows: list[dict]) -> None:
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            w.writeheader()
            w.writerows(rows)
    atomic_write_bytes(out / LOG_NAME, write)
    try:
        from ..plots import training_curves_figure
        fig = training_curves_figure(rows)
        atomic_write_bytes(out / "curves.png", lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    except Exception as e:          # the curves are a view of log.csv: never stop a run for them
        print(f"warning: curves.png not updated ({type(e).__name__}: {e})", file=sys.stderr)


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--data", default=d.data, help="'corpus' (built-in synthetic notes), 'soundfont' (sampled GM "
                                                  "instruments) or a folder of audio files")
    p.add_argument("--soundfont", default=d.soundfont, metavar="PATH",
                   help="with --data soundfont: a General MIDI .sf2 (default: TimGM6mb.sf2 from pretty_midi)")
    p.add_argument("--out", default=d.out, help="run folder: model.safetensors, trainer state, log.csv, curves.png")
    p.add_argument("--model-type", default=d.model_type, choices=["wavenet", "autoencoder"])
    p.add_argument("--preset", default=d.preset, help="tiny (seconds, for tests) or default (the shipped notes model's size)")
    for name in ["steps", "batch_size", "segment", "warmup", "seed", "checkpoint_every", "val_every", "corpus_size", "threads", "sample_rate"]:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ["lr", "weight_decay", "grad_clip", "cond_dropout", "free_share", "input_noise", "start_share", "corpus_seconds"]:
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--device", default=d.device, help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--precision", default=d.precision, choices=["auto", "fp32", "bf16"],
                   help="bf16 autocast (1.6x faster on a CPU with AVX-512 BF16); auto: bf16 on such a CPU, else fp32")
    p.add_argument("--max-minutes", type=float, default=d.max_minutes,
                   help="fit the run into this many minutes: after 150 steps the step count (and the cosine "
                        "schedule) is set from the measured speed; --steps stays the upper bound")
    p.add_argument("--init-from", default=d.init_from, metavar="MODEL",
                   help="warm-start from this model (name or .safetensors): weights copied where they fit, "
                        "new conditioning inputs (e.g. the excitation) start at zero")
    p.add_argument("--resume", action="store_true", help="continue exactly from the run folder's last checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a model config field, e.g. --set residual_channels=48 (JSON values)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    fields_ = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__ if hasattr(args, k)}
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise SystemExit(f"error: --set expects FIELD=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            overrides[k] = json.loads(v)
        except json.JSONDecodeError:
            overrides[k] = v
    fields_["model_overrides"] = overrides
    return TrainConfig(**fields_)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m wavenet_core.training.train", description="Train a WaveNet (torchrun-ready).")
    add_arguments(p)
    args = p.parse_args(argv)
    train(config_from_args(args), resume=args.resume)


if __name__ == "__main__":
    main()
