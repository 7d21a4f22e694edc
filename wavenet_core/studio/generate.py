"""The Conditioning tab: one sound from musical controls (instrument or timbre mix, a note, melody,
MIDI file or recording to follow, loudness, expression), judged against what was asked."""
from __future__ import annotations

import dataclasses
import queue
import random
import threading
import time
from typing import Any

import gradio as gr
import numpy as np

from .. import Controls, model_inputs, requested_curves
from ..controls.verdict import judge, known_pitch_range, note_label
from ..audio_io import to_int16
from ..jsonsafe import json_safe
from . import server
from .examples import EXAMPLES, example_settings
from .render import NOTE_NAMES, empty_result, live_only, note_name, result_panel, with_live
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


def normalise_mix(mix, names: list[str]) -> dict[str, float]:
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


def adsr_envelope(attack, decay, sustain, release):
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
        kw["instrument"] = normalise_mix(r.mix, names)
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
        kw["adsr"] = adsr_envelope(r.attack, r.decay, r.sustain, r.release)

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


def octave_offer(notes: list[float], known: tuple[float, float] | None) -> int:
    """The octave shift (semitones, a multiple of 12, smallest first) that brings every note into the
    range the model learned; 0 when they are all inside already or no octave shift fits them all."""
    if not notes or known is None:
        return 0
    lo, hi = known
    if all(lo <= p <= hi for p in notes):
        return 0
    for k in sorted(range(-4, 5), key=lambda k: (abs(k), -k)):
        if k and all(lo <= p + 12 * k <= hi for p in notes):
            return 12 * k
    return 0


def range_offer(model, pitch_mode, pitch, melody, tempo, transpose) -> tuple[str, int]:
    """(a line on the learned pitch range and the request, the octave shift to offer (0: none)) for the
    note or melody typed, with the current transpose."""
    from ..controls.conditioning import melody_notes, parse_melody
    known = known_pitch_range(model) if model is not None else None
    if known is None:
        return "", 0
    learned = f"This model learned {note_label(known[0]).split(' ')[0]}–{note_label(known[1]).split(' ')[0]}"
    shift = float(transpose or 0)
    field = PITCH_MODES.get(pitch_mode)
    try:
        if field == "note":
            notes = [typed_pitch(pitch) + shift]
        elif field == "melody" and isinstance(melody, str) and melody.strip():
            notes = [n.midi + shift for n in melody_notes(parse_melody(melody), float(tempo or 120))[0]]
        else:
            return f"*{learned}.*", 0
    except ValueError:
        return f"*{learned}.*", 0
    offer = octave_offer(notes, known)
    outside = [p for p in notes if not known[0] <= p <= known[1]]
    if not outside:
        return f"*{learned}; this request is inside it.*", 0
    what = note_label(outside[0]).split(" ")[0] if len(notes) == 1 else f"{len(outside)} of {len(notes)} notes"
    line = f"⚠ {what} outside what it learned ({learned.split('learned ')[1]}): expect a miss."
    if offer:
        line += f" Transposing {'up' if offer > 0 else 'down'} {abs(offer) // 12} octave{'s' * (abs(offer) > 12)} fits it."
    return line, offer


HISTORY_SIZE = 8


def take_summary(values: dict) -> str:
    """A take's settings in a few words: 'saw · C4 · 1.0 s · -18 dB · T 1'."""
    mode = values.get("pitch_mode")
    what = {"note": str(values.get("pitch")), "melody": f"melody {str(values.get('melody'))[:24]}",
            "MIDI file": "MIDI file", "recording": "recording", "free": "free pitch"}.get(mode, str(mode))
    bits = [str(values.get("instrument")), what]
    if mode in ("note", "free") or not values.get("source_length"):
        bits.append(f"{values.get('seconds')} s")
    if values.get("transpose"):
        bits.append(f"transpose {values['transpose']:+g}")
    bits.append(f"T {values.get('temperature')}")
    return " · ".join(bits)


def add_take(history: list | None, values: dict, wav: str | None, verdict: str, details: dict | None) -> list:
    """The session history with this take first (at most ``HISTORY_SIZE``); a stopped-before-any-sound
    result (no WAV) is not a take."""
    history = list(history or [])
    if not wav or not details:
        return history
    n = (history[0]["n"] + 1) if history else 1
    head = next((line for line in (verdict or "").splitlines() if line.strip()), "")
    take = {"n": n, "values": json_safe(values), "seed": details.get("seed"), "wav": wav,
            "verdict": head.replace("**", "").strip(), "summary": take_summary(values), "model": values.get("model_name")}
    return [take, *history][:HISTORY_SIZE]


