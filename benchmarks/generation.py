"""Generation speed: reference sampler vs a per-step cached PyTorch loop vs the fast generator.

    .venv/bin/python benchmarks/generation.py            # full run (several minutes on 2 cores)
    .venv/bin/python benchmarks/generation.py --quick    # shorter clips for the slow paths, extrapolated
    .venv/bin/python benchmarks/generation.py --excitation-only   # the sine excitation's cost alone
    taskset -c 1 .venv/bin/python benchmarks/generation.py --threads 1   # pin to one core

For the shipped default model (``assets/models/notes``, or the ``default`` preset with random
weights when it is not there) and the fixed reference config (20 layers, R32/G64/S128), prints
samples/s of each path at batch 1 and 16 for 1 s and 4 s of audio, the ratios between them, the
real-time factor (samples/s ÷ sample rate; at batch 16 it counts all streams), the time ratio
4 s / 1 s, and the fast path's first-call compile time and cached start in fresh processes.

Timing: "wall" is elapsed time; "cpu" divides by the process's CPU time, which is the figure
to compare on a machine shared with other jobs (a starved process waits, it does not compute).
PyTorch paths run on one thread; the fast path uses one thread at batch 1 and
``fast.default_threads(16)`` (two) threads at batch 16.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wavenet_core.generation import fast  # noqa: E402
from wavenet_core.controls.conditioning import Controls, model_inputs  # noqa: E402
from wavenet_core.generation.inputs import ModelInputs, sample_from_logits, stream_uniforms
from wavenet_core.generation.generate import reference_classes  # noqa: E402
from wavenet_core.model.wavenet import WaveNet, preset_config  # noqa: E402
from wavenet_core.model.mulaw import SILENCE_CLASS  # noqa: E402


# ---- the per-step cached PyTorch loop (as public implementations do it) ------------------------
class TorchCachedLoop:
    """Fast WaveNet in plain PyTorch: per-layer queues of past inputs, a few small ops per layer
    per step (one matmul for both taps, the gate, the skip and residual 1×1s), conditioning
    computed up front and projected per layer per step, sampling by the shared rule."""

    def __init__(self, model: WaveNet):
        if model.context is not None:
            raise ValueError("the PyTorch loop here does not run the context stack")
        self.m = model
        self.layers = []
        for lay in model.layers:
            w = lay.dilated.weight.detach()
            self.layers.append((
                lay.dilation, torch.cat([w[:, :, 0], w[:, :, 1]], 1).T.contiguous(), lay.dilated.bias.detach(),
                None if lay.cond is None else lay.cond.weight.detach()[:, :, 0].T.contiguous(),
                lay.skip.weight.detach()[:, :, 0].T.contiguous(), lay.skip.bias.detach(),
                None if lay.residual is None else lay.residual.weight.detach()[:, :, 0].T.contiguous(),
                None if lay.residual is None else lay.residual.bias.detach()))
        self.head = [(c.weight.detach()[:, :, 0].T.contiguous(), c.bias.detach()) for c in (model.head1, model.head2)]

    @torch.inference_mode()
    def classes(self, inputs: ModelInputs, uniforms: np.ndarray, temperature: float) -> np.ndarray:
        m, batch, n = self.m, uniforms.shape[0], uniforms.shape[1]
        cond = m.conditioning(torch.zeros(batch, n, dtype=torch.long), inputs.instrument, inputs.global_cond,
                              inputs.local_cond, f0=inputs.f0_hz, phase0=inputs.phase0)
        cond = None if cond is None else cond.permute(2, 0, 1).contiguous()          # (T, B, C)
        r = m.config.residual_channels
        queues = [torch.zeros(d, batch, r) for d, *_ in self.layers]                 # slot t mod d = input of t - d
        x = torch.full((batch,), SILENCE_CLASS, dtype=torch.long)
        out = np.empty((batch, n), dtype=np.int64)
        for t in range(n):
            h = m.embed(x)
            skip = None
            for (d, wd, bd, wc, ws, bs, wr, br), q in zip(self.layers, queues):
                slot = q[t % d]
                a = torch.addmm(bd, torch.cat([slot, h], 1), wd)
                slot.copy_(h)
                if wc is not None:
                    a = a + cond[t] @ wc
                f, g = a.chunk(2, 1)
                z = torch.tanh(f) * torch.sigmoid(g)
                skip = torch.addmm(bs, z, ws) if skip is None else torch.addmm(skip + bs, z, ws)
                if wr is not None:
                    h = torch.addmm(h + br, z, wr)
            (w1, b1), (w2, b2) = self.head
            logits = torch.addmm(b2, torch.relu(torch.addmm(b1, torch.relu(skip), w1)), w2)
            out[:, t] = sample_from_logits(logits.numpy(), uniforms[:, t], temperature)
            x = torch.from_numpy(out[:, t].copy())
        return out


# ---- helpers -------------------------------------------------------------------------------
def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench_models() -> list[tuple[str, WaveNet]]:
    torch.manual_seed(0)
    notes = ROOT / "assets" / "models" / "notes" / "model.safetensors"
    if notes.is_file():
        from wavenet_core.model.checkpoint import load_model
        default = ("default (shipped notes model)", load_model(notes))
    else:
        default = ("default (preset, random weights)", WaveNet(preset_config("default", local_dim=6, n_instruments=6)))
    return [default, ("reference (20 layers, R32/G64/S128)", WaveNet(preset_config("reference")))]


def inputs_for(model: WaveNet, batch: int, n: int) -> ModelInputs:
    cfg = model.config
    controls = Controls(seconds=n / cfg.sample_rate, instrument=0 if cfg.n_instruments else None,
                        pitch=60.0 if cfg.local_dim else None, loudness=-20.0 if cfg.local_dim else None)
    inputs = model_inputs(controls, cfg)
    inputs.n_samples = n
    return inputs.expand(batch)


def reference_rate(model: WaveNet, batch: int) -> tuple[float, float]:
    """Samples/s (wall, cpu) of the reference sampler at its steady state, from the forward pass
    over its full sliding window (what every step costs once t exceeds the window)."""
    cfg = model.config
    align = math.lcm(cfg.hop_length, cfg.context_hop if cfg.context_layers else 1)
    window = cfg.receptive_field + 1 + 2 * cfg.hop_length * (len(cfg.upsample_scales) + 1) + align
    if cfg.local_dim:
        window += 2 * cfg.hop_length
    inputs = inputs_for(model, batch, window)
    x = torch.full((batch, window), SILENCE_CLASS, dtype=torch.long)
    best_w = best_c = float("inf")
    with torch.no_grad():
        for _ in range(5):
            _, w, c = timed(lambda: model(x, instrument=inputs.instrument, global_cond=inputs.global_cond,
                                          local_cond=inputs.local_cond, f0=inputs.f0_hz)[:, :, -1].numpy())
            best_w, best_c = min(best_w, w), min(best_c, c)
    # one short real run, so the figure is not only a forward pass
    short = 64
    _, w, _ = timed(lambda: reference_classes(model, inputs_for(model, batch, short), stream_uniforms(range(batch), short), 1.0))
    return batch / best_w, batch / best_c


def excitation_cost(batches: list[int], seconds: float = 1.0, rounds: int = 5) -> dict:
    """Fast-path cost of the sine excitation: the ``default`` conditioned shape with
    ``excitation="none"`` and ``"sine"`` (4 harmonics, as shipped), timed alternately in one run
    (best of ``rounds``, CPU time), so the ratio holds on a busy machine."""
    out = {}
    torch.manual_seed(0)
    models = {kind: WaveNet(preset_config("default", local_dim=6, n_instruments=6, excitation=kind)).eval()
              for kind in ("none", "sine")}
    for batch in batches:
        n = int(seconds * 16000)
        uniforms = stream_uniforms(range(batch), n)
        threads = 1 if batch == 1 else fast.default_threads(batch)
        best = {k: float("inf") for k in models}
        for _ in range(rounds):
            for kind, model in models.items():
                inputs = inputs_for(model, batch, n)
                _, _, c = timed(lambda: fast.fast_classes(model, inputs, uniforms, 1.0, threads=threads))
                best[kind] = min(best[kind], c)
        out[batch] = {"none_cpu_s": best["none"], "sine_cpu_s": best["sine"],
                      "slowdown": best["sine"] / best["none"] - 1}
        print(f"excitation cost, batch {batch:3d}, {seconds:g} s: none {batch * n / best['none']:,.0f} samples/cpu-s, "
              f"sine {batch * n / best['sine']:,.0f}: {100 * out[batch]['slowdown']:+.1f} %")
    return out


def start_times() -> dict:
    """First-call compile and cached start, each in a fresh Python process with its own numba cache:
    seconds from spawning the process until the generator is ready (``ready_s``), of which
    importing ``wavenet_core.generation.fast`` (torch, numba) and loading or compiling the kernel."""
    code = ("import time; t0 = time.perf_counter(); import numba, torch; t1 = time.perf_counter(); "
            "import wavenet_core.generation.fast as f; t2 = time.perf_counter(); w = f.warmup(); "
            "print(t1 - t0, t2 - t1, w, time.time(), flush=True)")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("first", "cached"):
            start = time.time()
            r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            torch_numba, rest, warm, ready = (float(v) for v in r.stdout.split())
            out[label] = {"ready_s": ready - start, "import_torch_numba_s": torch_numba, "import_rest_s": rest,
                          "kernel_s": warm}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[1.0, 4.0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--quick", action="store_true", help="time the PyTorch loop on 0.25 s and extrapolate")
    ap.add_argument("--threads", type=int, default=None, help="fast-path threads at batch > 1 (default: fast.default_threads)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--excitation-only", action="store_true", help="only the excitation cost (none vs sine, same run)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.excitation_only:
        fast.warmup()
        excitation_cost(args.batches)
        return
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(f"cpus allowed {affinity}, load average {os.getloadavg()[0]:.1f}, torch threads 1")
    starts = start_times()
    for label, what in (("first", "first call (compiles the kernel)"), ("cached", "cached start (second process)")):
        st = starts[label]
        print(f"fast path {what}: ready {st['ready_s']:.2f} s after spawning the process = import torch+numba "
              f"{st['import_torch_numba_s']:.2f} s + import wavenet_core {st['import_rest_s']:.2f} s + kernel "
              f"{st['kernel_s']:.2f} s + interpreter start")
    fast.warmup()
    results = {"starts": starts, "load_average": os.getloadavg()[0], "affinity": affinity, "models": {},
               "excitation_cost": excitation_cost(args.batches)}
    header = f"{'model':38s} {'B':>3s} {'sec':>4s} {'path':10s} {'wall/s':>10s} {'cpu/s':>10s} {'x RT':>7s}  note"
    for name, model in bench_models():
        model.eval()
        sr = model.config.sample_rate
        print(f"\n{name}: {model.n_parameters:,} parameters, receptive field {model.receptive_field}")
        print(header)
        rows = []
        torch_loop = TorchCachedLoop(model)
        for batch in args.batches:
            ref_w, ref_c = reference_rate(model, batch)
            fast_times = {}
            for seconds in args.seconds:
                n = int(seconds * sr)
                inputs, uniforms = inputs_for(model, batch, n), stream_uniforms(range(batch), n)
                threads = 1 if batch == 1 else (args.threads or fast.default_threads(batch))
                runs = [timed(lambda: fast.fast_classes(model, inputs, uniforms, 1.0, threads=threads)) for _ in range(2)]
                got, fw, fc = runs[0][0], min(r[1] for r in runs), min(r[2] for r in runs)   # best of two
                fast_times[seconds] = (fw, fc)
                tn = n if not args.quick else min(n, int(0.25 * sr))
                tcls, tw, tc = timed(lambda: torch_loop.classes(inputs_for(model, batch, tn), uniforms[:, :tn], 1.0))
                agree = bool((tcls[:, :200] == got[:, :200]).all())
                note_t = ("" if tn == n else f"timed on {tn / sr:.2f} s, extrapolated; ") + f"same samples as fast: {agree}"
                row = {"batch": batch, "seconds": seconds,
                       "reference": {"wall": ref_w, "cpu": ref_c},
                       "torch_loop": {"wall": batch * tn / tw, "cpu": batch * tn / tc},
                       "fast": {"wall": batch * n / fw, "cpu": batch * n / fc, "threads": threads}}
                rows.append(row)
                for path, note in (("reference", "steady-state window forward, extrapolated"), ("torch loop", note_t),
                                   ("fast", f"{threads} thread(s)")):
                    r = row[path.replace(" ", "_")]
                    print(f"{name[:38]:38s} {batch:3d} {seconds:4.0f} {path:10s} {r['wall']:10,.0f} {r['cpu']:10,.0f} "
                          f"{r['wall'] / sr:7.2f}  {note}")
                f, t, rf = row["fast"], row["torch_loop"], row["reference"]
                print(f"{'':38s} {'':3s} {'':4s} ratios     fast/torch {f['wall'] / t['wall']:.0f}x wall, "
                      f"{f['cpu'] / t['cpu']:.0f}x cpu; fast/reference {f['wall'] / rf['wall']:,.0f}x wall")
            if len(fast_times) > 1:
                lo, hi = min(fast_times), max(fast_times)
                print(f"{'':38s} {batch:3d}      fast {hi:.0f} s / {lo:.0f} s time ratio: "
                      f"{fast_times[hi][0] / fast_times[lo][0]:.2f} wall, {fast_times[hi][1] / fast_times[lo][1]:.2f} cpu "
                      f"(length ratio {hi / lo:.0f})")
        results["models"][name] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
