"""Control accuracy that cannot flatter: does a conditioned WaveNet play what it is asked for?

``evaluate_model(name)`` generates a fixed plan of clips (each with its own recorded seed), measures
them frame by frame and compares with the request. The metrics follow DDSP's
(magenta/ddsp ``training/metrics.py``), measured with ``descriptors.pitch_track`` (pYIN for voicing
and octave, every voiced frame refined to a fraction of a cent — no 25-cent grid values):

* **pitch** (row ``notes``) — one note per clip, every instrument, MIDI 36–84 (the corpus's range;
  run k gives instrument j the pitches 36 + (3j + k) mod 6, then every 6 semitones, so three runs
  cover the whole range). Per clip, over the requested voiced frames that sound (request ≥ -40 dB):
  *raw pitch accuracy* — share of frames tracked within 50 cents, an untracked frame is a miss
  (``descriptors.pitch_frame_metrics``); *mean |f0 error|* in semitones over tracked frames; a clip
  is an *outlier* when it is tracked on fewer than half its frames or its mean error is over one
  semitone (DDSP averages f0 L1 over the non-outliers and counts outliers apart; so do we).
  ``pitch_rpa`` is the mean over clips (failures included, as misses), ``pitch_rpa_worst_instrument``
  the lowest instrument mean. ``pitch_notes_within_50`` is per note (tracked on ≥ half its frames,
  median error ≤ 50 cents): the unit of a pitch classifier, beside the NSynth anchor.
* **timbre** — the same notes, requested with each instrument's *natural envelope*: the loudness
  request is the per-frame level of the corpus rendering of that instrument at MIDI 60 (velocity 0 dB)
  moved to the note's velocity, so a pluck is asked to decay and an organ to hold. The judge is a
  nearest-centroid classifier on MFCC statistics fitted on 600 corpus notes of another seed; it
  answers "none" (``NONE_OF_THESE``) for a clip that is not pitched (silent or noise-only: all six
  instruments are pitched) or that is further from every centroid than 99 % of held-out corpus
  notes are from theirs, so noise is not filed under the nearest instrument.
* **loudness** — L1 in dB between the measured and requested frame level over the frames where the
  request sounds (≥ -40 dB), mean over the note clips that are not failures;
  ``loudness_l1_db_with_failures`` keeps them in.
* **failures** — note and melody clips that come out silent (median level under -50 dB over the
  request's sounding frames) or noise-only (voiced on fewer than half of the frames where both the
  request and the clip sound), counted apart.
* **melody** (per note) — six 8-note melodies per run at 200 BPM (one instrument each, rotating over
  runs), requested with the corpus rendering's own f0 and level labels; a note counts when it is
  tracked on at least half its frames within a median 50 cents (``melody_notes_within_50``), and the
  frames pool into ``melody_rpa``.
* **stress** — notes outside the trained range (MIDI 30–35 and 85–90), measured the same way;
  reported, no target.
* **free** — clips generated with every control left free; ``free_pitched_share`` is the share that
  sound and are voiced for at least half of their sounding frames (pitched sounds, not noise).

**The ceiling** is the corpus synthesiser rendering the same request (its notes at the requested
pitch and velocity, with its own noise: another random stream than the request's), measured in
exactly the same way against the same request. Nothing in it is true by construction: the pitch
tracker has to find the pitch (its misses at onsets and in decays show), the loudness request is
the instrument's envelope at MIDI 60 while the ceiling plays the requested pitch (the level of a
corpus note depends on its pitch through its spectrum and crest factor; the flute's breath noise is
random), and the classifier judges notes it was not fitted on. For melodies the request is the
corpus rendering of that melody; only its pitch is scored. ``timbre_vs_ceiling`` is the model's
timbre accuracy over the ceiling's, per run (its ceiling column is left empty: it would be 1).

**Seeds.** The full evaluation runs the plan three times (run k: clip i has seed
``seed + 1000·k + i``, and the note pitches rotate as above); each metric is reported as the mean
over runs with a 95 % confidence interval (Student t, two degrees of freedom). Targets are judged
on the mean.

**The quick plan** (``--quick``; 2 pitches × every instrument and one melody, one run) is also
measured by every full evaluation and stored under ``report["quick"]`` with a signature of the
plan: ``regression_guard`` re-runs it and compares with those figures (``tests/test_regression_guard.py``).

**Timbre transfer** (row ``transfer``, every run of the full plan) — the shipped real recording
(``data.recordings``, ``melody``: 5 s of a monophonic melody, BSD-3-Clause) played as each
instrument through ``Controls(from_audio=...)`` — the path of ``wavenet generate --from-audio`` —
moved by whole octaves into the instrument's range (the fewest frames outside it). ``transfer_rpa``
is the share of the recording's voiced frames (pYIN through the conditioning) that the output
reproduces within 50 cents (an untracked frame is a miss), mean over instruments; it has no
ceiling (there is nothing else to render it with).

**Models trained on the SoundFont** (``--data soundfont``; the checkpoint's training info says so:
``training["train_config"]["data"] == "soundfont"``) are measured the same way over the sampled
instruments (``SoundFontPlan``): the instruments are the model's ``instrument_names``; each note
request lies inside that instrument's natural range (``SOUNDFONT_INSTRUMENTS`` low/high, the keys
the SoundFont actually plays) — run k gives instrument j the keys low + (3j + k) mod 6, then every
6 semitones, the quick plan two keys at a third and two thirds of the range — at MIDI velocities
40 / 80 / 120, requested with the SoundFont's own rendering of that note (its per-frame level and
its f0 label): a piano is asked to decay, an organ to hold. Melodies are moved by octaves into the
instrument's range. The judge is the same classifier fitted on SoundFont notes of another seed
than training's (``CLASSIFIER_SEED``; training uses its run seed, 0 by default). The ceiling is the
SoundFont's rendering of each request measured the same way (its loudness L1 is 0 by construction
— the request *is* its level — everything else is measured: pYIN on the render against the
notes' exact labels, the classifier on notes it was not fitted on). The free row's ceiling is
``SoundFontCorpus`` clips. There is no stress row (a SoundFont's ranges end where the instrument's
do). One more row, **velocity**: each instrument plays its middle key at velocities 40, 80 and 120
(the renders' levels requested, as above); ``velocity_level_monotone`` / ``velocity_brightness_monotone``
are the shares of instruments whose output level (median dB over sounding frames) and brightness
(``descriptors.brightness``, spectral centroid) both rise with velocity — the SoundFont corpus
makes soft notes darker, so a model that learnt it brightens with level. Velocity and transfer
clips count among the clips that must not be silent or noise-only. The quick plan has them for
4 instruments spread over the list.

An autoencoder checkpoint is handed to ``autoencoder_eval.evaluate_autoencoder`` (options it has no
use for are refused).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..controls.conditioning import Controls
from ..measure.descriptors import (SOUNDING_DB, brightness, frame_loudness_db, loudness_l1_db, pitch_frame_metrics,
                                   pitch_track)
from ..measure.timbre import (CLASSIFIER_SEED, CLASSIFIER_SIZE, MIN_VOICED, NONE_OF_THESE, PITCH_FMAX, PITCH_FMIN,
                              TimbreClassifier, timbre_classifier)
from ..jsonsafe import json_safe
from .common import N_SEEDS, SEED_STRIDE, SILENT_DB, combine

# target: (comparison, value) on the mean over runs
TARGETS: dict[str, tuple[str, float]] = {
    "pitch_rpa": (">=", 0.95),
    "pitch_rpa_worst_instrument": (">=", 0.95),
    "pitch_error_semitones": ("<=", 0.2),
    "melody_notes_within_50": (">=", 0.95),
    "timbre_accuracy": (">=", 0.85),
    "timbre_vs_ceiling": (">=", 0.9),
    "loudness_l1_db": ("<=", 2.0),
    "failures": ("<=", 0),
    "free_pitched_share": (">=", 0.8),
    "velocity_level_monotone": (">=", 1.0),
    "velocity_brightness_monotone": (">=", 1.0),
    "transfer_rpa": (">=", 0.9),
}
# Published figures whose units match a row (the WaveNet papers' own measurements, not ours).
ANCHORS: dict[str, str] = {
    "pitch_notes_within_50": "NSynth WaveNet autoencoder: 79.6 % (pitch classifier; 91.6 % on the originals)",
    "pitch_error_semitones": "WaveRNN with DDSP's conditioning: f0 L1 ≈ 1 semitone",
}

DEFAULT_BATCH = 16
NOTE_SECONDS = 1.0                # every note clip (and free clip)
NOTE_START, NOTE_HELD = 0.05, 0.8  # s: onset and held duration of a note; the release follows
CORPUS_RELEASE = 0.08             # s: render_notes' release (its default)
VELOCITIES = (-18.0, -12.0, -6.0)  # corpus note levels (peak gain, dB) inside its -24 … -3 dB range
REFERENCE_MIDI = 60               # the natural envelope is the instrument's corpus note at this pitch
STRESS_LOW, STRESS_HIGH = (30, 35), (85, 90)
MELODIES = (
    "C4 D4 E4 F4 G4 A4 B4 C5",
    "C2 G2 C3 E3 G3 E3 C3 G2",
    "A3 E4 D4 C4 B3 C4 D4 E4",
    "C5 E5 G5 C6 B5 G5 E5 C5",
    "F3 A3 C4 F4 E4 C4 A3 G3",
    "D4 F#4 A4 C5 B4 A4 F#4 E4",
)
MELODY_TEMPO = 200.0              # BPM: 0.3 s per note, 0.27 s held
MELODY_VELOCITY = -12.0
QUICK_PITCHES = (50, 67)
FREE_CLIPS = 12
RPA_CENTS = 50.0
OUTLIER_SEMITONES = 1.0
REQUEST_SEED, CEILING_SEED, ENVELOPE_SEED = 4321, 8765, 2468   # random streams of the corpus renderings
SF_VELOCITIES = (40, 80, 120)      # MIDI velocities of SoundFont note requests (the corpus plays 20–127)
SF_MELODY_VELOCITY = 90
QUICK_EXTRA_INSTRUMENTS = 4       # quick plan: instruments of the velocity and transfer rows
TRANSFER_RECORDING = "melody"     # data.recordings name


# ---- the plan ----------------------------------------------------------------------------------
@dataclass
class Request:
    """One clip to generate: its row, instrument, seed and the per-frame curves asked for."""
    row: str                          # "notes", "melody", "stress" or "free"
    instrument: str | None            # None: left free
    seed: int
    seconds: float
    notes: list = field(default_factory=list)        # corpus Notes (MIDI, start s, held s, level dB)
    text: str | None = None                          # a melody's notes
    f0_hz: np.ndarray | None = field(default=None, repr=False)        # per frame, 0 = unvoiced
    loudness_db: np.ndarray | None = field(default=None, repr=False)  # per frame, dB FS
    velocity: int | None = None       # SoundFont requests: the MIDI velocity (notes' velocity_db unused)
    transpose: float = 0.0            # semitones: melodies and recordings moved into the instrument's range
    from_audio: str | None = None     # transfer: the recording followed (its curves are f0_hz / loudness_db)
    source_audio: np.ndarray | None = field(default=None, repr=False)  # SoundFont: the render the labels come from

    def controls(self) -> Controls:
        if self.row == "free":
            return Controls(seconds=self.seconds)
        return Controls(instrument=self.instrument, f0_hz=self.f0_hz, loudness_db=self.loudness_db)

    def describe(self) -> dict:
        d = {"row": self.row, "instrument": self.instrument, "seed": self.seed}
        level = {"velocity": self.velocity} if self.velocity is not None else None
        if self.row in ("notes", "stress", "velocity"):
            d.update(pitch=self.notes[0].midi, **(level or {"velocity_db": self.notes[0].velocity_db}))
        elif self.row == "melody":
            d.update(melody=self.text, tempo=MELODY_TEMPO, **(level or {"velocity_db": MELODY_VELOCITY}))
            if self.transpose:
                d["transpose"] = self.transpose
        elif self.row == "transfer":
            d.update(recording=TRANSFER_RECORDING, transpose=self.transpose)
        return d


_ENVELOPES: dict = {}


def natural_envelope(instrument: str, sample_rate: int, hop: int) -> np.ndarray:
    """Per-frame level (dB FS) of the corpus's ``instrument`` playing MIDI 60 at velocity 0 dB for
    ``NOTE_HELD`` s from ``NOTE_START`` in a ``NOTE_SECONDS`` clip: the shape a note request follows."""
    from ..data.corpus import Note, render_notes

    key = (instrument, sample_rate, hop)
    if key not in _ENVELOPES:
        audio, _ = render_notes(instrument, [Note(REFERENCE_MIDI, NOTE_START, NOTE_HELD, 0.0)], NOTE_SECONDS,
                                sample_rate, np.random.default_rng(ENVELOPE_SEED))
        _ENVELOPES[key] = frame_loudness_db(audio, hop)
    return _ENVELOPES[key].copy()


def note_request(row: str, instrument: str, midi: float, velocity_db: float, seed: int, sample_rate: int,
                 hop: int) -> Request:
    """A note at ``midi`` with the instrument's natural envelope moved to ``velocity_db``."""
    from ..data.corpus import Note, frame_f0, midi_to_hz

    env = natural_envelope(instrument, sample_rate, hop)
    loud = np.where(env > -80.0, np.maximum(env + velocity_db, -80.0), -80.0).astype(np.float32)
    n = int(round(NOTE_SECONDS * sample_rate))
    t = np.arange(n) / sample_rate
    on = (t >= NOTE_START) & (t < NOTE_START + NOTE_HELD + CORPUS_RELEASE)
    f0 = frame_f0(np.where(on, float(midi_to_hz(midi)), 0.0), loud, hop)
    return Request(row, instrument, seed, NOTE_SECONDS, [Note(float(midi), NOTE_START, NOTE_HELD, velocity_db)],
                   f0_hz=f0, loudness_db=loud)


