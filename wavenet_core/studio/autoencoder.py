"""The Autoencoder tab: encode a clip into its code, edit the code (principal directions named by what
they move, a morph towards clip B, the pitch kept / transposed / flattened), decode; and steering to
target ranges."""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import gradio as gr
import numpy as np

from ..audio_io import to_int16
from ..jsonsafe import json_safe
from . import server
from .render import describe_audio, descriptor_table, fmt_descriptor, note_name, result_panel
from .sampling import SAMPLING_TARGETS, fmt_range, range_texts, target_parameters, target_row_components, target_rows
from .server import (MAX_SEED, MAX_STEER_BUDGET, MAX_STEER_SECONDS, MAX_TEMPERATURE, CheckpointError, PageRequest,
                     Studio, checked_upload, friendly, handler, log, number, typed_pitch)

UPLOAD = "my upload / recording"
NO_CLIP = "none (no morph)"
N_DIRECTIONS = 4                       # principal-direction sliders shown
PITCH_CONTROLS = ("keep", "transpose", "flatten")
MORPH_PITCH = {"clip A's": "a", "clip B's": "b", "blend A → B": "blend"}
JOB_GROUP = "autoencoder"
STEER_GROUP = "steer"
# Steer to targets: (name, default range, on by default) for each target the panel offers; labels and units
# are the Sampling tab's (SAMPLING_TARGETS).
STEER_DEFAULTS = (("brightness", (2000, 3500), True), ("loudness", (-30, -12), False), ("noisiness", (0, 0.1), False),
                  ("pitch", (55, 67), False))


def _steer_specs() -> tuple:
    rows = {t[0]: t for t in SAMPLING_TARGETS}
    return tuple((*rows[name][:5], rng, on) for name, rng, on in STEER_DEFAULTS)


STEER_TARGETS = _steer_specs()


def min_steer_budget() -> int:
    """The smallest search: the start and one candidate, each decoded on every seed steering judges on."""
    from ..controls.steering import DEFAULT_SEEDS
    return 2 * DEFAULT_SEEDS


def steer_status(result, wall_seconds: float) -> str:
    """One line on a steering result: met or not (flagged as the closest found), decodes, latent distance,
    time, and any property that moved though it was not a target."""
    r = result
    if r.met:
        verdict = "✓ **Targets met**"
    else:
        verdict = f"⚠ **Closest found, targets not met** ({'; '.join(r.failed)})"
    why = {"met": "", "budget": "budget spent", "time": "time limit reached", "cancelled": "stopped"}.get(r.stopped, r.stopped)
    line = (f"{verdict} · {r.decodes} of {r.budget} decodes used · moved {r.latent_distance:.2f} std in the latent · "
            f"distance to targets {r.start_distance:.2f} → {r.distance:.2f} · {wall_seconds:.1f} s wall")
    line += f" · {why}" if why and not r.met else ""
    if len(r.seeds) > 1:
        line += f" · judged on {len(r.seeds)} decode seeds"
    moved = list(r.moved_untargeted)
    if moved:
        parts = []
        for name in moved:
            m = r.moved.get(name, {})
            start, final = m.get("start"), m.get("final")
            if isinstance(start, (int, float)) and isinstance(final, (int, float)):
                parts.append(f"{name.replace('_', ' ')} {fmt_descriptor(name, start)} → {fmt_descriptor(name, final)}")
            else:
                parts.append(name.replace("_", " "))
        line += (" · ⚠ **also moved, though not a target:** " + "; ".join(parts) +
                 " (add it as a target with its current range to hold it)")
    return line


