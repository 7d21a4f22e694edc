"""The Sampling tab: generate candidates, measure each, keep those inside the target ranges; and the
same goal by conditioning, side by side with its cost."""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import gradio as gr

from .. import Controls, generate, model_inputs
from ..audio_io import to_int16
from ..jsonsafe import json_safe
from . import server
from .render import DESCRIPTOR_LABELS, empty_result, fmt_descriptor, note_name, result_panel
from .server import (FREE, MAX_BUDGET_SECONDS, MAX_CANDIDATES, MAX_KEEP, MAX_SAMPLING_SECONDS, MAX_SEED,
                     MAX_TEMPERATURE, MIDI_MAX, MIDI_MIN, MIX, PageRequest, Studio, fmt_number, friendly, handler,
                     instrument_names, number, typed_pitch)

# (name, label, unit, lowest, highest, default range, on by default) for each target the tab offers.
SAMPLING_TARGETS = (
    ("pitch", "Pitch", "a note (G3, F#4) or MIDI number", 24, 96, (55, 67), True),
    ("loudness", "Loudness", "dB", -80, 0, (-30, -12), False),
    ("brightness", "Brightness", "Hz (spectral centroid)", 0, 8000, (500, 2000), False),
    ("noisiness", "Noisiness", "0 = pure tone, 0.5+ = noise", 0, 1, (0, 0.1), False),
    ("onset_rate", "Onsets", "per second", 0, 50, (0, 2), False),
    ("sounding_seconds", "Sounding time", "s", 0, 10, (0.5, 10), False),
    ("voiced_fraction", "Pitched part", "0..1", 0, 1, (0.8, 1), False),
)
SAMPLING_AXES = [t[0] for t in SAMPLING_TARGETS]
JOB_GROUP = "sampling"
COMPARE_HEADERS = ["method", "outputs", "meeting the targets", "candidates", "audio generated (s)", "wall time (s)",
                   "CPU time (s)"]


@dataclasses.dataclass(frozen=True)
class TargetRow:
    """One target row of the page: its tick box and its two ends (as typed)."""
    on: Any
    low: Any
    high: Any


def target_parameters(specs) -> list[tuple[str, Any]]:
    """The page values of target rows ``specs`` (rows of ``SAMPLING_TARGETS``), in input order:
    ``NAME_on, NAME_min, NAME_max`` per row. The one definition of that order."""
    out = []
    for name, _label, _unit, _lo, _hi, (d_lo, d_hi), on in specs:
        out += [(f"{name}_on", on), (f"{name}_min", d_lo), (f"{name}_max", d_hi)]
    return out


def target_rows(values: dict, specs) -> dict[str, TargetRow]:
    return {s[0]: TargetRow(values[f"{s[0]}_on"], values[f"{s[0]}_min"], values[f"{s[0]}_max"]) for s in specs}


def range_texts(rows: dict[str, TargetRow], specs) -> list[str]:
    """Target rows → texts such as ``brightness=1500..2500`` for the rows switched on (ranges checked
    later by ``sampling.parse_targets``)."""
    texts = []
    for name, label, *_rest in specs:
        row = rows[name]
        if not row.on:
            continue
        if name == "pitch":       # note names or MIDI numbers
            lo_s = "" if row.low is None or str(row.low).strip() == "" else fmt_number(typed_pitch(row.low, f"{label} minimum", 0, 127))
            hi_s = "" if row.high is None or str(row.high).strip() == "" else fmt_number(typed_pitch(row.high, f"{label} maximum", 0, 127))
        else:
            lo_s = "" if row.low is None or row.low == "" else fmt_number(number(row.low, f"{label} minimum", -1e9, 1e9))
            hi_s = "" if row.high is None or row.high == "" else fmt_number(number(row.high, f"{label} maximum", -1e9, 1e9))
        if not lo_s and not hi_s:
            raise ValueError(f"The {label.lower()} target is on but has no minimum or maximum; give at least one.")
        texts.append(f"{name}={lo_s}..{hi_s}")
    return texts