def melody_request(instrument: str, text: str, seed: int, sample_rate: int, hop: int) -> Request:
    """A melody requested with the corpus rendering's own labels (per-frame f0 and level)."""
    from ..controls.conditioning import melody_notes, parse_melody
    from ..data.corpus import Note, frame_f0, render_notes

    events, length = melody_notes(parse_melody(text), MELODY_TEMPO)
    notes = [Note(e.midi, e.start, e.duration, MELODY_VELOCITY) for e in events]
    seconds = math.ceil((length + CORPUS_RELEASE) * sample_rate / hop) * hop / sample_rate
    audio, f0_samples = render_notes(instrument, notes, seconds, sample_rate, np.random.default_rng([REQUEST_SEED, seed]))
    loud = frame_loudness_db(audio, hop)
    return Request("melody", instrument, seed, seconds, notes, text, frame_f0(f0_samples, loud, hop), loud)


def note_pitches(run: int, j: int) -> list[int]:
    """Run ``run``'s pitches for the ``j``-th instrument: 36 + (3j + run) mod 6, then every 6 semitones to 84."""
    from ..data.corpus import PITCH_RANGE

    lo, hi = PITCH_RANGE
    return list(range(lo + (3 * j + run) % 6, hi + 1, 6))


def _snap(keys: np.ndarray, targets) -> list[int]:
    """Each target MIDI number → the nearest key of ``keys`` (ties go down); repeats dropped, order kept."""
    out: list[int] = []
    for t in targets:
        k = int(keys[np.argmin(np.abs(keys - float(t)))])
        if k not in out:
            out.append(k)
    return out