@functools.lru_cache(maxsize=4)
def corpus_examples(sample_rate: int, size: int = 12) -> dict[str, np.ndarray]:
    """A few clips of the built-in corpus (another seed than training), named for the menu."""
    from ..data.corpus import NoteCorpus
    out = {}
    for e in NoteCorpus(sample_rate=sample_rate, hop_length=160, seed=7, size=size, seconds=1.0):
        kind, _, inst = e.name.split("-", 2)
        voiced = e.f0[e.f0 > 0]
        where = note_name(float(np.median(69 + 12 * np.log2(voiced / 440.0)))).split()[0] if len(voiced) else ""
        out[f"{inst} {kind} {where} (#{len(out) + 1})".replace("  ", " ")] = e.audio.astype(np.float32)
    return out


def load_clip(choice, upload, sample_rate: int, what: str, max_seconds: float) -> np.ndarray:
    """A menu choice or an upload → mono float32 at the model's rate."""
    from ..audio_io import load_audio
    if choice == UPLOAD or (choice in (None, "") and upload):
        path = checked_upload(upload, what, max_seconds=max_seconds)
        return load_audio(path, sample_rate, max_seconds=max_seconds)
    examples = corpus_examples(sample_rate)
    if choice not in examples:
        raise ValueError(f"Unknown example {str(choice)[:40]!r} for the {what}; pick one from the list or upload a clip.")
    return examples[choice]


def slider_labels(model) -> list[str]:
    """A label per principal-direction slider: what it moves, measured (``slider_meanings``: e.g.
    'direction 1: brighter (r = +0.82 with brightness)') with its share of the variance."""
    from ..controls import autoencoder as ae
    try:
        _, _, std = ae.principal_directions(model)
    except ValueError:
        return []
    share = std ** 2 / max(float((std ** 2).sum()), 1e-12)
    n = min(N_DIRECTIONS, len(std))
    try:
        meanings = ae.slider_meanings(model)
    except Exception as e:  # noqa: BLE001 - the names are a help; the sliders work without them
        log.info("slider names unavailable: %s", server.one_line(e))
        meanings = []
    labels = []
    for k in range(n):
        text = meanings[k].label.split(": ", 1)[-1] if k < len(meanings) else ""
        labels.append(f"direction {k + 1}" + (f": {text}" if text else "") + f" · {100 * share[k]:.0f} % of variance")
    return labels


def has_pitch_control(model) -> bool:
    """Whether the decoder takes the clip's pitch (an excitation): keep / transpose / flatten apply."""
    return bool(getattr(getattr(getattr(model, "decoder", None), "config", None), "excitation_dim", 0))


def has_pitch_probe(model) -> bool:
    return getattr(model.config, "pitch_weight", 0) > 0 and hasattr(model, "pitch_head")


@dataclasses.dataclass(frozen=True)
class ReconstructRequest(PageRequest):
    """``/reconstruct``: clip A encoded and decoded, its pitch kept, transposed or flattened."""
    ae_name: Any = None
    clip_a: Any = None
    file_a: Any = None
    temperature: Any = 1.0
    seed: Any = 0
    pitch_control: Any = "keep"
    transpose: Any = 0
    flatten_to: Any = "C4"


@dataclasses.dataclass(frozen=True)
class DecodeRequest(PageRequest):
    """``/decode``: clip A (morphed towards B by α), moved along the principal directions, pitch-shifted
    through the code or by the pitch control, decoded."""
    ae_name: Any = None
    clip_a: Any = None
    file_a: Any = None
    clip_b: Any = NO_CLIP
    file_b: Any = None
    alpha: Any = 0.5
    pc1: Any = 0
    pc2: Any = 0
    pc3: Any = 0
    pc4: Any = 0
    pitch_shift: Any = 0
    temperature: Any = 1.0
    seed: Any = 0
    pitch_control: Any = "keep"
    transpose: Any = 0
    flatten_to: Any = "C4"
    morph_pitch: Any = "clip A's"