@dataclasses.dataclass(frozen=True)
class SampleRequest(PageRequest):
    """Everything the Sample and comparison buttons send (``/sample``, ``/compare_conditioning``)."""
    model_name: Any
    targets: dict                 # name → TargetRow, one per SAMPLING_TARGETS row
    timbre_on: Any = False
    timbre_name: Any = None
    instrument: Any = FREE
    fix_pitch: Any = False
    pitch: Any = 60
    fix_loudness: Any = False
    level: Any = -18
    seconds: Any = 1.0
    temperature: Any = 1.0
    seed: Any = 0
    keep: Any = 3
    max_candidates: Any = 32
    time_budget: Any = 60
    early_rejection: Any = True

    TAIL = ("timbre_on", "timbre_name", "instrument", "fix_pitch", "pitch", "fix_loudness", "level", "seconds",
            "temperature", "seed", "keep", "max_candidates", "time_budget", "early_rejection")

    @classmethod
    def parameters(cls) -> list[tuple[str, Any]]:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        return ([("model_name", None), *target_parameters(SAMPLING_TARGETS)] +
                [(n, fields[n].default) for n in cls.TAIL])

    @classmethod
    def from_values(cls, values: dict):
        return cls(model_name=values["model_name"], targets=target_rows(values, SAMPLING_TARGETS),
                   **{n: values[n] for n in cls.TAIL})

    def target_texts(self, instrument_names_) -> list[str]:
        """The targets switched on, as texts checked by ``sampling.parse_targets`` (inverted, empty and
        impossible ranges are refused there)."""
        from ..controls.sampling import parse_targets
        texts = range_texts(self.targets, SAMPLING_TARGETS)
        if self.timbre_on:
            if self.timbre_name in (None, "", FREE, MIX):
                raise ValueError("The timbre target is on: choose the instrument it should sound like.")
            texts.append(f"timbre={self.timbre_name}")
        if not texts:
            raise ValueError("Switch on at least one target (tick its box) so there is something to select by.")
        parse_targets(texts, tuple(instrument_names_) or None)
        return texts


@dataclasses.dataclass(frozen=True)
class ScatterRequest(SampleRequest):
    """The Sample button's values plus the scatter's axes."""
    scatter_x: Any = "pitch"
    scatter_y: Any = "brightness"

    TAIL = (*SampleRequest.TAIL, "scatter_x", "scatter_y")


def fixed_controls(config, r: SampleRequest, seconds: float) -> Controls:
    names = instrument_names(config)
    kw: dict = {"seconds": seconds}
    if r.instrument not in (None, "", FREE):
        if r.instrument not in names:
            raise ValueError(f"Unknown instrument {str(r.instrument)[:30]!r}; this model knows: {', '.join(names) or 'none'}.")
        kw["instrument"] = r.instrument
    if r.fix_pitch:
        kw["pitch"] = typed_pitch(r.pitch, "Fixed note")
    if r.fix_loudness:
        kw["loudness"] = number(r.level, "Fixed level", -60, 0, " dB")
    return Controls(**kw)


def make_sampler(studio: Studio, r: SampleRequest):
    """(model, RejectionSampler) for a request, every value checked."""
    from ..controls.sampling import RejectionSampler
    model = studio.wavenet(r.model_name)
    seconds = number(r.seconds, "Candidate length", 0.1, MAX_SAMPLING_SECONDS, " s")
    controls = fixed_controls(model.config, r, seconds)
    texts = r.target_texts(instrument_names(model))
    keep = number(r.keep, "Keep", 1, MAX_KEEP, integer=True)
    return model, RejectionSampler(
        model, texts, controls=controls, seconds=seconds,
        temperature=number(r.temperature, "Temperature", 0, MAX_TEMPERATURE),
        keep=keep, max_candidates=number(r.max_candidates, "Max candidates", 1, MAX_CANDIDATES, integer=True),
        max_seconds=number(r.time_budget, "Time budget", 1, MAX_BUDGET_SECONDS, " s"),
        seed=number(r.seed, "First seed", 0, MAX_SEED, integer=True), early_rejection=bool(r.early_rejection),
        # Batches no larger than Keep: asking for 3 does not generate 8 first (later batches follow the
        # acceptance seen so far).
        batch=keep, threads=1)


def scatter(result: dict, x: str, y: str):
    """(scatter figure, "") or (None, a line saying why there is nothing to plot) when no candidate has
    both values (e.g. no candidate had a pitch)."""
    from ..plots import candidate_scatter_figure
    cands = result.get("candidates") or []
    missing = [a for a in dict.fromkeys((x, y)) if not any((c.get("descriptors") or {}).get(a) is not None for c in cands)]
    if missing:
        what = " and ".join(DESCRIPTOR_LABELS.get(a, a).replace("_", " ") for a in missing)
        return None, (f"\n\n*Nothing to plot: no candidate had a measurable {what}. "
                      "Choose other scatter axes (e.g. loudness, brightness).*")
    return candidate_scatter_figure(result, x, y), ""


