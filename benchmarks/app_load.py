"""Studio under concurrent load: latency percentiles for N simultaneous generation requests.

    .venv/bin/python benchmarks/app_load.py                      # 16 concurrent 1 s notes, shipped model
    .venv/bin/python benchmarks/app_load.py --concurrency 32 --rounds 2 --seconds 0.5 --json load.json

Launches the studio in this process (as ``wavenet app`` would, one thread per generation slot),
sends one warm request alone (the unloaded latency), then ``--rounds`` bursts of
``--concurrency`` requests at once through ``gradio_client`` (distinct seeds, a held note with
the default controls). For every request it records the time from submission to the complete
response; it prints p50/p90/p95/p99/max of those latencies, throughput (seconds of audio per
wall-clock second), requests refused by the queue bound, the peak resident memory of the
process (Linux VmHWM, reset before the bursts; it hosts both the server and the client) and
the load average, since a shared machine stretches every figure.

With S generation slots, a burst of N requests finishes in about ceil(N / S) service times,
so the median latency of a burst is about half that, and the worst is all of it: latency under
load is queueing, which is what the queue bound (``--queue-size``) caps.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    import numpy as np
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _kb(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default=None, help="installed-models folder (default: $WAVENET_MODEL_DIR and assets/models)")
    p.add_argument("--model", default=None, help="WaveNet to use (default: the studio's default, `notes`)")
    p.add_argument("--concurrency", type=int, default=16, help="requests sent at once in each burst")
    p.add_argument("--rounds", type=int, default=1, help="bursts, one after the other")
    p.add_argument("--seconds", type=float, default=1.0, help="length of each generated note")
    p.add_argument("--slots", type=int, default=None, help="generation slots (default: one per CPU core, as the app)")
    p.add_argument("--queue-size", type=int, default=None, help="waiting requests allowed (default: the burst size)")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)

    import torch
    from gradio_client import Client

    from wavenet_core.studio.app import build_app
    torch.set_num_threads(1)                       # as `wavenet app`: one thread per generation slot
    demo = build_app(args.model_dir, slots=args.slots, queue_size=args.queue_size or args.concurrency)
    if demo.warm_up_thread is not None:
        demo.warm_up_thread.join()
    model = args.model or demo.studio.shelf.default()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    client = Client(url, verbose=False)
    request = dict(model_name=model, instrument=None, mix={}, pitch_mode="note", pitch=60, melody="", tempo=120,
                   midi_file=None, recording=None, source_length=True, loudness_mode="level", level=-18, attack=20,
                   decay=150, sustain=-6, release=200, glide=0, vibrato_depth=0, vibrato_rate=5.5, transpose=0,
                   temperature=1.0, seconds=args.seconds, seed=0, strength=1.0)
    names = list(getattr(demo.studio.shelf.get(model).config, "instrument_names", ()) or ())
    request["instrument"] = names[0] if names else "let the model choose"

    try:
        t0 = time.perf_counter()
        client.predict(*request.values(), api_name="/generate")           # warm: the unloaded latency
        alone = time.perf_counter() - t0

        latencies, refused, audio_seconds = [], 0, 0.0
        try:
            Path("/proc/self/clear_refs").write_text("5")                 # reset the peak-RSS mark
        except OSError:
            pass
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for r in range(args.rounds):
            submitted = {}
            jobs = []
            for i in range(args.concurrency):
                job = client.submit(*{**request, "seed": 1 + r * args.concurrency + i}.values(), api_name="/generate")
                submitted[id(job)] = time.perf_counter()
                jobs.append(job)
            pending = list(jobs)
            while pending:
                for job in list(pending):
                    if job.done():
                        pending.remove(job)
                        try:
                            job.result()
                            latencies.append(time.perf_counter() - submitted[id(job)])
                            audio_seconds += args.seconds
                        except Exception as e:  # noqa: BLE001 - the queue bound refusing is a result, not a crash
                            if "Queue is full" not in str(e):
                                raise
                            refused += 1
                time.sleep(0.01)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        peak_mb = _kb("VmHWM") / 1024
    finally:
        demo.close()

    report = {
        "model": model, "slots": demo.studio.slots, "queue_size": args.queue_size or args.concurrency,
        "concurrency": args.concurrency, "rounds": args.rounds, "seconds_per_request": args.seconds,
        "completed": len(latencies), "refused": refused,
        "latency_alone_s": round(alone, 3),
        "latency_s": {f"p{q}": round(percentile(latencies, q), 3) for q in (50, 90, 95, 99)} | {
            "max": round(max(latencies), 3), "mean": round(sum(latencies) / len(latencies), 3)} if latencies else {},
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "throughput_audio_s_per_s": round(audio_seconds / wall, 3) if wall else math.nan,
        "peak_rss_mb": round(peak_mb), "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    lat = report["latency_s"]
    print(f"{report['completed']} requests of {args.seconds:g} s ({args.rounds} × {args.concurrency} at once) on "
          f"{model!r}, {report['slots']} slots, queue {report['queue_size']}; refused {refused}")
    print(f"latency alone      {alone:7.2f} s")
    for k in ("p50", "p90", "p95", "p99", "max"):
        print(f"latency {k:<10s} {lat.get(k, math.nan):7.2f} s")
    print(f"throughput         {report['throughput_audio_s_per_s']:7.2f} s of audio per s "
          f"(wall {wall:.1f} s, process CPU {cpu:.1f} s)")
    print(f"peak RSS           {peak_mb:7.0f} MB")
    print(f"load average       {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