@dataclasses.dataclass(frozen=True)
class SteerRequest(PageRequest):
    """``/steer``: clip A's code searched towards the target ranges."""
    ae_name: Any
    clip_a: Any
    file_a: Any
    targets: dict                  # name → sampling.TargetRow, one per STEER_TARGETS row
    budget: Any = 16
    time_limit: Any = 120
    temperature: Any = 1.0
    seed: Any = 0

    TAIL = ("budget", "time_limit", "temperature", "seed")

    @classmethod
    def parameters(cls):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        return [("ae_name", None), ("clip_a", None), ("file_a", None), *target_parameters(STEER_TARGETS),
                *[(n, fields[n].default) for n in cls.TAIL]]

    @classmethod
    def from_values(cls, values):
        return cls(values["ae_name"], values["clip_a"], values["file_a"], target_rows(values, STEER_TARGETS),
                   **{n: values[n] for n in cls.TAIL})


def pitch_plan(model, r, audio_a: np.ndarray):
    """The f0 (Hz per frame) the decoder follows for the pitch control, or None (the code's own pitch)."""
    control = r.pitch_control or "keep"
    if control not in PITCH_CONTROLS:
        raise ValueError(f"Pitch must be one of: {', '.join(PITCH_CONTROLS)}; got {str(control)[:20]!r}.")
    if not has_pitch_control(model):
        if control != "keep":
            raise ValueError("This autoencoder takes its pitch from the code (no excitation); transpose or "
                             "flatten needs a pitch-aware autoencoder.")
        return None
    from ..controls import autoencoder as ae
    f0 = ae.clip_f0(model, audio_a)
    if control == "transpose":
        return ae.plan_f0(f0, transpose=number(r.transpose, "Transpose", -24, 24, " semitones"))
    if control == "flatten":
        return ae.plan_f0(f0, flatten=typed_pitch(r.flatten_to, "Flatten to", 24, 96))
    return ae.plan_f0(f0)