def take_label(take: dict) -> str:
    return f"take {take['n']} · {take['summary']} · seed {take['seed']}"


def mix_summary(mix: dict | None) -> str:
    if not mix:
        return "*All sliders at zero: turn one up to hear that instrument.*"
    total = sum(mix.values()) or 1.0
    return "Mix: " + " · ".join(f"{k} {100 * w / total:.0f} %" for k, w in sorted(mix.items(), key=lambda kv: -kv[1]))


LIVE_BLOCK_SECONDS = 0.25      # the live player gets the first samples at once, then blocks of at least this


def run_generate(studio: Studio, r: GenerateRequest, *, job=None, progress=None, live: bool = True):
    """Generate one sound from the chosen model with the given conditioning. Yields the panel's outputs
    with the live player's value (``render.with_live``): while generating, each new block of samples
    for the live player (every other output unchanged); at the end, the whole result."""
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
    asked_s = inputs.n_samples / sr
    if job is not None and job.cancelled():
        yield with_live(empty_result("*Stopped before it started.*",
                                     "**⏹ Stopped** before it started (it was waiting in the queue).",
                                     {"stopped": True, "stopped_at_samples": 0, "asked_seconds": round(asked_s, 4)}),
                        None)
        return
    blocks: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["value"] = studio.run_generation(model, inputs, temperature=temperature, seed=seed, job=job,
                                                     progress=progress, guidance=strength,
                                                     on_audio=blocks.put if live else None)
        except BaseException as e:  # noqa: BLE001 - handed to the page's handler below
            outcome["error"] = e
        finally:
            blocks.put(None)

    threading.Thread(target=work, daemon=True, name="studio-generate").start()
    pending, sent = [], 0
    while (block := blocks.get()) is not None:
        pending.append(block)
        if sent == 0 or sum(len(b) for b in pending) >= LIVE_BLOCK_SECONDS * sr:
            chunk = np.concatenate(pending)
            pending, sent = [], sent + len(chunk)
            yield live_only((sr, to_int16(chunk)))
    if "error" in outcome:
        raise outcome["error"]
    last_live = (sr, to_int16(np.concatenate(pending))) if pending else None
    audio, took, stopped = outcome["value"]
    shown = {k: v for k, v in dataclasses.asdict(controls).items()
             if v is not None and not isinstance(v, np.ndarray) and k not in ("midi_file", "from_audio")}
    details = {"model": r.model_name, "method": studio.method, "seed": seed, "temperature": temperature,
               "conditioning_strength": strength, "controls": json_safe(shown)}
    if stopped:
        made = audio.shape[-1] / sr
        details.update(stopped=True, stopped_at_seconds=round(made, 4), stopped_at_samples=int(audio.shape[-1]),
                       asked_seconds=round(asked_s, 4))
        if audio.shape[-1] < model.config.hop_length:
            gr.Info("Stopped before any sound was made.")
            yield with_live(empty_result("*Stopped before any sound was made.*",
                                         "**⏹ Stopped** before any sound was made.", details), last_live)
            return
        gr.Info(f"Stopped: kept the {made:.2f} s made so far.")
        line = (f"**⏹ Stopped at {made:.2f} s of {asked_s:.2f} s:** here is what was made. "
                "The verdict needs the whole sound; press Generate again for it.")
        yield with_live(list(studio.results.render(audio[0], sr, f"{r.model_name}-{label}-seed{seed}-stopped",
                                                   asked=asked, details=details, gen_seconds=took,
                                                   timings={"conditioning": prep}, verdict_text=line)), last_live)
        return
    t1 = time.perf_counter()
    verdict = judge(audio[0], controls, model.config, known_range=known_pitch_range(model), guidance=strength)
    curves = requested_curves(controls, sr, model.config.hop_length)
    yield with_live(list(studio.results.render(audio[0], sr, f"{r.model_name}-{label}-seed{seed}", asked=asked,
                                               details=details, gen_seconds=took,
                                               timings={"conditioning": prep, "verdict": time.perf_counter() - t1},
                                               verdict=verdict, midi_notes=melody_notes_of(controls, curves),
                                               curves=curves)),
                    last_live)


def melody_notes_of(controls: Controls, curves) -> list[tuple[float, float, float]]:
    """(MIDI pitch, start s, end s) of each note of a melody or MIDI file asked for (the MIDI download),
    from the requested ``curves`` (transposed already); [] for a held note, free pitch or a recording."""
    if controls.melody is None and controls.midi_file is None:
        return []
    return [(n.midi, n.start, n.start + n.duration) for n in curves.notes]