def octave_shift(midi: np.ndarray, low: float, high: float) -> int:
    """Whole octaves (in semitones) that put the most of ``midi`` inside ``low``..``high`` (the
    smallest shift among equals): how a melody or a recording is moved into an instrument's range."""
    midi = np.asarray(midi, dtype=np.float64)
    if not len(midi):
        return 0
    shifts = sorted(range(-48, 49, 12), key=abs)
    return max(shifts, key=lambda k: (np.sum((midi + k >= low - 0.5) & (midi + k <= high + 0.5)), -abs(k)))


class CorpusPlan:
    """The plan's notes played by the built-in synthetic corpus (``data.corpus``): the requests,
    the ceiling, the free row's ceiling and the timbre classifier of a model trained on it."""
    kind = "corpus"
    stress = True            # MIDI 30–35 / 85–90 lie outside the corpus's 36–84
    velocity_row = False     # the corpus's velocity is its level alone (no brightness to measure)

    def __init__(self, names: tuple[str, ...], sample_rate: int, hop: int):
        self.names, self.sample_rate, self.hop = tuple(names), sample_rate, hop

    def pitch_range(self, name: str) -> tuple[int, int]:
        from ..data.corpus import PITCH_RANGE
        return PITCH_RANGE

    def note_pitches(self, run: int, j: int, quick: bool) -> list[int]:
        return list(QUICK_PITCHES) if quick else note_pitches(run, j)

    def note_velocity(self, m: int, j: int, run: int) -> float:
        return VELOCITIES[(m + j + run) % len(VELOCITIES)]

    def note(self, row: str, name: str, midi: float, velocity: float, seed: int) -> Request:
        return note_request(row, name, midi, velocity, seed, self.sample_rate, self.hop)

    def melody(self, name: str, text: str, seed: int) -> Request:
        return melody_request(name, text, seed, self.sample_rate, self.hop)

    def ceiling(self, req: Request) -> np.ndarray:
        return corpus_clip(req, self.sample_rate, self.hop)

    def free_clips(self, run: int, n: int) -> list[np.ndarray]:
        return corpus_free_clips(run, n, self.sample_rate, self.hop, self.names)

    def classifier(self, size: int = CLASSIFIER_SIZE) -> TimbreClassifier:
        return timbre_classifier(self.names, self.sample_rate, self.hop, size=size)

    def settings(self) -> list:
        """What the quick plan's figures depend on besides the requests (none beyond the shared ones)."""
        return []

    def describe(self) -> dict:
        return {"data": self.kind}