def pick_label(c) -> str:
    d = c.descriptors or {}
    bits = [f"pick {c.rank}", f"seed {c.seed}"]
    if d.get("pitch") is not None:
        bits.append(note_name(d["pitch"]))
    bits.append("meets the targets" if c.meets_targets else f"closest miss ({', '.join(c.reasons[:2])})")
    return " · ".join(bits)


def cost_line(summary: dict, keep: int) -> str:
    s_ = summary
    line = (f"**{s_['accepted']} of {s_['candidates_generated']} candidates accepted** "
            f"(acceptance {100 * s_['acceptance_rate']:.0f} %) · {s_['seconds_of_audio_generated']:.1f} s of audio "
            f"generated · early rejection saved {100 * s_['saved_fraction']:.0f} % · "
            f"{s_['wall_seconds']:.1f} s wall, {s_['cpu_seconds']:.1f} s CPU")
    why = {"keep": "enough passed", "max_candidates": "candidate budget spent", "max_seconds": "time budget spent",
           "cancelled": "stopped"}.get(s_["stop_reason"], s_["stop_reason"])
    line += f" · stopped: {why}"
    if s_["picks_meeting_targets"] < keep:
        line += (f"\n\n⚠ Only {s_['picks_meeting_targets']} of the {keep} picks meet every target; widen the "
                 "ranges, fix a control by conditioning (the comparison above), or raise the budget.")
    return line


def fmt_range(target) -> str:
    """A target range as the results table's "asked for" text, e.g. '1500 Hz … 2500 Hz', '≥ -20.0 dB'."""
    lo = None if math.isinf(target.low) else fmt_descriptor(target.name, target.low)
    hi = None if math.isinf(target.high) else fmt_descriptor(target.name, target.high)
    return f"{lo} … {hi}" if lo and hi else (f"≥ {lo}" if lo else f"≤ {hi}")


def range_boxes(name: str, lo: float, hi: float) -> tuple:
    """The min and max boxes of a target row; pitch takes note names (G3, F#4) or MIDI numbers."""
    if name == "pitch":
        return (gr.Textbox(value=note_name(lo), label="min (note)", scale=1, min_width=70, max_lines=1),
                gr.Textbox(value=note_name(hi), label="max (note)", scale=1, min_width=70, max_lines=1))
    return (gr.Number(value=lo, label="min", scale=1, min_width=70), gr.Number(value=hi, label="max", scale=1, min_width=70))


def target_row_components(specs, elem_prefix: str) -> dict:
    """The rows of target controls (tick box, min, max) for ``specs``, keyed like ``target_parameters``."""
    out = {}
    for name, label, unit, _lo, _hi, (d_lo, d_hi), on in specs:
        with gr.Row(equal_height=True):
            out[f"{name}_on"] = gr.Checkbox(value=on, label=label, info=unit, scale=2, min_width=120,
                                            elem_id=f"{elem_prefix}{name}")
            out[f"{name}_min"], out[f"{name}_max"] = range_boxes(name, d_lo, d_hi)
    return out


