"""The Conditioning tab: one sound from musical controls (instrument or timbre mix, a note, melody,
MIDI file or recording to follow, loudness, expression), judged against what was asked."""
from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

import gradio as gr
import numpy as np

from .. import Controls, model_inputs
from ..controls.verdict import judge, known_pitch_range, note_label
from ..jsonsafe import json_safe
from . import server
from .render import empty_result, note_name, result_panel
from .server import (FREE, MAX_MIX_SLIDERS, MAX_SEED, MAX_STRENGTH, MAX_TEMPERATURE, MAX_UPLOAD_SECONDS, MIN_SECONDS,
                     MIX, PageRequest, Studio, checked_upload, fmt_number, friendly, handler, instrument_names, number,
                     typed_pitch)

PITCH_MODES = {"note": "note", "melody": "melody", "MIDI file": "midi_file", "recording": "from_audio", "free": None}
LOUDNESS_MODES = ("level", "envelope", "free")
JOB_GROUP = "generate"


@dataclasses.dataclass(frozen=True)
class GenerateRequest(PageRequest):
    """Every value the Generate button sends, in the order API callers send them (``/generate``)."""
    model_name: Any = None
    instrument: Any = None
    mix: Any = None
    pitch_mode: Any = "note"
    pitch: Any = None
    melody: Any = None
    tempo: Any = 120
    midi_file: Any = None
    recording: Any = None
    source_length: Any = True
    loudness_mode: Any = "level"
    level: Any = -18
    attack: Any = 20
    decay: Any = 150
    sustain: Any = -6
    release: Any = 200
    glide: Any = None
    vibrato_depth: Any = None
    vibrato_rate: Any = None
    transpose: Any = None
    temperature: Any = 1.0
    seconds: Any = 1.0
    seed: Any = 0
    strength: Any = 1.0


def _normalise_mix(mix, names: list[str]) -> dict[str, float]:
    if mix is None:
        mix = {}
    if not isinstance(mix, dict):
        raise ValueError("The timbre mix must map instrument names to weights, e.g. {\"saw\": 0.5, \"flute\": 0.5}.")
    out = {}
    for key, w in mix.items():
        if key not in names:
            raise ValueError(f"Unknown instrument {str(key)[:30]!r} in the timbre mix; this model has: {', '.join(names)}.")
        w = number(w, f"Timbre weight for {key}", 0.0, 1e6)
        if w > 0:
            out[key] = w
    if not out:
        raise ValueError("The timbre mix is silent: turn up at least one instrument slider.")
    total = sum(out.values())
    return {k: w / total for k, w in out.items()}


def _envelope(attack, decay, sustain, release):
    values = (number(attack, "Attack", 0, 5000, " ms") / 1000, number(decay, "Decay", 0, 5000, " ms") / 1000,
              number(sustain, "Sustain", -60, 0, " dB"), number(release, "Release", 0, 5000, " ms") / 1000)
    from ..controls.conditioning import ADSR
    return ADSR(*values)


