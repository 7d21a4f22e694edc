"""Training throughput: fp32 vs bfloat16 autocast on the CPU, at one and two threads.

    .venv/bin/python benchmarks/training_speed.py            # default shape, 8 × 8000, ~2 minutes
    .venv/bin/python benchmarks/training_speed.py --preset tiny --rounds 2

One step = forward + backward + AdamW on the conditioned model (6 local features, 6 instruments,
sine excitation), the work ``wavenet train`` does per step. fp32 and bf16 are timed alternately in
the same run (best of ``--rounds``), so their ratio holds on a busy machine; samples/s counts the
batch's samples.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wavenet_core.model.wavenet import WaveNet, preset_config  # noqa: E402


def step_time(model: WaveNet, opt, batch: dict, bf16: bool) -> float:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(batch["x"], instrument=batch["instrument"], local_cond=batch["local"], f0=batch["f0"])
        loss = F.cross_entropy(logits.float(), batch["x"])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--segment", type=int, default=8000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = WaveNet(preset_config(args.preset, local_dim=6, n_instruments=6, excitation="sine"))
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    b, t = args.batch, args.segment
    frames = t // model.config.hop_length + 1
    batch = {"x": torch.randint(0, 256, (b, t)), "local": torch.randn(b, 6, frames),
             "f0": 100 + 300 * torch.rand(b, frames), "instrument": torch.zeros(b, dtype=torch.long)}
    for threads in args.threads:
        torch.set_num_threads(threads)
        best = {False: float("inf"), True: float("inf")}
        for bf16 in (False, True):
            step_time(model, opt, batch, bf16)                       # warm-up
        for _ in range(args.rounds):
            for bf16 in (False, True):
                best[bf16] = min(best[bf16], step_time(model, opt, batch, bf16))
        fp32, bf = b * t / best[False], b * t / best[True]
        print(f"{args.preset} {b} x {t}, {threads} thread(s): fp32 {fp32:,.0f} samples/s, bf16 {bf:,.0f} "
              f"samples/s ({bf / fp32:.2f}x)")


if __name__ == "__main__":
    main()
