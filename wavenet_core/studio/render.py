"""The result panel every tab shows a sound in: verdict, player, per-note table, waveform,
spectrogram, measurements, WAV/FLAC/MIDI downloads and run details; and the writer that turns audio
into those outputs (files go to the studio's own temp folder)."""
from __future__ import annotations

import dataclasses
import math
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np

from ..audio_io import atomic_write_bytes, to_int16
from ..controls.verdict import Verdict, note_label
from ..jsonsafe import json_safe
from ..measure.descriptors import frame_loudness_db, pitch_track
from ..plots import spectrogram_figure, waveform_figure

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_HEADERS = ["#", "asked", "measured", "cents off", "in tune"]


def note_name(midi: float) -> str:
    """MIDI → 'A4', or 'A4 +12¢' off the equal-tempered note."""
    m = int(round(midi))
    cents = int(round(100 * (midi - m)))
    name = f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"
    return name if cents == 0 else f"{name} {cents:+d}¢"


def describe_audio(audio: np.ndarray, sample_rate: int) -> dict:
    """The descriptors measured on a result: ``descriptors.describe`` with its defaults, so the numbers
    match what sampling accepted a candidate on and what the evaluations report."""
    from ..measure.descriptors import describe
    return dict(describe(audio, sample_rate))


DESCRIPTOR_LABELS = {
    "pitch": "pitch", "voiced_fraction": "pitched (voiced) part", "loudness": "loudness",
    "brightness": "brightness", "noisiness": "noisiness", "onset_rate": "onsets", "sounding_seconds": "sounding time",
    "seconds": "length",
}


def fmt_descriptor(key: str, value) -> str:
    """One measured value in a musician's units (pitch as a note and Hz, loudness in dB, …)."""
    if value is None:
        return "unpitched" if key == "pitch" else "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "unpitched" if key == "pitch" else "—"
    if key == "pitch":
        return f"{note_label(v)} · {440 * 2 ** ((v - 69) / 12):.1f} Hz"
    if key == "voiced_fraction":
        return f"{100 * v:.0f} %"
    if key == "loudness":
        return f"{v:.1f} dB"
    if key == "brightness":
        return f"{v:.0f} Hz"
    if key == "onset_rate":
        return f"{v:.1f} per s"
    if key in ("sounding_seconds", "seconds"):
        return f"{v:.2f} s"
    return f"{v:.3g}"


def descriptor_table(measured: dict, asked: dict | None = None) -> list[list[str]]:
    """Rows of [measure, asked for, measured] for the results table."""
    asked = asked or {}
    rows = []
    for key, value in measured.items():
        label = DESCRIPTOR_LABELS.get(key, key.replace("_", " "))
        rows.append([label, asked.get(key, ""), fmt_descriptor(key, value)])
    return rows


def verdict_markdown(v: Verdict | None) -> str:
    """The verdict above the player: one headline, one line per property, the next step."""
    if v is None:
        return ""
    mark = "–" if v.met is None else ("✓" if v.met else "✗")
    lines = [f"**{mark} {v.headline}**", "", *[f"- {line}" for line in v.lines()]]
    if v.next_step:
        lines += ["", f"**Next step:** {v.next_step}"]
    return "\n".join(lines)


def note_table(v: Verdict | None):
    """The per-note table (shown for two notes or more)."""
    rows = [n.row() for n in v.notes] if v is not None else []
    return gr.update(value={"headers": NOTE_HEADERS, "data": rows or [["", "", "", "", ""]]}, visible=len(rows) > 1)