def conditioning_controls(config, r: GenerateRequest, max_seconds: float = server.MAX_SECONDS
                          ) -> tuple[Controls, dict, str]:
    """A request → (Controls, what was asked for (for the results table), a short label for file names)."""
    kw: dict = {}
    asked: dict = {}
    label = []
    names = instrument_names(config)
    if r.instrument in (None, "", FREE):
        kw["instrument"] = None
    elif r.instrument == MIX:
        if not names:
            raise ValueError("This model has no instruments to mix; choose 'let the model choose'.")
        kw["instrument"] = _normalise_mix(r.mix, names)
        label.append("mix")
    elif r.instrument in names:
        kw["instrument"] = r.instrument
        label.append(r.instrument)
    else:
        choices = ", ".join(names) or "none"
        raise ValueError(f"Unknown instrument {str(r.instrument)[:30]!r}; this model knows: {choices}.")

    pitch_mode = r.pitch_mode or "note"
    if pitch_mode not in PITCH_MODES:
        raise ValueError(f"Pitch must be one of: {', '.join(PITCH_MODES)}; got {str(pitch_mode)[:20]!r}.")
    field = PITCH_MODES[pitch_mode]
    from_source = False
    if field == "note":
        p = typed_pitch(r.pitch, "Note")
        kw["pitch"] = p
        asked["pitch"] = note_label(p)
        label.append(note_name(p).split()[0].replace("#", "s"))
    elif field == "melody":
        text = r.melody.strip() if isinstance(r.melody, str) else ""
        if not text:
            raise ValueError("The melody is empty: type notes such as `C4 E4 G4:2` (NOTE:BEATS, `r` for a rest).")
        if len(text) > 2000:
            raise ValueError("The melody is too long (over 2000 characters); shorten it.")
        kw["melody"] = text
        kw["tempo"] = number(r.tempo, "Tempo", 20, 400, " BPM")
        label.append("melody")
        from_source = True
    elif field == "midi_file":
        kw["midi_file"] = checked_upload(r.midi_file, "MIDI file", audio=False)
        label.append("midi")
        from_source = True
    elif field == "from_audio":
        kw["from_audio"] = checked_upload(r.recording, "recording")
        label.append("follow")
        from_source = True
    if from_source and r.source_length:
        kw["seconds"] = None        # the melody, file or recording sets the length
    else:
        kw["seconds"] = number(r.seconds, "Duration", MIN_SECONDS, max_seconds, " s")

    loudness_mode = r.loudness_mode or "level"
    if loudness_mode not in LOUDNESS_MODES:
        raise ValueError(f"Loudness must be one of: {', '.join(LOUDNESS_MODES)}; got {str(loudness_mode)[:20]!r}.")
    if loudness_mode == "level":
        kw["loudness"] = number(r.level, "Loudness", -60, 0, " dB")
        if field == "note":
            asked["loudness"] = f"{kw['loudness']:.1f} dB"
    elif loudness_mode == "envelope":
        kw["loudness"] = number(r.level, "Peak loudness", -60, 0, " dB")
        kw["adsr"] = _envelope(r.attack, r.decay, r.sustain, r.release)

    expression = {"glide": (r.glide, "Glide", 0, 2000, " ms", 1e-3),
                  "vibrato_depth": (r.vibrato_depth, "Vibrato depth", 0, 200, " cents", 1.0),
                  "vibrato_rate": (r.vibrato_rate, "Vibrato rate", 0.1, 20, " Hz", 1.0),
                  "transpose": (r.transpose, "Transpose", -24, 24, " semitones", 1.0)}
    for name, (value, title, lo, hi, unit, scale) in expression.items():
        if value is None:
            continue   # left out: the control has no effect
        kw[name] = number(value, title, lo, hi, unit) * scale
    if kw.get("transpose") and "pitch" in asked:
        asked["pitch"] = note_label(kw["pitch"] + kw["transpose"])
    return Controls(**kw), asked, "-".join(label) or "free"


def show_note_text(value) -> str:
    """What a typed pitch means: 'A4 · 440.0 Hz · MIDI 69', or why it is not a pitch."""
    try:
        p = typed_pitch(value)
    except ValueError as e:
        return f"⚠ {e}"
    return f"**{note_name(p)}** · {440 * 2 ** ((p - 69) / 12):.1f} Hz · MIDI {fmt_number(p)}"


def mix_summary(mix: dict | None) -> str:
    if not mix:
        return "*All sliders at zero: turn one up to hear that instrument.*"
    total = sum(mix.values()) or 1.0
    return "Mix: " + " · ".join(f"{k} {100 * w / total:.0f} %" for k, w in sorted(mix.items(), key=lambda kv: -kv[1]))