def sampling_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    names = instrument_names(initial) if initial is not None else []
    gr.Markdown("Generate candidates freely (or with some controls fixed), measure each one, and keep those whose "
                "measurements fall inside your target ranges. It works for anything measurable, but costs "
                "compute — the cost of every run is shown, beside the same goal reached by conditioning.")
    with gr.Row():
        with gr.Column(scale=1, min_width=360):
            with gr.Accordion("Targets: tick a property and give its range (leave an end empty for no bound)", open=True):
                comps = target_row_components(SAMPLING_TARGETS, "t-")
                with gr.Row(equal_height=True):
                    comps["timbre_on"] = gr.Checkbox(value=False, label="Timbre", info="judged by a classifier",
                                                     scale=2, min_width=120)
                    comps["timbre_name"] = gr.Dropdown(names, value=names[0] if names else None, label="sounds like",
                                                       scale=2, allow_custom_value=True)
            with gr.Accordion("Controls kept fixed (everything else is left free)", open=False):
                comps["instrument"] = gr.Dropdown([FREE, *names], value=FREE, label="Instrument", allow_custom_value=True)
                with gr.Row(equal_height=True):
                    comps["fix_pitch"] = gr.Checkbox(value=False, label="Fix the note", scale=1)
                    comps["pitch"] = gr.Textbox(value="C4", label="Note (A4, F#3 or MIDI)", scale=3, max_lines=1,
                                                elem_id="s-pitch")
                with gr.Row(equal_height=True):
                    comps["fix_loudness"] = gr.Checkbox(value=False, label="Fix the level", scale=1)
                    comps["level"] = gr.Slider(-40, -3, value=-18, step=1, label="Level (dB)", scale=3)
            comps["seconds"] = gr.Slider(0.2, MAX_SAMPLING_SECONDS, value=1.0, step=0.1,
                                         label="Length of each candidate (s)", elem_id="s-seconds")
            with gr.Row():
                comps["keep"] = gr.Slider(1, MAX_KEEP, value=3, step=1, label="Keep", info="stop after this many pass",
                                          elem_id="s-keep")
                comps["max_candidates"] = gr.Slider(1, MAX_CANDIDATES, value=32, step=1, label="Max candidates",
                                                    info="budget", elem_id="s-max")
            with gr.Row():
                comps["time_budget"] = gr.Slider(5, MAX_BUDGET_SECONDS, value=60, step=5, label="Time budget (s)")
                comps["early_rejection"] = gr.Checkbox(
                    value=True, label="Early rejection",
                    info="stop a candidate as soon as loudness, noisiness or sounding time cannot fit")
            with gr.Row():
                comps["temperature"] = gr.Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature")
                comps["seed"] = gr.Number(value=0, precision=0, label="First seed", info="candidate i uses seed + i")
            with gr.Row():
                sample_btn = gr.Button("Sample", variant="primary", elem_id="sample")
                compare_btn = gr.Button("Same goal by conditioning", elem_id="compare")
                s_stop = gr.Button("Stop", variant="stop", elem_id="s-stop")
        with gr.Column(scale=2):
            cost = gr.Markdown("*Set targets and press Sample.*", elem_id="sampling-cost")
            # The comparison sits at the top: its lesson (conditioning meets a pitch goal in a fraction of
            # the compute) is the tab's most useful one.
            with gr.Accordion("Method comparison: the same goal by conditioning", open=True, elem_id="compare-box") as cmp_box:
                cmp_table = gr.Dataframe(headers=COMPARE_HEADERS, label="Comparison", interactive=False, wrap=True,
                                         elem_id="compare-table")
                cmp_note = gr.Markdown("*Press Sample, then “Same goal by conditioning” to compare the two methods "
                                       "on the same targets.*", elem_id="compare-note")
                with gr.Row():
                    cmp_takes = [gr.Audio(label=f"conditioned take {i + 1}", type="numpy", interactive=False,
                                          visible=False, min_width=160) for i in range(MAX_KEEP)]
            with gr.Row():
                comps["scatter_x"] = gr.Dropdown(SAMPLING_AXES, value="pitch", label="scatter x", scale=1)
                comps["scatter_y"] = gr.Dropdown(SAMPLING_AXES, value="brightness", label="scatter y", scale=1)
            scatter_plot = gr.Plot(label="Candidates", show_label=False, format="png", elem_classes=["sampling-scatter"],
                                   visible=True)
            gr.Markdown("**Picks** (accepted first; when too few pass, the closest misses fill up)")
            picks = [gr.Audio(label=f"pick {i + 1}", type="numpy", interactive=False, visible=False,
                              elem_classes=["sampling-pick"]) for i in range(MAX_KEEP)]
            inspect = gr.Radio([], label="Inspect pick", elem_id="inspect-pick")
            panel = result_panel("Selected pick")
    last = gr.State(None)          # the last run: result dict, pick audio paths, summary; per browser session
    job = gr.State(None)

    def render_pick(state, index: int) -> list:
        import soundfile as sf
        path = state["picks"][index]
        audio, sr = sf.read(path, dtype="float32")
        cand = next(c for c in state["result"]["candidates"] if c["index"] == state["result"]["picks"][index])
        details = {"model": state["model"], "seed": cand["seed"], "status": cand["status"],
                   "meets_targets": cand["meets_targets"], "distance_to_targets": cand["distance"],
                   "targets": state["targets"], "controls": state["controls"]}
        line = ("**✓ Meets every target** (" + ", ".join(state["targets"]) + ")" if cand["meets_targets"] else
                "**✗ Misses the targets:** " + "; ".join(cand.get("reasons") or []) +
                ". **Next step:** widen the ranges, fix a control by conditioning, or raise the budget.")
        return list(studio.results.render(audio, sr, Path(path).stem, details=details, verdict_text=line))

    def run_sample(r: ScatterRequest, *, job=None, progress=None) -> list:
        """Rejection sampling: generate candidates until ``keep`` meet every target or the budget is spent."""
        model, sampler = make_sampler(studio, r)
        sr = model.config.sample_rate

        def run(progress, cancel):
            return sampler.run(progress=lambda done, total, _s: progress(done, total), cancel=cancel)
        result, _took = studio.stoppable(run, job=job, progress=progress, label="Candidates", unit="candidates")
        d = result.to_dict()
        d.pop("model", None)                 # a server path; the page has the model's name
        summary = result.summary()
        pick_files, pick_updates, choices = [], [], []
        for c in result.picks:
            pcm = to_int16(c.audio)
            pick_files.append(studio.results.wav(pcm, sr, f"{r.model_name}-pick{c.rank}-seed{c.seed}"))
            label = pick_label(c)
            pick_updates.append(gr.update(value=(sr, pcm), label=label, visible=True))
            choices.append(label)
        pick_updates += [gr.update(value=None, visible=False)] * (MAX_KEEP - len(pick_updates))
        state = {"result": d, "picks": pick_files, "labels": choices, "keep": sampler.keep, "targets":
                 [str(t) for t in sampler.targets], "controls": json_safe(d.get("controls")), "seconds": sampler.n / sr,
                 "model": r.model_name, "summary": json_safe(summary)}
        fig, empty_axes = scatter(d, r.scatter_x or "pitch", r.scatter_y or "brightness")
        panel_out = (render_pick(state, 0) if pick_files else
                     empty_result("*No candidate was completed: raise the budget.*"))
        return [cost_line(summary, sampler.keep) + empty_axes, gr.update(value=fig, visible=fig is not None),
                *pick_updates, gr.update(choices=choices, value=choices[0] if choices else None), *panel_out, state]

    sample_params = [n for n, _ in ScatterRequest.parameters()]
    sample_inputs = [model_dd if n == "model_name" else comps[n] for n in sample_params]
    sample_outputs = [cost, scatter_plot, *picks, inspect, *panel.outputs, last]
    sample_fn = handler(ScatterRequest, run_sample, stoppable=JOB_GROUP, studio=studio, name="sample")

    def new_job(request: gr.Request = None):
        return studio.jobs.new(server.session_of(request), JOB_GROUP)

    ev = sample_btn.click(new_job, None, job, queue=False, api_name="new_job_sampling", api_visibility="private").then(
        sample_fn, [*sample_inputs, job], sample_outputs, api_name="sample", concurrency_limit=studio.slots,
        concurrency_id="generation", show_progress_on=[scatter_plot])

    @friendly
    def inspect_pick(choice, state):
        """Waveform, spectrogram, measurements and WAV of one pick of the last run."""
        if not state or not state.get("picks"):
            raise ValueError("Run Sample first; then choose one of its picks.")
        if choice not in state["labels"]:
            raise ValueError("Choose one of the picks listed.")
        return render_pick(state, state["labels"].index(choice))

    inspect.input(inspect_pick, [inspect, last], panel.outputs, api_name="inspect_pick", concurrency_id="light",
                  concurrency_limit=4)

    @friendly
    def replot(x, y, state):
        """Redraw the candidate scatter of the last run on other axes."""
        if not state:
            return gr.update()
        fig, empty_axes = scatter(state["result"], x, y)
        if empty_axes:
            gr.Warning(empty_axes.strip().strip("*"))
        return gr.update(value=fig, visible=fig is not None)

    gr.on([comps["scatter_x"].input, comps["scatter_y"].input], replot, [comps["scatter_x"], comps["scatter_y"], last],
          scatter_plot, api_name="sampling_scatter", concurrency_id="light", concurrency_limit=4)

    def run_compare(r: SampleRequest, *, job=None, progress=None, state=None) -> list:
        """The same goal by conditioning: condition on what can be conditioned (the middle of the pitch and
        loudness ranges, the timbre), generate as many takes as Keep, and judge them by the same targets."""
        from ..controls.sampling import failed_targets
        model, sampler = make_sampler(studio, r)
        controls, conditioned, free = sampler.controls, [], []
        for t in sampler.targets:
            if t.name == "pitch" and getattr(model.config, "local_dim", 0):
                mid = float(round((max(t.low, MIDI_MIN) + min(t.high, MIDI_MAX)) / 2))   # the models learned whole notes
                controls = dataclasses.replace(controls, pitch=mid)
                conditioned.append(f"pitch {note_name(mid)}")
            elif t.name == "loudness" and getattr(model.config, "local_dim", 0):
                mid = (max(t.low, -40) + min(t.high, -3)) / 2
                controls = dataclasses.replace(controls, loudness=mid)
                conditioned.append(f"loudness {mid:.0f} dB")
            elif t.name == "timbre" and getattr(model.config, "n_instruments", 0):
                controls = dataclasses.replace(controls, instrument=t.label)
                conditioned.append(f"timbre {t.label}")
            else:
                free.append(t.name.replace("_", " "))
        inputs = model_inputs(controls, model.config)
        sr = model.config.sample_rate
        t0, c0 = time.perf_counter(), time.process_time()
        seeds = sampler.seeds(0, sampler.keep)
        audio, _ = studio.stoppable(lambda **kw: generate(model, inputs, temperature=sampler.temperature, seed=seeds,
                                                          batch=len(seeds), method=studio.method, **kw),
                                    job=job, progress=progress, label="Conditioned takes")
        verdicts = [not failed_targets(sampler.measure(a), sampler.targets) for a in audio]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = [["conditioning", len(audio), sum(verdicts), len(audio), round(len(audio) * sampler.n / sr, 2),
                 round(wall, 2), round(cpu, 2)]]
        if state and state.get("targets") == [str(t) for t in sampler.targets]:
            s_ = state["summary"]
            rows.insert(0, ["rejection sampling (last run)", s_["picked"], s_["picks_meeting_targets"],
                            s_["candidates_generated"], round(s_["seconds_of_audio_generated"], 2),
                            round(s_["wall_seconds"], 2), round(s_["cpu_seconds"], 2)])
        note = (f"Conditioned on: {', '.join(conditioned) or 'nothing (no target can be conditioned)'}"
                f"{'; left free: ' + ', '.join(free) if free else ''}. Every take is judged by the same targets. "
                f"Targets: {', '.join(str(t) for t in sampler.targets)}.")
        takes = [gr.update(value=(sr, to_int16(a)), visible=True,
                           label=f"conditioned take {i + 1} · seed {seeds[i]} · {'meets' if ok else 'misses'} the targets")
                 for i, (a, ok) in enumerate(zip(audio, verdicts))]
        takes += [gr.update(value=None, visible=False)] * (MAX_KEEP - len(takes))
        return [{"headers": COMPARE_HEADERS, "data": rows}, note, *takes, gr.update(open=True)]

    @dataclasses.dataclass(frozen=True)
    class CompareRequest(SampleRequest):
        last: Any = None
        TAIL = (*SampleRequest.TAIL, "last")

    compare_fn = handler(CompareRequest, lambda r, job=None, progress=None: run_compare(r, job=job, progress=progress,
                                                                                        state=r.last),
                         stoppable=JOB_GROUP, studio=studio, name="compare",
                         doc=run_compare.__doc__)
    compare_inputs = [model_dd if n == "model_name" else (last if n == "last" else comps[n])
                      for n, _ in CompareRequest.parameters()]
    ev2 = compare_btn.click(new_job, None, job, queue=False, api_name="new_job_sampling", api_visibility="private").then(
        compare_fn, [*compare_inputs, job], [cmp_table, cmp_note, *cmp_takes, cmp_box],
        api_name="compare_conditioning", concurrency_limit=studio.slots, concurrency_id="generation")
    del ev, ev2

    @friendly
    def stop_sampling(job_id=None, request: gr.Request = None):
        """Stop this page's latest sampling run or comparison (running or queued); it returns what it has."""
        studio.jobs.stop(server.session_of(request), JOB_GROUP, job_id)

    s_stop.click(stop_sampling, job, None, api_name="stop_sampling", queue=False)

    def on_model(model_name):
        names_ = instrument_names(studio.shelf.get(model_name))
        return [gr.update(choices=names_, value=names_[0] if names_ else None),
                gr.update(choices=[FREE, *names_], value=FREE)]

    return {"on_model": (on_model, [comps["timbre_name"], comps["instrument"]])}
