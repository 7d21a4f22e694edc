"""Studio latency: time to first sound and time to the complete response for a note through
``gradio_client``, split into its parts.

    .venv/bin/python benchmarks/app_latency.py [--model-dir DIR] [--model NAME] [--seconds 4] [--repeats 7] [--json out.json]

Parts (medians over the repeats, after one warm-up request):
* first sound — from the request to the first live-audio block reaching the client (Generate
  streams while it generates; target for a 4 s note: 0.5 s). The browser adds its own buffering;
  tests/test_app_browser.py checks the player plays before the result is complete;
* conditioning — Controls → model inputs;
* generation — ``generate()`` (the fast compiled generator);
* descriptors — ``descriptors.describe`` on the result (pYIN is most of it);
* figures — building both figures in the handler;
* rest — the remainder of the round trip: Gradio encoding the figures to PNG, the int16 WAV, JSON,
  HTTP, the client fetching the audio and WAV files;
* plotting — both figures built and PNG-encoded, timed apart on the returned audio (the figure
  work a request costs, part of it inside Gradio).

Wall-clock seconds and CPU seconds (this process runs both the server and the client, so its CPU
time per request is what the request cost, whatever else the machine is doing). Targets (issue 7):
total under 2 s for a 1 s note, plotting under 0.5 s; issue 17: first sound within 0.5 s for a 4 s
note. Figures are printed (with the ratio of first sound to total), not asserted. The machine may
be shared, so the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_TOTAL_S = 2.0
TARGET_PLOTS_S = 0.5
TARGET_FIRST_SOUND_S = 0.5


def plotting_seconds(audio, sample_rate: int) -> tuple[float, float]:
    """(wall, CPU) seconds to build both result figures and encode them to PNG the way gr.Plot does."""
    from wavenet_core.plots import spectrogram_figure, waveform_figure
    t0, c0 = time.perf_counter(), time.process_time()
    for fig in (waveform_figure(audio, sample_rate), spectrogram_figure(audio, sample_rate)):
        fig.savefig(io.BytesIO(), format="png")
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default=None, help="installed-models folder (default: assets/models)")
    p.add_argument("--model", default=None, help="WaveNet to use (default: the studio's default, `notes`)")
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)

    import numpy as np
    import soundfile as sf
    import torch
    from gradio_client import Client

    from wavenet_core.studio.app import build_app
    torch.set_num_threads(1)                        # as `wavenet app` runs: one thread per generation slot
    demo = build_app(args.model_dir, slots=1)
    if demo.warm_up_thread is not None:
        demo.warm_up_thread.join()
    model = args.model or demo.studio.shelf.default("wavenet")
    if model is None:
        raise SystemExit("error: no WaveNet model installed; pass --model-dir or train one.")
    instrument = (list(demo.studio.shelf.get(model).config.instrument_names) or ["let the model choose"])[0]
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    client = Client(url, verbose=False)
    values = dict(model_name=model, instrument=instrument, mix={}, pitch_mode="note", pitch=60, melody="", tempo=120,
                  midi_file=None, recording=None, source_length=True, loudness_mode="level", level=-18, attack=20,
                  decay=150, sustain=-6, release=200, glide=0, vibrato_depth=0, vibrato_rate=5.5, transpose=0,
                  temperature=1.0, seconds=args.seconds, seed=0, strength=1.0)
    rows = []
    try:
        for i in range(args.repeats + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            job = client.submit(*{**values, "seed": i}.values(), api_name="/generate")
            first = None
            while not job.done():
                if first is None and job.outputs():
                    first = time.perf_counter() - t0       # the first live block (or the result) arrived
                time.sleep(0.002)
            result = job.result()
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
            first = total if first is None else first
            audio, sr = sf.read(result[0], dtype="float32")
            assert len(audio) == round(args.seconds * sr) and np.abs(audio).max() > 0, "bad audio"
            timings = result[-1]["timings_s"]            # details are the last output
            plot_wall, plot_cpu = plotting_seconds(audio, sr)
            if i == 0:
                continue                            # warm-up: first-request costs are not the steady state
            row = {"conditioning": timings.get("conditioning", 0.0), "generation": timings["generation"],
                   "descriptors": timings["descriptors"], "figures": timings["plots"]}
            row["rest"] = total - sum(row.values())
            row.update(total=total, total_cpu=cpu, plotting=plot_wall, plotting_cpu=plot_cpu, first_sound=first,
                       first_sound_share=first / total)
            rows.append(row)
    finally:
        demo.close()

    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    best = {k: min(r[k] for r in rows) for k in rows[0]}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model {model!r}, {args.seconds:g} s note, {args.repeats} requests after one warm-up, "
          f"{os.cpu_count()} CPU cores, load average {load:.1f}")
    print(f"{'part (wall clock)':26s} {'median s':>9s} {'best s':>8s}")
    for k in ("first_sound", "conditioning", "generation", "descriptors", "figures", "rest", "total"):
        print(f"{k.replace('_', ' '):26s} {med[k]:9.3f} {best[k]:8.3f}")
    print(f"{'first sound / total':26s} {med['first_sound_share']:9.3f} {best['first_sound_share']:8.3f}")
    print(f"{'total, CPU seconds':26s} {med['total_cpu']:9.3f} {best['total_cpu']:8.3f}")
    print(f"{'plotting (figures + PNG)':26s} {med['plotting']:9.3f} {best['plotting']:8.3f}")
    print(f"{'plotting, CPU seconds':26s} {med['plotting_cpu']:9.3f} {best['plotting_cpu']:8.3f}")
    ok_total, ok_plots = med["total"] < TARGET_TOTAL_S, med["plotting"] < TARGET_PLOTS_S
    ok_total_cpu, ok_plots_cpu = med["total_cpu"] < TARGET_TOTAL_S, med["plotting_cpu"] < TARGET_PLOTS_S
    ok_first = med["first_sound"] <= TARGET_FIRST_SOUND_S
    print(f"target first sound <= {TARGET_FIRST_SOUND_S} s: {'met' if ok_first else 'MISSED'} "
          f"({med['first_sound']:.2f} s for a {args.seconds:g} s note; complete after {med['total']:.2f} s)")
    print(f"target total < {TARGET_TOTAL_S} s: wall {'met' if ok_total else 'MISSED'}, CPU {'met' if ok_total_cpu else 'MISSED'}; "
          f"plotting < {TARGET_PLOTS_S} s: wall {'met' if ok_plots else 'MISSED'}, CPU {'met' if ok_plots_cpu else 'MISSED'}")
    out = {"model": model, "seconds": args.seconds, "repeats": args.repeats, "cpu_count": os.cpu_count(),
           "load_average": load, "median_s": med, "best_s": best, "rows": rows,
           "targets": {"first_sound_s": TARGET_FIRST_SOUND_S, "first_sound_met": ok_first,
                       "total_s": TARGET_TOTAL_S, "plotting_s": TARGET_PLOTS_S, "total_met": ok_total,
                       "plotting_met": ok_plots, "total_cpu_met": ok_total_cpu, "plotting_cpu_met": ok_plots_cpu}}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