def conditioning_tab(studio: Studio, model_dd: gr.Dropdown, initial) -> dict:
    names = instrument_names(initial) if initial is not None else []
    pitch_modes = list(PITCH_MODES)
    with gr.Row():
        with gr.Column(scale=1, min_width=340):
            gr.Markdown("**Examples** — one click sets the controls and generates (each measured ✓ on the shipped "
                        "`notes` model with its seed):", elem_id="examples-note")
            with gr.Row(elem_id="examples"):
                example_buttons = [gr.Button(ex["title"], size="sm", elem_id=f"example-{i}", min_width=80)
                                   for i, ex in enumerate(EXAMPLES)]
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
                                        "the range the model learned is shown below.")
                pitch_name = gr.Markdown(show_note_text("C4"), min_height=10, elem_id="pitch-name")
            with gr.Accordion("Note picker", open=False, elem_id="note-picker-box") as picker_box:
                picker_note = gr.Radio(list(NOTE_NAMES), value=None, label="Note", elem_id="note-picker",
                                       show_label=False)
                picker_octave = gr.Radio([2, 3, 4, 5, 6], value=4, label="Octave (C4 = middle C)",
                                         elem_id="octave-picker")
            with gr.Row():
                range_line = gr.Markdown(range_offer(initial, "note", "C4", "", 120, 0)[0], elem_id="range-line")
                offer = gr.Button("Transpose into range", size="sm", visible=False, elem_id="transpose-offer",
                                  min_width=80, scale=0)
                offer_shift = gr.State(0)
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
            panel = result_panel("Generated sound", live=True)
            with gr.Accordion("History: this session's takes (restore one, compare two)", open=True,
                              elem_id="history"):
                history_table = gr.Dataframe(headers=["take", "settings", "seed", "verdict"], interactive=False,
                                             wrap=True, elem_id="history-table")
                with gr.Row():
                    restore_choice = gr.Dropdown([], label="Take", scale=3, elem_id="restore-choice")
                    restore = gr.Button("Restore its settings", size="sm", scale=1, elem_id="restore")
                with gr.Row():
                    a_choice = gr.Dropdown([], label="A", elem_id="take-a")
                    b_choice = gr.Dropdown([], label="B", elem_id="take-b")
                with gr.Row():
                    a_player = gr.Audio(label="A", type="filepath", interactive=False, elem_id="player-a")
                    b_player = gr.Audio(label="B", type="filepath", interactive=False, elem_id="player-b")
    history = gr.State([])
    job = gr.State(None)            # the id of this page's latest Generate press (what Stop stops)

    # One place maps the request's fields to the page's components (the API's parameter order).
    components = dict(model_name=model_dd, instrument=instrument, mix=mix, pitch_mode=pitch_mode, pitch=pitch,
                      melody=melody, tempo=tempo, midi_file=midi_file, recording=recording,
                      source_length=source_length, loudness_mode=loudness_mode, level=level, attack=attack,
                      decay=decay, sustain=sustain, release=release, glide=glide, vibrato_depth=vibrato_depth,
                      vibrato_rate=vibrato_rate, transpose=transpose, temperature=temperature, seconds=seconds,
                      seed=seed, strength=strength)
    gen_inputs = [components[name] for name, _ in GenerateRequest.parameters()]
    def generate_conditioned(r: GenerateRequest, *, job=None, progress=None):
        yield from run_generate(studio, r, job=job, progress=progress)

    generate_fn = handler(GenerateRequest, generate_conditioned, stoppable=JOB_GROUP, studio=studio, name="generate_conditioned",
                          doc="Generate one sound from the chosen model with the given conditioning.")

    def new_job(request: gr.Request = None):
        return studio.jobs.new(server.session_of(request), JOB_GROUP)

    @friendly
    def record_take(*values):
        """Add the finished take (its settings, seed, WAV and verdict) to this session's history."""
        *inputs_, wav, verdict, details, history_ = values
        request_values = dict(zip([n for n, _ in GenerateRequest.parameters()], inputs_))
        history_ = add_take(history_, request_values, wav, verdict, details)
        labels = [take_label(t) for t in history_]
        rows = [[t["n"], t["summary"], t["seed"], t["verdict"]] for t in history_] or [["", "", "", ""]]
        first = labels[0] if labels else None
        second = labels[1] if len(labels) > 1 else first
        return (history_, {"headers": ["take", "settings", "seed", "verdict"], "data": rows},
                gr.update(choices=labels, value=first), gr.update(choices=labels, value=second),
                gr.update(choices=labels, value=first))

    def generate_chain(trigger):
        """Press → job registered → generate (streaming) → the take joins the history."""
        return trigger.then(new_job, None, job, queue=False, api_visibility="private").then(
            generate_fn, [*gen_inputs, job], panel.outputs, concurrency_limit=studio.slots,
            concurrency_id="generation", show_progress_on=[panel.audio], api_visibility="private").success(
            record_take, [*gen_inputs, panel.wav, panel.verdict, panel.details, history],
            [history, history_table, a_choice, b_choice, restore_choice], queue=False, api_visibility="private")

    go.click(new_job, None, job, queue=False, api_name="new_job_generate", api_visibility="private").then(
        generate_fn, [*gen_inputs, job], panel.outputs, api_name="generate", concurrency_limit=studio.slots,
        concurrency_id="generation", show_progress_on=[panel.audio]).success(
        record_take, [*gen_inputs, panel.wav, panel.verdict, panel.details, history],
        [history, history_table, a_choice, b_choice, restore_choice], api_name="record_take", queue=False,
        api_visibility="private")

    # An example sets the controls it names and puts the others it touches back to the page's defaults.
    example_fields = sorted({k for i in range(len(EXAMPLES)) for k in example_settings(i, ["x"])})
    page_defaults = {k: components[k].value for k in example_fields}

    def example_values(index: int):
        def apply(model_name):
            names_ = instrument_names(studio.shelf.get(model_name)) if model_name else []
            settings = example_settings(index, names_)
            return [settings.get(k, page_defaults[k]) for k in example_fields]
        return apply

    for i, button in enumerate(example_buttons):
        generate_chain(button.click(friendly(example_values(i)), model_dd, [components[k] for k in example_fields],
                                    queue=False, api_name=f"example_{i}", api_visibility="private"))

    def choose_take(history_, label):
        return next((t for t in history_ or [] if take_label(t) == label), None)

    @friendly
    def restore_take(history_, label):
        """Put a take's settings back on the page (the model picker is left as it is)."""
        take = choose_take(history_, label)
        if take is None:
            raise ValueError("Choose a take from the history first.")
        values = take["values"]
        return [gr.update(value=values[n]) if n != "model_name" and n in values else gr.skip()
                for n, _ in GenerateRequest.parameters()]

    restore.click(restore_take, [history, restore_choice], gen_inputs, queue=False, api_name="restore_take",
                  api_visibility="private")

    def play_take(history_, label):
        take = choose_take(history_, label)
        return take["wav"] if take else None

    a_choice.change(play_take, [history, a_choice], a_player, queue=False, api_name="take_a", api_visibility="private")
    b_choice.change(play_take, [history, b_choice], b_player, queue=False, api_name="take_b", api_visibility="private")

    def pick_note(name, octave):
        return gr.update(value=f"{name}{int(octave)}") if name else gr.skip()

    gr.on([picker_note.input, picker_octave.input], pick_note, [picker_note, picker_octave], pitch, queue=False,
          api_name="pick_note", api_visibility="private")

    @friendly
    def show_range(model_name, pitch_mode_, pitch_, melody_, tempo_, transpose_):
        """The learned pitch range, and an octave transpose offered for a request outside it."""
        model = studio.shelf.get(model_name) if model_name else None
        line, shift = range_offer(model, pitch_mode_, pitch_, melody_, tempo_, transpose_)
        label = f"Transpose {'up' if shift > 0 else 'down'} {abs(shift) // 12} octave{'s' * (abs(shift) > 12)}"
        return line, gr.update(visible=bool(shift), value=label), shift

    range_inputs = [model_dd, pitch_mode, pitch, melody, tempo, transpose]
    gr.on([c.change for c in range_inputs], show_range, range_inputs, [range_line, offer, offer_shift], queue=False,
          api_name="range_offer", api_visibility="private")

    def take_offer(pitch_mode_, pitch_, transpose_, shift):
        """A held note moves by the offered octaves; a melody gets the Transpose slider."""
        if not shift:
            return gr.skip(), gr.skip()
        if PITCH_MODES.get(pitch_mode_) == "note":
            return gr.update(value=note_name(typed_pitch(pitch_) + shift)), gr.skip()
        return gr.skip(), gr.update(value=float(transpose_ or 0) + shift)

    offer.click(friendly(take_offer), [pitch_mode, pitch, transpose, offer_shift], [pitch, transpose], queue=False,
                api_name="take_range_offer", api_visibility="private")

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