def safe_stem(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", stem).strip("-")[:80] or "sound"


class ResultWriter:
    """Turns generated audio into everything a result shows; files go to the app's own temp folder
    (pruned after ``keep_seconds``)."""

    def __init__(self, keep_seconds: float = 3600.0):
        self.folder = Path(tempfile.mkdtemp(prefix="wavenet-studio-"))
        self.keep_seconds = keep_seconds

    def _prune(self) -> None:
        cutoff = time.time() - self.keep_seconds
        for d in self.folder.iterdir():
            try:
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except FileNotFoundError:
                pass

    def file(self, name: str, write: Callable[[Path], None]) -> str:
        """A new file ``name`` in a fresh sub-folder, written atomically by ``write(tmp_path)``."""
        self._prune()
        d = self.folder / uuid.uuid4().hex[:12]
        d.mkdir()
        return str(atomic_write_bytes(d / name, write))

    def wav(self, pcm: np.ndarray, sample_rate: int, stem: str, suffix: str = ".wav") -> str:
        """int16 samples → a 16-bit WAV (or FLAC, ``suffix=".flac"``) holding exactly those samples (what the
        player plays)."""
        import soundfile as sf
        fmt = "FLAC" if suffix == ".flac" else "WAV"
        return self.file(f"{safe_stem(stem)}{suffix}",
                         lambda tmp: sf.write(tmp, pcm, sample_rate, subtype="PCM_16", format=fmt))

    def midi(self, notes, stem: str) -> str | None:
        """The requested melody as a Standard MIDI File (``notes``: (MIDI pitch, start s, end s) per note);
        None when there are no notes."""
        notes = [(p, s, e) for p, s, e in notes or () if p is not None and e > s]
        if not notes:
            return None
        import pretty_midi
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=0)
        for p, s, e in notes:
            inst.notes.append(pretty_midi.Note(velocity=96, pitch=int(round(p)), start=float(s), end=float(e)))
        pm.instruments.append(inst)
        return self.file(f"{safe_stem(stem)}.mid", lambda tmp: pm.write(str(tmp)))

    def render(self, audio: np.ndarray, sample_rate: int, stem: str, asked: dict | None = None,
               details: dict | None = None, gen_seconds: float | None = None, timings: dict | None = None,
               verdict: Verdict | None = None, verdict_text: str = "", midi_notes=None, curves=None) -> tuple:
        """audio → the panel's outputs (see ``ResultPanel.outputs``). ``verdict``: the judgement of what was
        asked (``verdict.judge``); ``verdict_text``: a line to show instead (e.g. a sampling pick's targets);
        ``midi_notes``: (pitch, start s, end s) of the requested melody, offered as a MIDI download;
        ``curves``: the requested per-frame f0 and loudness (``conditioning.Curves``), drawn against the
        measured ones over the spectrogram and the waveform."""
        audio = np.asarray(audio, dtype=np.float32)
        t0 = time.perf_counter()
        measured = describe_audio(audio, sample_rate)
        t1 = time.perf_counter()
        pitch = loudness = None
        if curves is not None:
            hop = curves.hop_length
            times = (np.arange(-(-len(audio) // hop)) + 0.5) * hop / sample_rate
            heard = pitch_track(audio, sample_rate, hop)
            pitch = (times, curves.f0_hz, heard)
            loudness = (times, curves.loudness_db, frame_loudness_db(audio, hop))
        wave = waveform_figure(audio, sample_rate, title="waveform" + (": level asked vs measured" if loudness else ""),
                               loudness=loudness)
        spec = spectrogram_figure(audio, sample_rate, pitch=pitch,
                                  title="spectrogram (log frequency, dB re full scale)"
                                        + ("; pitch asked vs measured" if pitch else ""))
        t2 = time.perf_counter()
        pcm = to_int16(audio)
        path = self.wav(pcm, sample_rate, stem)
        flac = self.wav(pcm, sample_rate, stem, suffix=".flac")
        midi = self.midi(midi_notes, stem)
        seconds = len(audio) / sample_rate
        timings = {**{k: round(v, 4) for k, v in (timings or {}).items()},
                   "descriptors": round(t1 - t0, 4), "plots": round(t2 - t1, 4)}
        status = f"**{seconds:.2f} s** of audio"
        if gen_seconds is not None:
            timings["generation"] = round(gen_seconds, 4)
            speed = seconds / max(gen_seconds, 1e-9)
            status += f" generated in {gen_seconds:.2f} s ({speed:.1f}× real time)"
        status += f" · descriptors {t1 - t0:.2f} s · plots {t2 - t1:.2f} s"
        info = {**(details or {}), "seconds": round(seconds, 4), "sample_rate": sample_rate, "timings_s": timings,
                "measured": json_safe(measured)}
        if verdict is not None:
            info["verdict"] = json_safe(verdict.to_dict())
        if details and "seed" in details:
            status += f" · seed {details['seed']}"
        status += f" · downloads: 16-bit WAV and FLAC at {sample_rate} Hz" + (" and the melody as MIDI" if midi else "")
        line = verdict_markdown(verdict) if verdict is not None else verdict_text
        # Files as plain paths (an update would reach API callers as a dict).
        return ((sample_rate, pcm), wave, spec, descriptor_table(measured, asked), path, flac, midi, line,
                note_table(verdict), status, info)


@dataclasses.dataclass
class ResultPanel:
    status: gr.Markdown
    audio: gr.Audio
    waveform: gr.Plot
    spectrogram: gr.Plot
    descriptors: gr.Dataframe
    wav: gr.File
    flac: gr.File
    midi: gr.File
    verdict: gr.Markdown
    notes: gr.Dataframe
    details: gr.JSON
    live: gr.Audio | None = None       # the live player (streams while generating), on panels that have one

    @property
    def outputs(self) -> list:
        # The player first and status, details last (API callers unpack `audio, *_, status, details`);
        # new outputs go before the status.
        return [self.audio, self.waveform, self.spectrogram, self.descriptors, self.wav, self.flac, self.midi,
                self.verdict, self.notes, *([self.live] if self.live is not None else []), self.status, self.details]


PANEL_SIZE = 11           # len(ResultPanel.outputs) without a live player


def streaming_available() -> bool:
    """Gradio streams audio through an AAC encoder that runs ffmpeg; without it the studio shows each
    result when it is complete."""
    return shutil.which("ffmpeg") is not None


def with_live(outputs: list, live_value) -> list:
    """A panel's outputs (``PANEL_SIZE``) with the live player's value inserted before the status."""
    return [*outputs[:-2], live_value, *outputs[-2:]]


def live_only(live_value) -> list:
    """Outputs that change only the live player (every other output skipped)."""
    return with_live([gr.skip()] * PANEL_SIZE, live_value)


def empty_result(status: str, verdict_text: str = "", details: dict | None = None) -> list:
    """A result panel's outputs when there is no sound to show (e.g. stopped before any was made)."""
    return [None, None, None, None, gr.update(value=None), gr.update(value=None), gr.update(value=None),
            verdict_text, gr.update(visible=False), status, details or {}]


def result_panel(label: str = "Result", button: str = "Generate", live: bool = False) -> ResultPanel:
    """Build a result panel (inside the current layout block); ``live``: with a player that plays the
    sound while it is generated (hidden where streaming is unavailable)."""
    live_player = None
    if live:
        streams = streaming_available()
        live_player = gr.Audio(label="Live: plays while it is generated", streaming=streams, autoplay=streams,
                               interactive=False, visible=streams, elem_classes=["live-audio"]) if streams else gr.Audio(visible=False, interactive=False)
    # The verdict (was what was asked for met?) sits above the player, the per-note table under it.
    verdict = gr.Markdown("", elem_classes=["result-verdict"])
    audio = gr.Audio(label=label, type="numpy", interactive=False, elem_classes=["result-audio"])
    notes = gr.Dataframe(headers=NOTE_HEADERS, label="Notes: asked vs measured (in tune within 50 cents)",
                         interactive=False, wrap=True, visible=False, elem_classes=["result-notes"])
    status = gr.Markdown(f"*{label}: press {button}.*")
    # The figures carry their own titles; a Gradio label badge would cover them.
    waveform = gr.Plot(label="Waveform", show_label=False, format="png", elem_classes=["result-waveform"])
    spectrogram = gr.Plot(label="Spectrogram", show_label=False, format="png", elem_classes=["result-spectrogram"])
    with gr.Row():
        descriptors = gr.Dataframe(headers=["measure", "asked for", "measured"], label="Measured on the result",
                                   interactive=False, wrap=True, scale=2)
        with gr.Column(scale=1, min_width=160):
            wav = gr.File(label="Download WAV (16-bit)", interactive=False, elem_classes=["result-wav"])
            flac = gr.File(label="Download FLAC (16-bit)", interactive=False, elem_classes=["result-flac"])
            midi = gr.File(label="Download the melody (MIDI; melodies and MIDI files)", interactive=False,
                           elem_classes=["result-midi"])
    with gr.Accordion("Run details (seed, timings, raw measurements, verdict)", open=False):
        details = gr.JSON(label="details")
    return ResultPanel(status, audio, waveform, spectrogram, descriptors, wav, flac, midi, verdict, notes, details,
                       live_player)