def autoencoder_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    from ..controls import autoencoder as ae_module
    names = studio.shelf.names("autoencoder")
    default = studio.shelf.default("autoencoder")
    labels, probe, pitch_ok = [], False, False
    sr = 16000
    if default:
        try:
            m = studio.shelf.get(default, kind="autoencoder")
            labels, probe, pitch_ok = slider_labels(m), has_pitch_probe(m), has_pitch_control(m)
            sr = m.config.sample_rate
        except (CheckpointError, ValueError) as e:
            log.warning("cannot load %s: %s", default, e)
    examples = list(corpus_examples(sr))
    gr.Markdown("Encode a clip into a compact code (the latent: a few numbers per ~30 ms), change the code, "
                "and let the WaveNet decoder turn it back into sound.")
    with gr.Row():
        with gr.Column(scale=1, min_width=340):
            ae_dd = gr.Dropdown(names, value=default, label="Autoencoder model", elem_id="ae-picker",
                                info="Autoencoders installed on this server." if names else
                                "None installed: train one with `wavenet train --model-type autoencoder`.")
            clip_a = gr.Dropdown([*examples, UPLOAD], value=examples[0] if examples else UPLOAD, label="Clip A",
                                 elem_id="clip-a", info="A corpus example, or your own clip (upload or record below).")
            upload_a = gr.Audio(label=f"Your clip A (up to {studio.max_seconds:.0f} s)", type="filepath",
                                sources=["upload", "microphone"])
            with gr.Group(visible=pitch_ok) as pitch_box:
                pitch_control = gr.Radio(list(PITCH_CONTROLS), value="keep", label="Pitch of the result",
                                         elem_id="ae-pitch",
                                         info="Keep clip A's melody, transpose it, or flatten it to one note.")
                with gr.Row():
                    ae_transpose = gr.Slider(-12, 12, value=0, step=1, label="Transpose (semitones)",
                                             elem_id="ae-transpose")
                    flatten_to = gr.Textbox(value="C4", label="Flatten to (note)", max_lines=1, elem_id="ae-flatten")
            with gr.Row():
                reconstruct_btn = gr.Button("Reconstruct A", elem_id="reconstruct")
            with gr.Accordion("Edit the code", open=True):
                pcs = [gr.Slider(-3, 3, value=0, step=0.1, label=labels[k] if k < len(labels) else f"direction {k + 1}",
                                 visible=k < len(labels), elem_id=f"pc-{k + 1}",
                                 info="Move every frame along this direction, in corpus standard deviations." if k == 0 else None)
                       for k in range(N_DIRECTIONS)]
                shift = gr.Slider(-12, 12, value=0, step=1, label="Pitch shift through the code (semitones)",
                                  visible=probe, elem_id="ae-shift")
            with gr.Accordion("Morph towards clip B", open=False):
                clip_b = gr.Dropdown([NO_CLIP, *examples, UPLOAD], value=NO_CLIP, label="Clip B", elem_id="clip-b")
                upload_b = gr.Audio(label="Your clip B", type="filepath", sources=["upload", "microphone"])
                clip_b_player = gr.Audio(label="Clip B", type="numpy", interactive=False, visible=False,
                                         elem_id="clip-b-player")
                alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="α (0 = clip A, 1 = clip B)", elem_id="alpha")
                morph_pitch = gr.Radio(list(MORPH_PITCH), value="clip A's", label="Pitch while morphing",
                                       visible=pitch_ok, elem_id="morph-pitch")
            ae_temperature = gr.Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature")
            ae_seed = gr.Number(value=0, precision=0, label="Seed")
            with gr.Row():
                decode_btn = gr.Button("Decode", variant="primary", elem_id="decode")
                ae_stop = gr.Button("Stop", variant="stop", elem_id="ae-stop")
        with gr.Column(scale=2):
            with gr.Row():
                original = gr.Audio(label="Clip A as heard by the model", type="numpy", interactive=False, scale=1)
                original_table = gr.Dataframe(headers=["measure", "clip A", "result"], label="Clip A beside the result",
                                              interactive=False, wrap=True, scale=1, elem_id="clip-a-measures")
            latent_plot = gr.Plot(label="Latent", show_label=False, format="png", elem_classes=["ae-latent"])
            panel = result_panel("Decoded sound")
    with gr.Accordion("Steer to targets: let the computer find the code", open=False, elem_id="steer-panel"):
        gr.Markdown("Give clip A a target instead of moving sliders by hand (\"this sound, but brighter and "
                    "quieter\"): the search tries codes near clip A's along the principal directions, decodes and "
                    "measures each one, and keeps the closest code whose sound meets every range — or, when none "
                    "does within the budget, the closest it found. Uses the clip, model and temperature above.")
        with gr.Row():
            with gr.Column(scale=1, min_width=340):
                steer_comps = target_row_components(STEER_TARGETS, "steer-")
                with gr.Row():
                    steer_comps["budget"] = gr.Number(value=16, precision=0, label="Budget (decodes)",
                                                      elem_id="steer-budget",
                                                      info=f"{min_steer_budget()}–{MAX_STEER_BUDGET}; every candidate "
                                                           f"counts one decode per seed it is judged on")
                    steer_comps["time_limit"] = gr.Number(value=120, label="Time limit (s)", elem_id="steer-time",
                                                          info=f"up to {MAX_STEER_SECONDS:.0f} s")
                    steer_comps["seed"] = gr.Number(value=0, precision=0, label="Seed", elem_id="steer-seed",
                                                    info="same seed, same search")
                with gr.Row():
                    steer_btn = gr.Button("Run steering", variant="primary", elem_id="steer-run")
                    steer_stop = gr.Button("Stop", variant="stop", elem_id="steer-stop")
            with gr.Column(scale=2, elem_id="steer-result"):
                steer_line = gr.Markdown("*Tick a target, give its range and press Run steering.*",
                                         elem_id="steer-status")
                steer_plot = gr.Plot(label="Steering path", show_label=False, format="png", elem_classes=["steer-path"])
                after = result_panel("After: steered", "Run steering")
                before = result_panel("Before: clip A decoded (where the search starts)", "Run steering")
    job = gr.State(None)
    steer_job = gr.State(None)

    def clip_a_of(ae_name, choice_a, file_a):
        """The chosen autoencoder, clip A (corpus example or upload, checked and loaded) and the length limit."""
        model = studio.shelf.get(ae_name, kind="autoencoder")
        limit = min(studio.max_seconds, model.config.max_seconds)
        return model, load_clip(choice_a, file_a, model.config.sample_rate, "clip A", limit), limit

    def run_decode(r: DecodeRequest, *, job=None, progress=None) -> list:
        """Encode clip A (and B), morph by α, move along the principal directions, shift pitch, decode."""
        studio.shelf.get(r.ae_name, kind="autoencoder")
        temperature = number(r.temperature, "Temperature", 0, MAX_TEMPERATURE)
        seed = number(r.seed, "Seed", 0, MAX_SEED, integer=True)
        t0 = time.perf_counter()
        model, audio_a, limit = clip_a_of(r.ae_name, r.clip_a, r.file_a)
        sr_ = model.config.sample_rate
        z = ae_module.encode(model, audio_a)
        f0 = pitch_plan(model, r, audio_a)
        what = ["A"]
        if r.clip_b not in (None, "", NO_CLIP):
            a = number(r.alpha, "α", 0, 1)
            audio_b = load_clip(r.clip_b, r.file_b, sr_, "clip B", limit)
            z_b = ae_module.encode(model, audio_b)
            z = ae_module.interpolate(z, z_b, a, pad=ae_module.silence_latent(model))
            what.append(f"B{a:g}")
            if f0 is not None:
                follow = MORPH_PITCH.get(r.morph_pitch)
                if follow is None:
                    raise ValueError(f"Pitch while morphing must be one of: {', '.join(MORPH_PITCH)}.")
                n = len(z)
                f_a = np.pad(f0, (0, max(0, n - len(f0))))[:n]
                f_b = np.pad(ae_module.clip_f0(model, audio_b), (0, n))[:n]
                f0 = f_a if follow == "a" else (f_b if follow == "b" else ae_module.blend_f0(f_a, f_b, a))
        offsets = {k: number(v, f"Direction {k + 1}", -10, 10) for k, v in enumerate([r.pc1, r.pc2, r.pc3, r.pc4]) if v}
        if offsets:
            z = ae_module.edit(model, z, offsets=offsets)
            what.append("edit")
        semitones = r.pitch_shift
        if semitones:
            z = ae_module.shift_pitch(model, z, number(semitones, "Pitch shift", -24, 24, " semitones"))
            what.append(f"shift{semitones:+g}")
        if r.pitch_control in ("transpose", "flatten"):
            what.append(str(r.pitch_control))
        if len(z) * model.config.hop_length > studio.max_seconds * sr_ + model.config.hop_length:
            raise ValueError(f"The clips last more than {studio.max_seconds:.0f} s; trim them first.")
        prep = time.perf_counter() - t0
        audio, took = studio.stoppable(lambda **kw: ae_module.decode(model, z, temperature=temperature, seed=seed,
                                                                     method=studio.method, f0=f0, **kw),
                                       job=job, progress=progress, label="Decoding")
        from ..plots import latent_figure
        heat = latent_figure(z, model.config.frame_rate, title=f"latent decoded ({model.config.latent_dim} dims × "
                                                            f"{len(z)} frames at {model.config.frame_rate:g} frames/s)")
        details = {"model": r.ae_name, "method": studio.method, "seed": seed, "temperature": temperature,
                   "latent_frames": len(z),
                   "edits": {"directions": {str(k + 1): v for k, v in offsets.items()},
                             "pitch_shift": semitones or 0,
                             "morph": what[1] if len(what) > 1 and what[1].startswith("B") else None,
                             "pitch_control": r.pitch_control or "keep"}}
        result = studio.results.render(audio, sr_, f"{r.ae_name}-{'-'.join(what)}-seed{seed}", details=details,
                                       gen_seconds=took, timings={"encode": prep})
        measured_a = describe_audio(audio_a, sr_)
        rows = [[row[0], row[2], res[2]] for row, res in zip(descriptor_table(measured_a), result[3])]
        return [(sr_, to_int16(audio_a)), {"headers": ["measure", "clip A", "result"], "data": rows}, heat, *result]

    outputs = [original, original_table, latent_plot, *panel.outputs]
    components = dict(ae_name=ae_dd, clip_a=clip_a, file_a=upload_a, clip_b=clip_b, file_b=upload_b, alpha=alpha,
                      pc1=pcs[0], pc2=pcs[1], pc3=pcs[2], pc4=pcs[3], pitch_shift=shift, temperature=ae_temperature,
                      seed=ae_seed, pitch_control=pitch_control, transpose=ae_transpose, flatten_to=flatten_to,
                      morph_pitch=morph_pitch)

    def reconstruct_run(r: ReconstructRequest, *, job=None, progress=None):
        """Encode clip A and decode it unchanged (its pitch kept, transposed or flattened)."""
        return run_decode(DecodeRequest(r.ae_name, r.clip_a, r.file_a, temperature=r.temperature, seed=r.seed,
                                        pitch_control=r.pitch_control, transpose=r.transpose,
                                        flatten_to=r.flatten_to), job=job, progress=progress)

    def new_job(request: gr.Request = None):
        return studio.jobs.new(server.session_of(request), JOB_GROUP)

    for button, request_type, run, api in ((reconstruct_btn, ReconstructRequest, reconstruct_run, "reconstruct"),
                                           (decode_btn, DecodeRequest, run_decode, "decode")):
        fn = handler(request_type, run, stoppable=JOB_GROUP, studio=studio, name=api)
        button.click(new_job, None, job, queue=False, api_name="new_job_autoencoder", api_visibility="private").then(
            fn, [*[components[n] for n, _ in request_type.parameters()], job], outputs, api_name=api,
            concurrency_limit=studio.slots, concurrency_id="generation")

    @friendly
    def stop_decoding(job_id=None, request: gr.Request = None):
        """Stop this page's latest Reconstruct / Decode (running or queued)."""
        studio.jobs.stop(server.session_of(request), JOB_GROUP, job_id)

    ae_stop.click(stop_decoding, job, None, api_name="stop_autoencoder", queue=False)

    def run_steer(r: SteerRequest, *, job=None, progress=None) -> list:
        """Steer clip A's code toward the target ranges: search nearby codes, decode and measure each, keep the
        closest that meets every target (or the closest found). Returns the status line, the path plot, and
        the sound before and after."""
        from ..controls.steering import steer, steering_targets
        from ..plots import steering_path_figure
        texts = range_texts(r.targets, STEER_TARGETS)
        if not texts:
            raise ValueError("Switch on at least one target (tick its box) so there is something to steer to.")
        targets = steering_targets(texts)
        budget = number(r.budget, "Budget", min_steer_budget(), MAX_STEER_BUDGET, " decodes", integer=True)
        time_limit = number(r.time_limit, "Time limit", 1, MAX_STEER_SECONDS, " s")
        temperature = number(r.temperature, "Temperature", 0, MAX_TEMPERATURE)
        seed = number(r.seed, "Seed", 0, MAX_SEED, integer=True)
        t0 = time.perf_counter()
        model, audio_a, _ = clip_a_of(r.ae_name, r.clip_a, r.file_a)
        z = ae_module.encode(model, audio_a)
        prep = time.perf_counter() - t0
        res, took = studio.stoppable(
            lambda **kw: steer(model, z, targets, budget=budget, max_seconds=time_limit, seed=seed,
                               temperature=temperature, method=studio.method, **kw),
            job=job, progress=progress, label="Steering", unit="decodes")
        asked = {t.name: fmt_range(t) for t in targets}
        common = {"model": r.ae_name, "method": studio.method, "seed": seed, "temperature": temperature,
                  "targets": [str(t) for t in targets]}
        sr_ = res.sample_rate
        first = studio.results.render(res.start_audio, sr_, f"{r.ae_name}-steer-start-seed{seed}", asked=asked,
                                      details={**common, "what": "clip A decoded from its own code (the search's start)",
                                               "distance_to_targets": res.start_distance},
                                      timings={"encode": prep})
        report = res.to_dict()
        status = steer_status(res, took)
        final = studio.results.render(res.audio, sr_, f"{r.ae_name}-steer-{'met' if res.met else 'closest'}-seed{seed}",
                                      asked=asked, details={**common, "steering": json_safe(report)},
                                      timings={"encode": prep, "search": took}, verdict_text=status)
        return [status, steering_path_figure(report), *first, *final]

    shared = {"ae_name": ae_dd, "clip_a": clip_a, "file_a": upload_a, "temperature": ae_temperature}
    steer_inputs = [*[shared[n] if n in shared else steer_comps[n] for n, _ in SteerRequest.parameters()], steer_job]
    steer_fn = handler(SteerRequest, run_steer, stoppable=STEER_GROUP, studio=studio, name="steer_to_targets")

    def new_steer_job(request: gr.Request = None):
        return studio.jobs.new(server.session_of(request), STEER_GROUP)

    steer_btn.click(new_steer_job, None, steer_job, queue=False, api_name="new_job_steer", api_visibility="private").then(
        steer_fn, steer_inputs, [steer_line, steer_plot, *before.outputs, *after.outputs], api_name="steer",
        concurrency_limit=studio.slots, concurrency_id="generation", show_progress_on=[steer_plot])

    @friendly
    def stop_steering(job_id=None, request: gr.Request = None):
        """Stop this page's steering search; it returns the closest code found so far."""
        studio.jobs.stop(server.session_of(request), STEER_GROUP, job_id)

    steer_stop.click(stop_steering, steer_job, None, api_name="stop_steer", queue=False)

    @friendly
    def pick_upload(path):
        """An uploaded clip is checked as it arrives (readable audio, length) and chosen in the menu."""
        if not path:
            return gr.update()
        checked_upload(path, "clip", max_seconds=studio.max_seconds)
        return gr.update(value=UPLOAD)

    upload_a.change(pick_upload, upload_a, clip_a, api_name="upload_a", queue=False, api_visibility="private")
    upload_b.change(pick_upload, upload_b, clip_b, api_name="upload_b", queue=False, api_visibility="private")

    @friendly
    def show_clip_b(name, choice):
        """A player for a corpus clip B (an upload has its own)."""
        if choice in (None, "", NO_CLIP, UPLOAD) or not name:
            return gr.update(value=None, visible=False)
        model = studio.shelf.get(name, kind="autoencoder")
        sr_ = model.config.sample_rate
        return gr.update(value=(sr_, to_int16(load_clip(choice, None, sr_, "clip B", studio.max_seconds))),
                         visible=True)

    clip_b.change(show_clip_b, [ae_dd, clip_b], clip_b_player, api_name="clip_b", queue=False,
                  api_visibility="private")

    @friendly
    def ae_model(name):
        """Slider labels for the chosen autoencoder's principal directions; the pitch controls it supports."""
        model = studio.shelf.get(name, kind="autoencoder")
        labels_ = slider_labels(model)
        return ([gr.update(visible=k < len(labels_), value=0, label=labels_[k] if k < len(labels_) else f"direction {k + 1}")
                 for k in range(N_DIRECTIONS)] +
                [gr.update(visible=has_pitch_probe(model), value=0), gr.update(visible=has_pitch_control(model)),
                 gr.update(visible=has_pitch_control(model))])

    ae_dd.change(ae_model, ae_dd, [*pcs, shift, pitch_box, morph_pitch], api_name="autoencoder_model", queue=False,
                 api_visibility="private")
    return {"pickers": [(ae_dd, "autoencoder")], "hides_model_picker": True}