def run_generate(studio: Studio, r: GenerateRequest, *, job=None, progress=None) -> list:
    """Generate one sound from the chosen model with the given conditioning; the result panel's outputs."""
    model = studio.wavenet(r.model_name)
    temperature = number(r.temperature, "Temperature", 0, MAX_TEMPERATURE)
    strength = number(1.0 if r.strength is None else r.strength, "Conditioning strength", 0, MAX_STRENGTH)
    seed = number(r.seed, "Seed", 0, MAX_SEED, integer=True)
    controls, asked, label = conditioning_controls(model.config, r, max_seconds=studio.max_seconds)
    if progress is not None:
        progress(0, desc="Reading the controls")
    t0 = time.perf_counter()
    inputs = model_inputs(controls, model.config)
    prep = time.perf_counter() - t0
    sr = model.config.sample_rate
    if inputs.n_samples > studio.max_seconds * sr + 1:
        raise ValueError(f"That is {inputs.n_samples / sr:.1f} s of sound; the studio makes at most "
                         f"{studio.max_seconds:.0f} s at a time. Shorten it, raise the tempo, or untick "
                         "'Length from the melody' and set a duration.")
    if job is not None and job.cancelled():
        return empty_result("*Stopped before it started.*", "**⏹ Stopped** before it started (it was waiting in the queue).",
                            {"stopped": True, "stopped_at_samples": 0, "asked_seconds": round(inputs.n_samples / sr, 4)})
    audio, took, stopped = studio.run_generation(model, inputs, temperature=temperature, seed=seed,
                                                 job=job, progress=progress, guidance=strength)
    shown = {k: v for k, v in dataclasses.asdict(controls).items()
             if v is not None and not isinstance(v, np.ndarray) and k not in ("midi_file", "from_audio")}
    details = {"model": r.model_name, "method": studio.method, "seed": seed, "temperature": temperature,
               "conditioning_strength": strength, "controls": json_safe(shown)}
    asked_s = inputs.n_samples / sr
    if stopped:
        made = audio.shape[-1] / sr
        details.update(stopped=True, stopped_at_seconds=round(made, 4), stopped_at_samples=int(audio.shape[-1]),
                       asked_seconds=round(asked_s, 4))
        if audio.shape[-1] < model.config.hop_length:
            gr.Info("Stopped before any sound was made.")
            return empty_result("*Stopped before any sound was made.*", "**⏹ Stopped** before any sound was made.",
                                details)
        gr.Info(f"Stopped: kept the {made:.2f} s made so far.")
        line = (f"**⏹ Stopped at {made:.2f} s of {asked_s:.2f} s:** here is what was made. "
                "The verdict needs the whole sound; press Generate again for it.")
        return list(studio.results.render(audio[0], sr, f"{r.model_name}-{label}-seed{seed}-stopped", asked=asked,
                                          details=details, gen_seconds=took, timings={"conditioning": prep},
                                          verdict_text=line))
    t1 = time.perf_counter()
    verdict = judge(audio[0], controls, model.config, known_range=known_pitch_range(model), guidance=strength)
    return list(studio.results.render(audio[0], sr, f"{r.model_name}-{label}-seed{seed}", asked=asked, details=details,
                                      gen_seconds=took, timings={"conditioning": prep,
                                                                 "verdict": time.perf_counter() - t1},
                                      verdict=verdict, midi_notes=melody_notes_of(controls, model.config)))


def melody_notes_of(controls: Controls, config) -> list[tuple[float, float, float]]:
    """(MIDI pitch, start s, end s) of each note of a melody or MIDI file asked for (the MIDI download);
    [] for a held note, free pitch or a recording's contour."""
    if controls.melody is None and controls.midi_file is None:
        return []
    from .. import requested_curves
    curves = requested_curves(controls, config.sample_rate, config.hop_length)   # transposed already
    return [(n.midi, n.start, n.start + n.duration) for n in curves.notes]