class SoundFontPlan:
    """The plan's notes played by a General MIDI SoundFont (``data.soundfont``) for a model trained
    with ``--data soundfont``: requests inside each instrument's natural range, labelled by the
    SoundFont's own rendering of the note (exact f0, measured level); that rendering is the ceiling."""
    kind = "soundfont"
    stress = False
    velocity_row = True

    def __init__(self, names: tuple[str, ...], sample_rate: int, hop: int, soundfont: str | None = None):
        from ..data.soundfont import SOUNDFONT_INSTRUMENTS, SoundFontRenderer

        by_name = {i.name: i for i in SOUNDFONT_INSTRUMENTS}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"the model's instrument(s) {', '.join(unknown)} are not SoundFont instruments "
                             f"({', '.join(by_name)}); it cannot be evaluated on the SoundFont.")
        self.names, self.sample_rate, self.hop = tuple(names), sample_rate, hop
        self.instruments = {n: by_name[n] for n in self.names}
        self.renderer = SoundFontRenderer(soundfont, sample_rate)
        self.soundfont = str(self.renderer.path)

    def keys(self, name: str) -> np.ndarray:
        """The keys of the instrument's natural range that the SoundFont plays (sorted MIDI numbers)."""
        return self.renderer.playable_keys(self.instruments[name])

    def pitch_range(self, name: str) -> tuple[int, int]:
        k = self.keys(name)
        return int(k[0]), int(k[-1])

    def note_pitches(self, run: int, j: int, quick: bool) -> list[int]:
        keys = self.keys(self.names[j])
        lo, hi = int(keys[0]), int(keys[-1])
        targets = (lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3) if quick else range(lo + (3 * j + run) % 6, hi + 1, 6)
        return _snap(keys, targets)

    def note_velocity(self, m: int, j: int, run: int) -> int:
        return SF_VELOCITIES[(m + j + run) % len(SF_VELOCITIES)]

    def velocity_pitch(self, name: str) -> int:
        keys = self.keys(name)
        return int(keys[len(keys) // 2])

    def _grid(self, seconds: float) -> int:
        b = self.renderer.block
        return int(round(seconds * self.sample_rate / b)) * b

    def _request(self, row: str, name: str, seed: int, seconds: float, strokes: list, notes: list, velocity: int,
                 text: str | None = None, transpose: float = 0.0) -> Request:
        from ..data.corpus import frame_f0
        from ..data.soundfont import SILENCE_DB

        audio, f0_samples = self.renderer.render(self.instruments[name], strokes, int(round(seconds * self.sample_rate)))
        loud = frame_loudness_db(audio, self.hop)
        f0 = frame_f0(f0_samples, loud, self.hop, silence_db=SILENCE_DB)
        return Request(row, name, seed, seconds, notes, text, f0_hz=f0, loudness_db=loud, velocity=int(velocity),
                       transpose=transpose, source_audio=audio)

    def note(self, row: str, name: str, midi: float, velocity: int, seed: int) -> Request:
        from ..data.corpus import Note
        from ..data.soundfont import Stroke

        on, off = self._grid(NOTE_START), self._grid(NOTE_START + NOTE_HELD)
        sr = self.sample_rate
        return self._request(row, name, seed, NOTE_SECONDS, [Stroke(int(midi), int(velocity), on, off)],
                             [Note(float(midi), on / sr, (off - on) / sr, 0.0)], velocity)

    def melody(self, name: str, text: str, seed: int) -> Request:
        from ..controls.conditioning import melody_notes, parse_melody
        from ..data.corpus import Note
        from ..data.soundfont import Stroke

        events, length = melody_notes(parse_melody(text), MELODY_TEMPO)
        keys = self.keys(name)
        shift = octave_shift(np.array([e.midi for e in events]), keys[0], keys[-1])
        sr, strokes, notes = self.sample_rate, [], []
        for e in events:
            key = _snap(keys, [e.midi + shift])[0]
            on, off = self._grid(e.start), self._grid(e.start + e.duration)
            strokes.append(Stroke(key, SF_MELODY_VELOCITY, on, off))
            notes.append(Note(float(key), on / sr, (off - on) / sr, 0.0))
        seconds = math.ceil((length + CORPUS_RELEASE) * sr / self.hop) * self.hop / sr
        return self._request("melody", name, seed, seconds, strokes, notes, SF_MELODY_VELOCITY, text, float(shift))

    def ceiling(self, req: Request) -> np.ndarray:
        return req.source_audio       # the synthesiser is deterministic: its render of the request

    def free_clips(self, run: int, n: int) -> list[np.ndarray]:
        from ..data.soundfont import SoundFontCorpus

        corpus = SoundFontCorpus(self.soundfont, sample_rate=self.sample_rate, hop_length=self.hop,
                                 seed=CEILING_SEED + run, size=n, seconds=NOTE_SECONDS, instruments=self.names)
        return [e.audio for e in corpus]

    def classifier(self, size: int = CLASSIFIER_SIZE) -> TimbreClassifier:
        return timbre_classifier(self.names, self.sample_rate, self.hop, corpus="soundfont",
                                 soundfont=self.soundfont, size=size)

    def settings(self) -> list:
        return ["soundfont", self.renderer.font_hash, list(SF_VELOCITIES), SF_MELODY_VELOCITY]

    def describe(self) -> dict:
        # the file's name and content hash, not this machine's path to it
        return {"data": self.kind, "soundfont": Path(self.soundfont).name, "soundfont_sha256": self.renderer.font_hash}


PlanSource = CorpusPlan | SoundFontPlan
_TRANSFER_CURVES: dict = {}


def transfer_request(source: PlanSource, name: str, seed: int) -> Request:
    """The shipped recording followed as ``name``, moved by octaves into the instrument's range. The
    request's curves are those ``Controls(from_audio=recording, transpose=shift)`` builds (pYIN f0 and
    level through ``conditioning.requested_curves``), so the model gets the inputs of
    ``wavenet generate --from-audio``; pYIN runs on the recording once, not once per clip."""
    from ..controls.conditioning import requested_curves
    from ..data.recordings import recording_path
    from ..measure.descriptors import hz_to_midi

    path = str(recording_path(TRANSFER_RECORDING))
    sr, hop = source.sample_rate, source.hop

    key = (path, sr, hop)
    if key not in _TRANSFER_CURVES:
        _TRANSFER_CURVES[key] = requested_curves(Controls(from_audio=path), sr, hop)
    base = _TRANSFER_CURVES[key]
    lo, hi = source.pitch_range(name)
    shift = float(octave_shift(hz_to_midi(base.f0_hz[base.f0_hz > 0]), lo, hi))
    # the recording's contours transposed: what from_audio with this transpose gives, without a second pYIN
    curves = requested_curves(Controls(f0_hz=base.f0_hz, loudness_db=base.loudness_db, transpose=shift), sr, hop)
    return Request("transfer", name, seed, curves.n_samples / sr, f0_hz=curves.f0_hz, loudness_db=curves.loudness_db,
                   transpose=shift, from_audio=path)


def extra_instruments(names: tuple[str, ...], quick: bool) -> tuple[str, ...]:
    """The instruments of the velocity and transfer rows: all of them, or in the quick plan
    ``QUICK_EXTRA_INSTRUMENTS`` spread over the list."""
    if not quick or len(names) <= QUICK_EXTRA_INSTRUMENTS:
        return tuple(names)
    step = len(names) / QUICK_EXTRA_INSTRUMENTS
    return tuple(names[int(i * step)] for i in range(QUICK_EXTRA_INSTRUMENTS))


def plan_requests(names: tuple[str, ...], sample_rate: int, hop: int, *, run: int = 0, seed: int = 0,
                  quick: bool = False, source: PlanSource | None = None) -> list[Request]:
    """One run of the fixed plan (notes, melodies, stress notes, free clips, then velocity and
    transfer clips); clip i gets seed ``seed + i``. ``source`` plays the requests (default: the
    built-in corpus, ``CorpusPlan``).

    ``quick``: 2 pitches × every instrument and the first melody — the regression guard's plan — plus,
    on the SoundFont, the velocity and transfer rows for ``QUICK_EXTRA_INSTRUMENTS`` instruments."""
    source = source or CorpusPlan(tuple(names), sample_rate, hop)
    out: list[Request] = []
    for j, name in enumerate(names):
        for m, p in enumerate(source.note_pitches(run, j, quick)):
            out.append(source.note("notes", name, p, source.note_velocity(m, j, run), 0))
    melodies = MELODIES[:1] if quick else MELODIES
    for i, text in enumerate(melodies):
        out.append(source.melody(names[(i + run) % len(names)], text, seed + len(out)))
    if not quick:
        if source.stress:
            for j, name in enumerate(names):
                low = STRESS_LOW[0] + (j + 2 * run) % (STRESS_LOW[1] - STRESS_LOW[0] + 1)
                high = STRESS_HIGH[0] + (j + 2 * run + 3) % (STRESS_HIGH[1] - STRESS_HIGH[0] + 1)
                for p in (low, high):
                    out.append(note_request("stress", name, p, VELOCITIES[1], 0, sample_rate, hop))
        out += [Request("free", None, 0, NOTE_SECONDS) for _ in range(FREE_CLIPS)]
    if source.velocity_row:
        for name in extra_instruments(tuple(names), quick):
            out += [source.note("velocity", name, source.velocity_pitch(name), v, 0) for v in SF_VELOCITIES]
    if not quick or source.kind != "corpus":     # (the corpus's quick plan is frozen by the shipped eval.json)
        out += [transfer_request(source, name, 0) for name in extra_instruments(tuple(names), quick)]
    for i, r in enumerate(out):
        r.seed = seed + i
    return out


def quick_plan_signature(names: tuple[str, ...], sample_rate: int, hop: int, source: PlanSource | None = None) -> str:
    """A digest of everything the quick plan's figures depend on besides the model and the seed:
    the requests, the measurements' settings and the classifier's corpus."""
    source = source or CorpusPlan(tuple(names), sample_rate, hop)
    reqs = plan_requests(tuple(names), sample_rate, hop, quick=True, source=source)
    desc = [(r.describe(), np.round(r.f0_hz, 3).tolist(), np.round(r.loudness_db, 3).tolist()) for r in reqs]
    settings = (PITCH_FMIN, PITCH_FMAX, RPA_CENTS, SILENT_DB, MIN_VOICED, OUTLIER_SEMITONES, SOUNDING_DB,
                CLASSIFIER_SEED, CLASSIFIER_SIZE, sample_rate, hop, list(names)) + tuple(source.settings())
    return hashlib.sha256(json.dumps([desc, settings]).encode()).hexdigest()[:16]


# ---- measurement -------------------------------------------------------------------------------
def measure(audio: np.ndarray, req: Request, sample_rate: int, hop: int, classifier=None) -> dict:
    """Measure one clip against its request → a JSON-ready record (no per-frame arrays)."""
    audio = np.asarray(audio, dtype=np.float32)
    rec = req.describe()
    loud = frame_loudness_db(audio, hop)
    f0 = pitch_track(audio, sample_rate, hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)
    if req.row == "free":
        sounding = loud >= SOUNDING_DB
        vf = float(np.mean(f0[sounding] > 0)) if sounding.any() else 0.0
        rec.update(sounding_share=float(np.mean(sounding)), voiced_fraction=vf,
                   pitched=bool(sounding.any() and vf >= MIN_VOICED))
        return rec
    n = min(len(loud), len(req.loudness_db))
    ref_loud, ref_f0, loud, f0 = req.loudness_db[:n], req.f0_hz[:n], loud[:n], f0[:n]
    sounding = ref_loud >= SOUNDING_DB
    pm = pitch_frame_metrics(f0, ref_f0, frames=sounding, tolerance_cents=RPA_CENTS)
    level = float(np.median(loud[sounding])) if sounding.any() else float(np.median(loud))
    both = sounding & (loud >= SOUNDING_DB)
    base = both if both.any() else sounding
    vf = float(np.mean(f0[base] > 0)) if base.any() else 0.0
    silent = level < SILENT_DB
    rec.update(rpa=pm["raw_pitch_accuracy"], error_semitones=pm["mean_abs_semitones"], tracked=pm["tracked"],
               frames=pm["frames"], level_db=level, loudness_l1_db=loudness_l1_db(loud, ref_loud),
               voiced_fraction=vf, silent=bool(silent), noise_only=bool(not silent and vf < MIN_VOICED))
    if req.row == "transfer":
        # the recording's voiced frames, sounding or not (pYIN already leaves frames under -60 dB unvoiced)
        rec["followed"] = pitch_frame_metrics(f0, ref_f0, tolerance_cents=RPA_CENTS)["raw_pitch_accuracy"]
    elif req.row in ("notes", "stress", "velocity"):
        tracked = pm["tracked"] or 0.0
        rec["within_50"] = bool(tracked >= MIN_VOICED and pm["median_abs_semitones"] is not None
                                and pm["median_abs_semitones"] <= RPA_CENTS / 100)
        rec["outlier"] = bool(tracked < MIN_VOICED or pm["mean_abs_semitones"] > OUTLIER_SEMITONES)
        if classifier is not None and req.row == "notes":
            rec["predicted"] = classifier.identify(audio, 0.0 if silent else vf)
        if req.row == "velocity":
            rec["brightness_hz"] = brightness(audio, sample_rate, hop)
    else:
        times = (np.arange(n) * hop + hop / 2) / sample_rate
        notes = []
        for note in req.notes:
            sel = sounding & (times >= note.start) & (times < note.start + note.duration)
            q = pitch_frame_metrics(f0, ref_f0, frames=sel, tolerance_cents=RPA_CENTS)
            ok = (q["tracked"] or 0.0) >= MIN_VOICED and q["median_abs_semitones"] is not None \
                and q["median_abs_semitones"] <= RPA_CENTS / 100
            notes.append({"pitch": note.midi, "start": round(note.start, 4), "rpa": q["raw_pitch_accuracy"],
                          "median_abs_semitones": q["median_abs_semitones"], "tracked": q["tracked"],
                          "within_50": bool(ok)})
        rec["notes"] = notes
    return rec


# ---- summaries -----------------------------------------------------------------------------------
def _mean(values) -> float | None:
    v = [float(x) for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarise(records: list[dict]) -> dict:
    """One run's records → its metrics (see the module docstring for each definition)."""
    rows = {k: [r for r in records if r["row"] == k] for k in ("notes", "melody", "stress", "free", "velocity", "transfer")}
    notes, melodies, stress, free = rows["notes"], rows["melody"], rows["stress"], rows["free"]
    velocity, transfer = rows["velocity"], rows["transfer"]
    m: dict = {}
    by_inst = {}
    for r in notes:
        by_inst.setdefault(r["instrument"], []).append(r["rpa"] if r["rpa"] is not None else 0.0)
    m["pitch_rpa"] = _mean(r["rpa"] if r["rpa"] is not None else 0.0 for r in notes)
    m["pitch_rpa_by_instrument"] = {k: float(np.mean(v)) for k, v in by_inst.items()}
    m["pitch_rpa_worst_instrument"] = min(m["pitch_rpa_by_instrument"].values()) if by_inst else None
    m["pitch_error_semitones"] = _mean(r["error_semitones"] for r in notes if not r["outlier"])
    m["pitch_outlier_share"] = _mean(r["outlier"] for r in notes)
    m["pitch_notes_within_50"] = _mean(r["within_50"] for r in notes)
    mel_notes = [n for r in melodies for n in r["notes"]]
    m["melody_notes_within_50"] = _mean(n["within_50"] for n in mel_notes)
    m["melody_rpa"] = _mean(r["rpa"] if r["rpa"] is not None else 0.0 for r in melodies)
    judged = [r for r in notes if "predicted" in r]
    m["timbre_accuracy"] = _mean(r["predicted"] == r["instrument"] for r in judged)
    m["timbre_none_share"] = _mean(r["predicted"] == NONE_OF_THESE for r in judged)
    ok = [r for r in notes if not (r["silent"] or r["noise_only"])]
    m["loudness_l1_db"] = _mean(r["loudness_l1_db"] for r in ok)
    m["loudness_l1_db_with_failures"] = _mean(r["loudness_l1_db"] for r in notes)
    asked = notes + melodies + velocity + transfer
    m["silent"] = sum(r["silent"] for r in asked)
    m["noise_only"] = sum(r["noise_only"] for r in asked)
    m["failures"] = m["silent"] + m["noise_only"]
    m["stress_rpa"] = _mean(r["rpa"] if r["rpa"] is not None else 0.0 for r in stress)
    m["stress_error_semitones"] = _mean(r["error_semitones"] for r in stress if not r["outlier"])
    m["stress_outlier_share"] = _mean(r["outlier"] for r in stress)
    m["stress_failures"] = sum(r["silent"] or r["noise_only"] for r in stress) if stress else None
    m["free_pitched_share"] = _mean(r["pitched"] for r in free)
    by_vel: dict = {}
    for r in velocity:
        by_vel.setdefault(r["instrument"], []).append(r)
    rising = {k: sorted(v, key=lambda r: r["velocity"]) for k, v in by_vel.items() if len(v) > 1}
    m["velocity_level_monotone"] = _mean(bool(np.all(np.diff([r["level_db"] for r in v]) > 0)) for v in rising.values())
    m["velocity_brightness_monotone"] = _mean(bool(np.all(np.diff([r["brightness_hz"] for r in v]) > 0))
                                              for v in rising.values())
    m["velocity_level_span_db"] = _mean(v[-1]["level_db"] - v[0]["level_db"] for v in rising.values())
    m["velocity_brightness_ratio"] = _mean(v[-1]["brightness_hz"] / v[0]["brightness_hz"]
                                           for v in rising.values() if v[0]["brightness_hz"] > 0)
    by_tr = {r["instrument"]: r["followed"] if r["followed"] is not None else 0.0 for r in transfer}
    m["transfer_rpa"] = _mean(by_tr.values())
    m["transfer_rpa_by_instrument"] = by_tr
    m["transfer_rpa_worst_instrument"] = min(by_tr.values()) if by_tr else None
    m.update(note_clips=len(notes), melody_clips=len(melodies), melody_notes=len(mel_notes),
             stress_clips=len(stress), free_clips=len(free), velocity_clips=len(velocity),
             transfer_clips=len(transfer), clips=len(records))
    return m


def check_targets(metrics: dict) -> dict:
    """{target key: met (bool) or None when not measured}."""
    out = {}
    for key, (op, target) in TARGETS.items():
        v = metrics.get(key)
        out[key] = None if v is None else bool(v <= target if op == "<=" else v >= target)
    return out


# ---- corpus ceiling --------------------------------------------------------------------------------
def corpus_clip(req: Request, sample_rate: int, hop: int) -> np.ndarray:
    """The corpus synthesiser playing a request (its notes, with a random stream of its own)."""
    from ..data.corpus import render_notes

    audio, _ = render_notes(req.instrument, req.notes, req.seconds, sample_rate,
                            np.random.default_rng([CEILING_SEED, req.seed]))
    return audio


def corpus_free_clips(run: int, n: int, sample_rate: int, hop: int, names: tuple[str, ...]) -> list[np.ndarray]:
    """``n`` clips of the corpus itself (notes and phrases, as in training): the free row's ceiling."""
    from ..data.corpus import NoteCorpus

    corpus = NoteCorpus(sample_rate=sample_rate, hop_length=hop, seed=CEILING_SEED + run, size=n,
                        seconds=NOTE_SECONDS, instruments=tuple(names))
    return [e.audio for e in corpus]


# ---- evaluation -------------------------------------------------------------------------------------
def pick_method(method: str | None = None) -> str:
    """The generator a report names: the one asked for, else the fast one (the default everywhere)."""
    return method or "fast"


def generate_requests(model, requests: list[Request], *, temperature: float, batch: int, method: str,
                      log: Callable = print, guidance: float = 1.0,
                      transform: Callable | None = None) -> list[np.ndarray]:
    """Generate every request (its own seed), ``batch`` streams of equal length per call.

    ``transform`` (ModelInputs → ModelInputs) is applied to each request's inputs before generation:
    the regression tests use it to feed a model deliberately wrong features."""
    from ..controls.conditioning import model_inputs
    from ..generation.inputs import concat_inputs
    from ..generation.generate import generate

    cfg = model.config
    inputs = [model_inputs(r.controls(), cfg) for r in requests]
    if transform is not None:
        inputs = [transform(i) for i in inputs]
    audio: list = [None] * len(requests)
    groups: dict[int, list[int]] = {}
    for i, inp in enumerate(inputs):
        groups.setdefault(inp.n_samples, []).append(i)
    done = 0
    for n_samples, idx in groups.items():
        for k in range(0, len(idx), batch):
            chunk = idx[k: k + batch]
            out = generate(model, concat_inputs([inputs[i] for i in chunk]), temperature=temperature,
                           seed=[requests[i].seed for i in chunk], method=method, guidance=guidance)
            for i, clip in zip(chunk, out):
                audio[i] = np.asarray(clip, dtype=np.float32)
            done += len(chunk)
            log(f"  generated {done}/{len(requests)} clips")
    return audio


def _corpus_names(model) -> tuple[str, ...]:
    """The model's instruments that the built-in corpus plays (a one-line error when there are none)."""
    from ..data.corpus import INSTRUMENTS

    names = _model_names(model)
    corpus = tuple(n for n in names if n in INSTRUMENTS)
    if not corpus:
        raise ValueError(f"Evaluation plays the corpus's instruments ({', '.join(INSTRUMENTS)}); this model knows "
                         f"none of them ({', '.join(names)}).")
    return corpus


def _model_names(model) -> tuple[str, ...]:
    from ..data.corpus import INSTRUMENTS

    cfg = model.config
    if getattr(cfg, "local_dim", 0) == 0:
        raise ValueError("This model has no pitch/loudness conditioning, so there is nothing to evaluate; "
                         "use a model trained with the corpus's labels (e.g. notes).")
    names = tuple(cfg.instrument_names) or tuple(INSTRUMENTS[: cfg.n_instruments])
    if not names:
        raise ValueError("This model has no instrument conditioning; evaluation needs the instrument names.")
    return names


def training_data(model) -> str:
    """What the model was trained on, from its checkpoint's training info: "corpus", "soundfont" or a folder
    ("corpus" for a checkpoint that does not say)."""
    info = getattr(model, "training_info", None) or {}
    return str((info.get("train_config") or {}).get("data") or "corpus")


def plan_source(model, instruments: tuple[str, ...] | None = None) -> PlanSource:
    """The corpus that plays the evaluation plan for ``model``: ``SoundFontPlan`` for a model trained with
    ``--data soundfont`` (with the SoundFont it was trained on), else ``CorpusPlan``. ``instruments``:
    evaluate only these of the model's instruments (default: all that the corpus plays)."""
    cfg = model.config
    if training_data(model) == "soundfont":
        names = _model_names(model)
        soundfont = ((model.training_info or {}).get("train_config") or {}).get("soundfont") or None
    else:
        names = _corpus_names(model)
    if instruments:
        unknown = [n for n in instruments if n not in names]
        if unknown:
            raise ValueError(f"instrument(s) {', '.join(unknown)} are not among the evaluated ones ({', '.join(names)}).")
        names = tuple(n for n in names if n in instruments)
    if training_data(model) == "soundfont":
        return SoundFontPlan(names, cfg.sample_rate, cfg.hop_length, soundfont)
    return CorpusPlan(names, cfg.sample_rate, cfg.hop_length)


_WORKER: dict = {}


def _worker_init(sample_rate: int, hop: int, classifier) -> None:
    _WORKER.update(sample_rate=sample_rate, hop=hop, classifier=classifier)


def _worker_measure(audio: np.ndarray, req: Request, judged: bool) -> dict:
    return measure(audio, req, _WORKER["sample_rate"], _WORKER["hop"], _WORKER["classifier"] if judged else None)


def measure_all(items: list[tuple[np.ndarray, Request, bool]], sample_rate: int, hop: int, classifier,
                jobs: int = 1) -> list[dict]:
    """``measure`` over (audio, request, judge timbre?) items, in ``jobs`` processes when above 1.
    Each clip's record is a pure function of its audio and request, so the records (in order) are
    the same for any ``jobs``; pitch tracking dominates the evaluation's time and parallelises."""
    if jobs <= 1 or len(items) < 2:
        return [measure(a, r, sample_rate, hop, classifier if judged else None) for a, r, judged in items]
    import multiprocessing
    # spawn, not fork: the parent has numba and torch thread pools running
    with multiprocessing.get_context("spawn").Pool(jobs, _worker_init, (sample_rate, hop, classifier)) as pool:
        return pool.starmap(_worker_measure, items, chunksize=max(1, len(items) // (8 * jobs)))


def evaluate_wavenet(model, *, seed: int = 0, quick: bool = False, batch: int = DEFAULT_BATCH,
                     temperature: float = 1.0, method: str | None = None, ceiling: bool = True,
                     save_audio: str | Path | None = None, log: Callable = print, guidance: float = 1.0,
                     seeds: int = N_SEEDS, transform: Callable | None = None,
                     instruments: tuple[str, ...] | None = None, classifier_size: int = CLASSIFIER_SIZE,
                     jobs: int = 1) -> dict:
    """Generate the evaluation plan with ``model`` (``seeds`` runs, or the quick plan once) and measure
    it; returns the report dict (``metrics``: means over runs, ``ci95``, ``ceiling``, ``passed``,
    ``per_seed``, ``quick``, ``clips``). The plan is played by the corpus the model was trained on
    (``plan_source``); ``instruments`` narrows it to some of the model's instruments and
    ``classifier_size`` sets the timbre classifier's notes (tests use both to stay small); ``jobs``
    processes measure the clips (the figures do not depend on it)."""
    if batch < 1:
        raise ValueError(f"--batch must be at least 1; got {batch}.")
    if not 1 <= seeds <= 10:
        raise ValueError(f"seeds must be between 1 and 10; got {seeds}.")
    source = plan_source(model, instruments)
    names = source.names
    cfg = model.config
    method = pick_method(method)
    sr, hop = cfg.sample_rate, cfg.hop_length
    t_start = time.perf_counter()
    run_ids = [0] if quick else list(range(seeds))
    log(f"planning on the {source.kind} ({len(names)} instruments)")
    plans = {k: plan_requests(names, sr, hop, run=k, seed=seed + SEED_STRIDE * k, quick=quick, source=source)
             for k in run_ids}
    if not quick:       # the regression guard's figures, from the same process
        plans["quick"] = plan_requests(names, sr, hop, seed=seed, quick=True, source=source)
    every = [r for plan in plans.values() for r in plan]
    total_s = sum(r.seconds for r in every)
    log(f"generating {len(every)} clips ({total_s:.0f} s of audio) with the {method} generator, batch {batch}")
    t0 = time.perf_counter()
    audio = generate_requests(model, every, temperature=temperature, batch=batch, method=method, log=log,
                              guidance=guidance, transform=transform)
    gen_s = time.perf_counter() - t0
    if save_audio:
        from ..audio_io import write_wav
        done = set()
        for r, a in zip(every, audio):
            name = f"{r.row}-{(r.instrument or 'free').replace(' ', '_')}-seed{r.seed}.wav"
            if name not in done:
                write_wav(Path(save_audio) / name, a, sr)
                done.add(name)
    log(f"fitting the timbre classifier on {source.kind} notes")
    classifier = source.classifier(classifier_size)
    log(f"measuring ({jobs} process{'es' if jobs > 1 else ''})")
    flat = measure_all([(a, r, True) for r, a in zip(every, audio)], sr, hop, classifier, jobs)
    records: dict = {}
    pos = 0
    for key, plan in plans.items():
        records[key] = flat[pos: pos + len(plan)]
        pos += len(plan)
    per_seed = [summarise(records[k]) for k in run_ids]
    ceil_runs = None
    if ceiling:
        log(f"measuring the {source.kind} ceiling")
        items, sizes = [], []
        for k in run_ids:
            mine = [(source.ceiling(r), r, True) for r in plans[k] if r.row not in ("free", "transfer")]
            n_free = sum(r.row == "free" for r in plans[k])
            mine += [(a, Request("free", None, -1, NOTE_SECONDS), False) for a in source.free_clips(k, n_free)]
            items += mine
            sizes.append(len(mine))
        flat = measure_all(items, sr, hop, classifier, jobs)
        ceil_runs = []
        for n in sizes:
            ceil_runs.append(summarise(flat[:n]))
            flat = flat[n:]
        for m, c in zip(per_seed, ceil_runs):
            ok = m["timbre_accuracy"] is not None and c["timbre_accuracy"]
            m["timbre_vs_ceiling"] = m["timbre_accuracy"] / c["timbre_accuracy"] if ok else None
    metrics, ci95 = combine(per_seed)
    quick_metrics = per_seed[0] if quick else summarise(records["quick"])
    report = {
        "model_kind": "wavenet", "plan": "quick" if quick else "full", "method": method, "seed": seed,
        "seeds": [seed + SEED_STRIDE * k for k in run_ids], "temperature": temperature, "guidance": guidance,
        "batch": batch, "sample_rate": sr, "hop_length": hop, "instruments": list(names),
        **source.describe(), "classifier_size": classifier_size,
        "training": getattr(model, "training_info", {}) or {},
        "targets": {k: {"op": op, "value": v} for k, (op, v) in TARGETS.items()},
        "anchors": dict(ANCHORS),
        "metrics": metrics, "ci95": ci95, "passed": check_targets(metrics), "per_seed": per_seed,
        "quick": {"seed": seed, "plan": quick_plan_signature(names, sr, hop, source), "method": method,
                  "temperature": temperature, "guidance": guidance, "metrics": quick_metrics},
        "generation_seconds": round(gen_s, 2), "audio_seconds": round(total_s, 2),
        "clips": [rec for k in run_ids for rec in records[k]],
    }
    if any(r.row == "transfer" for r in every):
        from ..data.recordings import RECORDINGS
        rec = RECORDINGS[TRANSFER_RECORDING]
        report["recording"] = {"name": rec.name, "source": rec.source, "licence": rec.licence}
    if ceil_runs is not None:
        report["ceiling"], report["ceiling_ci95"] = combine(ceil_runs)
        report["ceiling_per_seed"] = ceil_runs
    report["wall_seconds"] = round(time.perf_counter() - t_start, 2)
    return report


def evaluate_model(name_or_path: str, *, out: str | Path | None = None, seed: int = 0, quick: bool = False,
                   batch: int = DEFAULT_BATCH, temperature: float = 1.0, method: str | None = None,
                   save_audio: str | Path | None = None, log: Callable = print, guidance: float = 1.0,
                   jobs: int = 1) -> dict:
    """Evaluate a checkpoint by its kind; writes the JSON report to ``out`` when given.

    WaveNets get ``evaluate_wavenet``, its plan played by the corpus the checkpoint's training info
    names (``plan_source``: the SoundFont for ``--data soundfont``, else the built-in corpus); autoencoders ``autoencoder_eval.evaluate_autoencoder`` with
    seed, quick, temperature and method — ``batch`` (other than the default), ``guidance`` (other than
    1) and ``save_audio`` do not apply to it and are refused rather than dropped."""
    from ..audio_io import atomic_write_bytes
    from ..model.checkpoint import load_checkpoint_metadata, load_model

    kind = load_checkpoint_metadata(name_or_path).get("kind", "wavenet")
    if kind == "autoencoder":
        refused = [flag for flag, given in (("--batch", batch != DEFAULT_BATCH), ("--guidance", guidance != 1.0),
                                            ("--save-audio", bool(save_audio)), ("--jobs", jobs != 1)) if given]
        if refused:
            raise ValueError(f"{' and '.join(refused)} {'do' if len(refused) > 1 else 'does'} not apply to an "
                             "autoencoder's evaluation (it reconstructs held-out corpus clips); leave "
                             f"{'them' if len(refused) > 1 else 'it'} out.")
        from .autoencoder import evaluate_autoencoder  # the autoencoder's own module
        report = evaluate_autoencoder(load_model(name_or_path), seed=seed, quick=quick, temperature=temperature,
                                      method=method, log=log)
        report.setdefault("model_kind", "autoencoder")
    elif kind == "wavenet":
        report = evaluate_wavenet(load_model(name_or_path), seed=seed, quick=quick, batch=batch,
                                  temperature=temperature, method=method, save_audio=save_audio, log=log,
                                  guidance=guidance, jobs=jobs)
    else:
        raise ValueError(f"{name_or_path}: a {kind!r} checkpoint has no evaluation; evaluate a wavenet or an autoencoder.")
    report = {"model": str(name_or_path), **json_safe(report, digits=4)}
    if out:
        text = json.dumps(report, indent=1)
        atomic_write_bytes(out, lambda tmp: Path(tmp).write_text(text))
    return report


# ---- regression guard ---------------------------------------------------------------------------------
# Margins of the guard (quick plan, seed as stored): pitch accuracy and timbre accuracy must keep at
# least half of the stored figure, loudness L1 may at most double plus 3 dB. With the same seed the
# quick plan reproduces the stored figures exactly on the same machine; across machines and generator
# builds the sampled audio can differ like a change of seed, which moves these 12-note figures by
# about ±0.1 (accuracy) and ±1 dB — well inside the margins. A feature-order or normalisation slip
# (features swapped, a row left in raw units, f0 given in kHz) makes the model play other pitches at
# other levels: accuracy falls towards chance (1/6 for timbre, ~0 for pitch) and loudness is off by
# ten dB or more, beyond the margins (``tests/test_regression_guard.py`` shows both).
GUARD_PITCH_SHARE = 0.5
GUARD_TIMBRE_SHARE = 0.5
GUARD_LOUDNESS_FACTOR, GUARD_LOUDNESS_SLACK_DB = 2.0, 3.0


def guard_limits(stored: dict) -> dict:
    """Stored quick-plan metrics → {metric: (op, limit)} the regression guard enforces."""
    limits = {}
    if stored.get("pitch_rpa") is not None:
        limits["pitch_rpa"] = (">=", GUARD_PITCH_SHARE * stored["pitch_rpa"])
    if stored.get("timbre_accuracy") is not None:
        limits["timbre_accuracy"] = (">=", GUARD_TIMBRE_SHARE * stored["timbre_accuracy"])
    if stored.get("loudness_l1_db") is not None:
        limits["loudness_l1_db"] = ("<=", GUARD_LOUDNESS_FACTOR * stored["loudness_l1_db"] + GUARD_LOUDNESS_SLACK_DB)
    return limits


def regression_guard(model, eval_report: dict, *, transform: Callable | None = None, method: str | None = None,
                     log: Callable = lambda *a: None) -> dict:
    """Re-run the quick plan with the seed stored in ``eval_report["quick"]`` and compare with the
    stored figures; returns {"metrics", "limits", "failures": [one line per broken limit]}.
    ``transform`` is handed to ``generate_requests`` (tests corrupt the inputs with it)."""
    stored = eval_report.get("quick")
    if not isinstance(stored, dict) or not isinstance(stored.get("metrics"), dict):
        raise ValueError("The evaluation report has no quick-plan figures; re-run `wavenet evaluate` to write them.")
    source = plan_source(model)
    signature = quick_plan_signature(source.names, model.config.sample_rate, model.config.hop_length, source)
    if stored.get("plan") != signature:
        raise ValueError(f"The stored quick-plan figures are for plan {stored.get('plan')}, not today's {signature}; "
                         "re-run `wavenet evaluate` to refresh them.")
    report = evaluate_wavenet(model, seed=int(stored.get("seed", 0)), quick=True, ceiling=False, method=method,
                              temperature=float(stored.get("temperature", 1.0)),
                              guidance=float(stored.get("guidance", 1.0)), transform=transform, log=log)
    metrics = report["metrics"]
    limits = guard_limits(stored["metrics"])
    failures = []
    for key, (op, limit) in limits.items():
        v = metrics.get(key)
        bad = v is None or (v < limit if op == ">=" else v > limit)
        if bad:
            failures.append(f"{key} = {v if v is None else round(v, 3)}, limit {op} {limit:.3f} "
                            f"(stored {stored['metrics'][key]:.3f})")
    return {"metrics": metrics, "limits": limits, "failures": failures}


# ---- tables -------------------------------------------------------------------------------------------
# (metric key, label, format, kind): kind "share" prints %, "count" integers
_ROWS = [
    ("pitch_rpa", "pitch: voiced frames within 50 cents (MIDI 36–84, each instrument's range)", "share"),
    ("pitch_rpa_worst_instrument", "pitch: the same, worst instrument", "share"),
    ("pitch_error_semitones", "pitch: mean \\|f0 error\\| (semitones), non-outlier notes", "num"),
    ("pitch_notes_within_50", "pitch: notes within 50 cents (per note)", "share"),
    ("pitch_outlier_share", "pitch: outlier notes (untracked or > 1 semitone off)", "share"),
    ("melody_notes_within_50", "melody: notes within 50 cents", "share"),
    ("timbre_accuracy", "timbre: identified as requested", "share"),
    ("timbre_vs_ceiling", "timbre: share of the corpus ceiling", "num"),
    ("timbre_none_share", "timbre: judged \"none of these\"", "share"),
    ("loudness_l1_db", "loudness: L1 over sounding frames (dB)", "num"),
    ("loudness_l1_db_with_failures", "loudness: L1 with failed clips kept (dB)", "num"),
    ("failures", "silent or noise-only clips (per run)", "count"),
    ("free_pitched_share", "free: clips that are pitched (every control free)", "share"),
    ("stress_rpa", "stress (MIDI 30–35, 85–90): frames within 50 cents", "share"),
    ("stress_error_semitones", "stress: mean \\|f0 error\\| (semitones)", "num"),
    ("stress_failures", "stress: silent or noise-only clips (per run)", "count"),
    ("velocity_level_monotone", "velocity 40/80/120: level rises (share of instruments)", "share"),
    ("velocity_brightness_monotone", "velocity 40/80/120: brightness rises (share of instruments)", "share"),
    ("velocity_level_span_db", "velocity: level span 40 → 120 (dB)", "num"),
    ("velocity_brightness_ratio", "velocity: brightness ratio 120 / 40", "num"),
    ("transfer_rpa", "transfer: recording's voiced frames within 50 cents", "share"),
    ("transfer_rpa_worst_instrument", "transfer: the same, worst instrument", "share"),
]


def _fmt(kind: str, v, ci=None) -> str:
    if v is None:
        return "n/a"
    if kind == "share":
        s = f"{100 * v:.1f} %"
        return s if ci is None else f"{100 * v:.1f} ± {100 * ci:.1f} %"
    if kind == "count":
        s = f"{v:.1f}" if ci is not None or not float(v).is_integer() else f"{int(v)}"
        return s if ci is None else f"{s} ± {ci:.1f}"
    return f"{v:.2f}" if ci is None else f"{v:.2f} ± {ci:.2f}"


def card_table(report: dict) -> str:
    """The model card's measured table in Markdown: metric, target, model mean ± 95 % CI over the runs,
    corpus ceiling (same plan, same measurements), published anchor where the units match, met."""
    m, ci = report.get("metrics", {}), report.get("ci95", {}) or {}
    c = report.get("ceiling", {}) or {}
    passed = report.get("passed", {})
    n = len(report.get("seeds") or [report.get("seed")])
    head = f"model (mean ± 95 % CI, {n} seeds)" if n > 1 else "model (1 seed)"
    lines = [f"| metric | target | {head} | corpus ceiling | published anchor | met |", "|---|---|---|---|---|---|"]
    for key, label, kind in _ROWS:
        if key not in m or (m.get(key) is None and c.get(key) is None):     # not in this plan (quick: no free, stress)
            continue
        if key in TARGETS:
            op, target = TARGETS[key]
            tgt = ("≤ " if op == "<=" else "≥ ") + _fmt(kind, target)
            ok = passed.get(key)
            met = "—" if ok is None else ("yes" if ok else "**no**")
        else:
            tgt, met = "—", "—"
        ceil = "—" if key == "timbre_vs_ceiling" or key.startswith("transfer") else _fmt(kind, c.get(key)) if c else "—"
        lines.append(f"| {label} | {tgt} | {_fmt(kind, m.get(key), ci.get(key) if n > 1 else None)} | {ceil} | "
                     f"{ANCHORS.get(key, '')} | {met} |")
    return "\n".join(lines)


def format_table(report: dict) -> str:
    """What `wavenet evaluate` prints: the card's Markdown table and a line on the plan."""
    m = {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in report.get("metrics", {}).items()}
    tail = (f"\n\n{report.get('plan', '?')} plan on the {report.get('data', 'corpus')}: {m.get('note_clips', 0)} notes, "
            f"{m.get('melody_notes', 0)} melody notes, {m.get('stress_clips', 0)} stress notes, {m.get('free_clips', 0)} free "
            f"clips, {m.get('velocity_clips', 0)} velocity notes, {m.get('transfer_clips', 0)} transfer clips per run; seeds "
            f"{report.get('seeds')}; {report.get('method', '?')} generator; {report.get('wall_seconds', '?')} s")
    return card_table(report) + tail


def main(argv: list[str] | None = None) -> int:
    """``python -m wavenet_core.evaluation.evaluate --card eval.json``: print a saved report's card table."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m wavenet_core.evaluation.evaluate", description=main.__doc__)
    p.add_argument("--card", required=True, metavar="REPORT", help="a report written by `wavenet evaluate --out`")
    args = p.parse_args(argv)
    try:
        report = json.loads(Path(args.card).read_text())
    except (OSError, ValueError) as e:
        print(f"error: {args.card}: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    if report.get("model_kind", "wavenet") != "wavenet" or "metrics" not in report:
        print(f"error: {args.card} is not a WaveNet evaluation report", file=sys.stderr)
        return 2
    print(card_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