def conditioning_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    names = instrument_names(initial) if initial is not None else []
    pitch_modes = list(PITCH_MODES)
    with gr.Row():
        with gr.Column(scale=1, min_width=340):
            # allow_custom_value: the handler checks names against the chosen model (API callers may pick
            # another model than the page was built with), with a message that lists the right ones.
            instrument = gr.Dropdown([*names, MIX, FREE], value=names[0] if names else FREE, label="Instrument",
                                     allow_custom_value=True, elem_id="instrument",
                                     info="One instrument, a blend of several, or leave it to the model.")
            with gr.Accordion("Timbre mix", open=False) as mix_box:
                gr.Markdown("Used when Instrument is *timbre mix*. Weights are normalised to add up to 100 %.")
                sliders = [gr.Slider(0, 1, value=0, step=0.05, label=(names[i] if i < len(names) else f"instrument {i}"),
                                     visible=i < len(names), elem_id=f"mix-{i}") for i in range(MAX_MIX_SLIDERS)]
                mix_text = gr.Markdown(mix_summary({}))
                mix = gr.JSON(value={}, visible=False, label="timbre mix")
            pitch_mode = gr.Radio(pitch_modes, value="note", label="Pitch", elem_id="pitch-mode",
                                  info="A held note, a melody, a MIDI file, the pitch and loudness of a recording, or free.")
            with gr.Row():
                pitch = gr.Textbox(value="C4", label="Note", scale=3, elem_id="pitch-note", max_lines=1,
                                   info="A note name (A4, F#3, Bb2; C4 = middle C) or a MIDI number (60); "
                                        "the shipped models learned C3–C5.")
                pitch_name = gr.Markdown(show_note_text("C4"), min_height=10, elem_id="pitch-name")
            melody = gr.Textbox(label="Melody", value="C4:0.5 E4:0.5 G4:0.5 C5:1.5", visible=False, elem_id="melody",
                                info="NOTE:BEATS separated by spaces (C4 = middle C, F#4, Bb3 or MIDI numbers); `r:1` rests one beat.")
            tempo = gr.Slider(40, 240, value=120, step=1, label="Tempo (BPM)", visible=False)
            midi_file = gr.File(label="MIDI file (.mid)", file_types=[".mid", ".midi"], visible=False, type="filepath")
            recording = gr.Audio(label=f"Recording to follow (up to {MAX_UPLOAD_SECONDS:.0f} s)", type="filepath",
                                 sources=["upload", "microphone"], visible=False)
            upload_note = gr.Markdown("", elem_id="upload-note")
            source_length = gr.Checkbox(value=True, label="Length from the melody / file / recording", visible=False,
                                        info="Untick to use the Duration slider instead.")
            loudness_mode = gr.Radio(list(LOUDNESS_MODES), value="level",
                                     label="Loudness", info="A steady level, a per-note attack-decay-sustain-release envelope, or free.")
            level = gr.Slider(-40, -3, value=-18, step=1, label="Level (dB)", info="-3 dB is very loud, -40 dB quiet.")
            with gr.Group(visible=False) as adsr_box:
                with gr.Row():
                    attack = gr.Slider(0, 1000, value=20, step=5, label="Attack (ms)")
                    decay = gr.Slider(0, 2000, value=150, step=10, label="Decay (ms)")
                with gr.Row():
                    sustain = gr.Slider(-40, 0, value=-6, step=1, label="Sustain (dB below peak)")
                    release = gr.Slider(0, 2000, value=200, step=10, label="Release (ms)")
            with gr.Accordion("Expression: glide, vibrato, transpose", open=False):
                glide = gr.Slider(0, 500, value=0, step=10, label="Glide into each note (ms)")
                vibrato_depth = gr.Slider(0, 100, value=0, step=5, label="Vibrato depth (cents)")
                vibrato_rate = gr.Slider(1, 12, value=5.5, step=0.5, label="Vibrato rate (Hz)")
                transpose = gr.Slider(-12, 12, value=0, step=1, label="Transpose (semitones)", elem_id="transpose")
            temperature = gr.Slider(0, MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature", elem_id="temperature",
                                    info="Lower: cleaner and more predictable; higher: noisier and wilder; 0 = always the likeliest sample.")
            strength = gr.Slider(0, MAX_STRENGTH, value=1.0, step=0.25, label="Conditioning strength", elem_id="strength",
                                 info="How hard the model follows the controls (classifier-free guidance): 1 = as "
                                      "trained, 0 = ignore them, 2–3 = insist (twice the compute).")
            # A number box, not a slider: a slider's box showed 600 while the slider sent 10. Out-of-range values
            # are refused by the handler with a one-line message.
            seconds = gr.Number(value=1.0, step=0.1, label="Duration (s)", elem_id="duration",
                                info=f"{fmt_number(MIN_SECONDS)} to {fmt_number(studio.max_seconds)} s.")
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="Seed", scale=3, elem_id="seed",  # range checked by the handler
                                 info="Same seed + same settings = the same sound.")
                new_seed = gr.Button("New seed", scale=1, size="sm", elem_id="new-seed", min_width=90)
        with gr.Column(scale=2):
            # The primary action sits above the result, so both are in view on a 1366×768 screen.
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="generate-conditioning", scale=3)
                stop = gr.Button("Stop", variant="stop", elem_id="stop-conditioning", scale=1)
            panel = result_panel("Generated sound")
    job = gr.State(None)            # the id of this page's latest Generate press (what Stop stops)

    # One place maps the request's fields to the page's components (the API's parameter order).
    components = dict(model_name=model_dd, instrument=instrument, mix=mix, pitch_mode=pitch_mode, pitch=pitch,
                      melody=melody, tempo=tempo, midi_file=midi_file, recording=recording,
                      source_length=source_length, loudness_mode=loudness_mode, level=level, attack=attack,
                      decay=decay, sustain=sustain, release=release, glide=glide, vibrato_depth=vibrato_depth,
                      vibrato_rate=vibrato_rate, transpose=transpose, temperature=temperature, seconds=seconds,
                      seed=seed, strength=strength)
    gen_inputs = [components[name] for name, _ in GenerateRequest.parameters()]
    generate_fn = handler(GenerateRequest, lambda r, job=None, progress=None: run_generate(studio, r, job=job,
                                                                                           progress=progress),
                          stoppable=JOB_GROUP, studio=studio, name="generate_conditioned",
                          doc="Generate one sound from the chosen model with the given conditioning.")

    def new_job(request: gr.Request = None):
        return studio.jobs.new(server.session_of(request), JOB_GROUP)

    go.click(new_job, None, job, queue=False, api_name="new_job_generate", api_visibility="private").then(
        generate_fn, [*gen_inputs, job], panel.outputs, api_name="generate", concurrency_limit=studio.slots,
        concurrency_id="generation", show_progress_on=[panel.audio])

    @friendly
    def stop_generation(job_id=None, request: gr.Request = None):
        """Stop this page's latest Generate (running or still queued); API callers: every generation of
        their session. A stopped generation returns (and shows) what it made so far."""
        studio.jobs.stop(server.session_of(request), JOB_GROUP, job_id)

    stop.click(stop_generation, job, None, api_name="stop", queue=False)

    @friendly
    def random_seed() -> int:
        """A fresh random seed."""
        return random.randint(0, MAX_SEED)

    new_seed.click(random_seed, None, seed, api_name="new_seed", queue=False)

    @friendly
    def update_mix(model_name, *weights):
        """Slider values → the timbre mix (normalised when used)."""
        model_names = instrument_names(studio.shelf.get(model_name))
        mix_ = {n: float(w) for n, w in zip(model_names, weights) if w and float(w) > 0}
        return mix_, mix_summary(mix_)

    gr.on([s.change for s in sliders], update_mix, [model_dd, *sliders], [mix, mix_text], api_name="update_mix",
          queue=False, api_visibility="private")

    pitch.change(show_note_text, pitch, pitch_name, api_name="note_name", queue=False, api_visibility="private")

    @friendly
    def check_recording(path):
        """Check an uploaded recording as soon as it arrives (readable audio, length), not at Generate."""
        if path:
            checked_upload(path, "recording")
            return f"Recording accepted: it sets the pitch and loudness to follow (up to {MAX_UPLOAD_SECONDS:.0f} s)."
        return ""

    @friendly
    def check_midi(path):
        """Check an uploaded MIDI file as soon as it arrives (a readable file with a melody)."""
        if path:
            from ..controls.conditioning import read_midi
            notes = read_midi(checked_upload(path, "MIDI file", audio=False))
            return f"MIDI file accepted: {len(notes)} notes."
        return ""

    recording.upload(check_recording, recording, upload_note, api_name="check_recording", queue=False)
    midi_file.upload(check_midi, midi_file, upload_note, api_name="check_midi", queue=False)

    def show_pitch(mode):
        f = PITCH_MODES.get(mode)
        return (gr.update(visible=f == "note"), gr.update(visible=f == "note"), gr.update(visible=f == "melody"),
                gr.update(visible=f == "melody"), gr.update(visible=f == "midi_file"), gr.update(visible=f == "from_audio"),
                gr.update(visible=f in ("melody", "midi_file", "from_audio")))

    pitch_mode.change(show_pitch, pitch_mode, [pitch, pitch_name, melody, tempo, midi_file, recording, source_length],
                      api_name="pitch_mode", queue=False, api_visibility="private")

    def show_loudness(mode):
        return gr.update(visible=mode in ("level", "envelope")), gr.update(visible=mode == "envelope")

    loudness_mode.change(show_loudness, loudness_mode, [level, adsr_box], api_name="loudness_mode", queue=False,
                         api_visibility="private")

    def open_mix(choice):
        return gr.update(open=choice == MIX)

    instrument.change(open_mix, instrument, mix_box, api_name="instrument_mode", queue=False, api_visibility="private")

    def on_model(model_name):
        """Per-model choices of the Conditioning tab (instrument list, mix sliders)."""
        names_ = instrument_names(studio.shelf.get(model_name))
        updates = [gr.update(choices=[*names_, MIX, FREE], value=names_[0] if names_ else FREE), {}, mix_summary({})]
        updates += [gr.update(visible=i < len(names_), label=names_[i] if i < len(names_) else f"instrument {i}", value=0)
                    for i in range(MAX_MIX_SLIDERS)]
        return updates

    return {"on_model": (on_model, [instrument, mix, mix_text, *sliders]), "generate": generate_fn,
            "components": components, "panel": panel}
