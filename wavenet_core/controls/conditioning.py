"""Musical controls → the model's conditioning inputs.

Local features (one row per frame of ``hop_length`` samples), the contract between the corpus,
training, the controls and the generator:

====  ==============  =====================================================================
row   name            value
====  ==============  =====================================================================
0     voiced          1 where a pitch is requested, else 0
1     pitch           (MIDI − 60) / 12 where voiced, else 0
2     f0              f0 in kHz where voiced, else 0 (a linear-frequency hint for the period)
3     pitch_known     1 when pitch is specified, 0 when left free (rows 0–2 are then 0)
4     loudness        (dB + 40) / 20
5     loudness_known  1 when loudness is specified, 0 when left free (row 4 is then 0)
====  ==============  =====================================================================

The musical side (see docs/conditioning.md): a ``Controls`` describes timbre (instrument or mix),
pitch (constant MIDI, a melody text, a MIDI file, contours, or a recording) with glide and
vibrato, and loudness (a level or an ADSR envelope per note). ``requested_curves`` turns it into
per-frame f0 (Hz) and loudness (dB) curves at the model's frame rate — the values evaluation and
plots compare with what was measured — and ``model_inputs`` encodes them for the model.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..measure.descriptors import hz_to_midi, midi_to_hz

if TYPE_CHECKING:
    from ..generation.inputs import ModelInputs

LOCAL_FEATURES: tuple[str, ...] = ("voiced", "pitch", "f0", "pitch_known", "loudness", "loudness_known")
LOCAL_DIM = len(LOCAL_FEATURES)


def encode_local(f0_hz: np.ndarray | None, loudness_db: np.ndarray | None, n_frames: int | None = None) -> np.ndarray:
    """Per-frame f0 (Hz, 0 = silent) and loudness (dB) → (LOCAL_DIM, frames) float32 features.

    Pass None for a control left free; ``n_frames`` is then taken from the other one or required.
    """
    if n_frames is None:
        ref = f0_hz if f0_hz is not None else loudness_db
        if ref is None:
            raise ValueError("encode_local needs n_frames when both pitch and loudness are free.")
        n_frames = len(ref)
    out = np.zeros((LOCAL_DIM, n_frames), dtype=np.float32)
    if f0_hz is not None:
        f0 = np.nan_to_num(np.asarray(f0_hz, dtype=np.float64)[:n_frames], nan=0.0)
        voiced = f0 > 0
        midi = np.where(voiced, hz_to_midi(f0), 60.0)
        out[0, : len(f0)] = voiced
        out[1, : len(f0)] = np.where(voiced, (midi - 60) / 12, 0)
        out[2, : len(f0)] = np.where(voiced, f0 / 1000, 0)
        out[3] = 1
    if loudness_db is not None:
        loud = np.asarray(loudness_db, dtype=np.float64)[:n_frames]
        out[4, : len(loud)] = (loud + 40) / 20
        out[5] = 1
    return out


# ---- constants ---------------------------------------------------------------------------------
DEFAULT_SECONDS = 1.0          # when nothing else sets the duration
DEFAULT_LEVEL_DB = -12.0       # peak level of an envelope when no loudness is given
MIDI_FULL_DB = -6.0            # loudness of MIDI velocity 127 (velocity v: + 40·log10(v/127))
FLOOR_DB = -80.0               # silence, as the corpus labels it
VOICED_FLOOR_DB = -60.0        # the corpus labels frames quieter than the note's peak - 60 dB unvoiced
LEGATO = 0.9                   # melody-text notes sound for 90 % of their written length (as the corpus phrases)
MAX_CONTROL_SECONDS = 30.0     # generate.MAX_SECONDS; kept here so parsing never builds huge curves
VIBRATO_DELAY, VIBRATO_FADE = 0.15, 0.2   # vibrato fades in after the attack, as in the corpus


# ---- parsing: notes, melodies, timbre mixes, envelopes -----------------------------------------
_NOTE_RE = re.compile(r"^([A-Ga-g])([#♯b♭]{0,2})(-?\d+)$")
_NUMBER_RE = re.compile(r"^\d+(\.\d*)?$")
_STEPS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_note(token: str) -> float:
    """'C4' → 60, 'F#4' → 66, 'Bb3' → 58, '61' → 61 (a MIDI number), 'A4' → 69.

    Octaves follow scientific pitch notation (C4 = middle C = MIDI 60).
    """
    token = token.strip()
    m = _NOTE_RE.match(token)
    if m:
        letter, accidentals, octave = m.groups()
        shift = sum(1 if a in "#♯" else -1 for a in accidentals)
        midi = 12 * (int(octave) + 1) + _STEPS[letter.lower()] + shift
    elif _NUMBER_RE.match(token):
        midi = float(token)
    else:
        raise ValueError(f"unknown note {token!r}; write a note like C4, F#4 or Bb3, or a MIDI number like 60")
    if not 0 <= midi <= 127:
        raise ValueError(f"note {token!r} is MIDI {midi:g}, outside 0..127")
    return float(midi)


def _parse_beats(text: str) -> float:
    try:
        beats = float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"beats {text!r} is not a number; write e.g. 0.5, 1 or 1/3") from None
    if not math.isfinite(beats) or beats <= 0 or beats > 64:
        raise ValueError(f"beats {text!r} must be a positive number up to 64")
    return beats


@dataclass(frozen=True)
class MelodyStep:
    """One token of a melody text: a note (MIDI) or a rest (None) lasting ``beats``."""
    midi: float | None
    beats: float


def parse_melody(text: str) -> list[MelodyStep]:
    """``"C4:0.5 E4:0.5 G4:1 r:0.25 C5:1"`` → steps. Tokens are separated by spaces or commas;
    each is NOTE:BEATS or r:BEATS (a rest); ``:BEATS`` may be left out for one beat.

    Errors name the bad token and its 1-based position in one line.
    """
    tokens = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if not tokens:
        raise ValueError("The melody is empty; write notes like 'C4:0.5 E4:0.5 G4:1'.")
    steps = []
    for pos, token in enumerate(tokens, 1):
        name, sep, beats = token.partition(":")
        try:
            if sep and ":" in beats:
                raise ValueError("more than one ':'; write NOTE:BEATS")
            b = _parse_beats(beats) if sep else 1.0
            midi = None if name.lower() in ("r", "rest") else parse_note(name)
        except ValueError as e:
            raise ValueError(f"Melody token {pos} ({token!r}): {e}.") from None
        steps.append(MelodyStep(midi, b))
    return steps


def format_melody(steps: list[MelodyStep]) -> str:
    """Steps → melody text (MIDI numbers for notes), the inverse of ``parse_melody``."""
    def num(x: float) -> str:               # shortest text that reads back to the same float, never 1e-05
        return str(int(x)) if float(x).is_integer() else np.format_float_positional(float(x), trim="-")
    return " ".join(f"{'r' if s.midi is None else num(s.midi)}:{num(s.beats)}" for s in steps)


def parse_timbre(text: str, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """``"bell=0.5,pluck=0.5"`` (or ``"bell"``, or ``"bell,pluck"`` for equal parts) → weights summing to 1.

    With ``names``, unknown instruments are refused here (with their position).
    """
    items = [t for t in re.split(r"[,;\s]+", text.strip()) if t]
    if not items:
        raise ValueError("The timbre is empty; write an instrument name or a mix like 'bell=0.5,pluck=0.5'.")
    mix: dict[str, float] = {}
    for pos, item in enumerate(items, 1):
        name, sep, weight = item.partition("=")
        name = name.strip()
        if not name:
            raise ValueError(f"Timbre item {pos} ({item!r}): missing instrument name; write NAME=WEIGHT.")
        if names is not None and name not in names:
            raise ValueError(f"Timbre item {pos} ({item!r}): unknown instrument {name!r}; choose from: {', '.join(names)}.")
        try:
            w = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"Timbre item {pos} ({item!r}): weight {weight!r} is not a number.") from None
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"Timbre item {pos} ({item!r}): weight must be a non-negative number.")
        mix[name] = mix.get(name, 0.0) + w
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("Timbre mix weights sum to zero; give at least one instrument a positive weight.")
    return {k: v / total for k, v in mix.items()}


@dataclass(frozen=True)
class ADSR:
    """Per-note loudness envelope: attack and decay (s), sustain level (dB relative to the note's
    peak level, ≤ 0) and release (s, after the note ends)."""
    attack: float = 0.01
    decay: float = 0.1
    sustain_db: float = -6.0
    release: float = 0.2

    def __post_init__(self) -> None:
        for name in ("attack", "decay", "release"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 <= v <= 10):
                raise ValueError(f"ADSR {name} must be between 0 and 10 seconds; got {v}.")
        if not (math.isfinite(self.sustain_db) and -80 <= self.sustain_db <= 0):
            raise ValueError(f"ADSR sustain must be a level in dB relative to the peak, between -80 and 0; got {self.sustain_db}.")

    def gain(self, t: np.ndarray, held: float) -> np.ndarray:
        """Linear gain (0..1) at times ``t`` (s since the onset) of a note held for ``held`` s."""
        t = np.asarray(t, dtype=np.float64)
        s = 10 ** (self.sustain_db / 20)

        def shape(u):
            attack = np.clip(u / self.attack, 0, 1) if self.attack > 0 else np.ones_like(u)
            decay = np.clip((u - self.attack) / self.decay, 0, 1) if self.decay > 0 else (u >= self.attack).astype(float)
            return np.where(u < self.attack, attack, 1 + (s - 1) * decay)

        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):   # stages of ~0 s
            g = shape(np.minimum(t, held))
            at_release = shape(np.array([held]))[0]
            if self.release > 0:
                tail = at_release * np.clip(1 - (t - held) / self.release, 0, 1)
            else:
                tail = np.zeros_like(t)
        return np.where(t < 0, 0.0, np.where(t <= held, g, tail))


# The envelope notes get when the user gives none: a quick attack, no decay and a short release,
# like the corpus's own notes (linear 80 ms release).
DEFAULT_ENVELOPE = ADSR(attack=0.005, decay=0.0, sustain_db=0.0, release=0.08)


def parse_adsr(text: str) -> ADSR:
    """``"0.01,0.1,-6,0.2"`` → ADSR(attack 0.01 s, decay 0.1 s, sustain -6 dB, release 0.2 s)."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if len(parts) != 4:
        raise ValueError(f"ADSR needs four numbers A,D,S,R (attack s, decay s, sustain dB, release s); got {text!r}.")
    values = []
    for pos, p in enumerate(parts, 1):
        try:
            values.append(float(p))
        except ValueError:
            raise ValueError(f"ADSR value {pos} ({p!r}) is not a number; write e.g. 0.01,0.1,-6,0.2.") from None
    return ADSR(*values)


# ---- notes ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoteEvent:
    """A sounding note: MIDI pitch, start and held duration in seconds, and its own peak level
    (dB; None: the controls' loudness)."""
    midi: float
    start: float
    duration: float
    level_db: float | None = None


def melody_notes(steps: list[MelodyStep], tempo: float, legato: float = LEGATO) -> tuple[list[NoteEvent], float]:
    """Melody steps at ``tempo`` BPM → (notes, written length in seconds)."""
    if not (math.isfinite(tempo) and 20 <= tempo <= 400):
        raise ValueError(f"Tempo must be between 20 and 400 BPM; got {tempo}.")
    beat = 60.0 / tempo
    notes, t = [], 0.0
    for s in steps:
        if s.midi is not None:
            notes.append(NoteEvent(s.midi, t, s.beats * beat * legato))
        t += s.beats * beat
    return notes, t


def velocity_db(velocity: int, full_db: float = MIDI_FULL_DB) -> float:
    """MIDI velocity → peak loudness in dB: 127 → ``full_db``, each halving of velocity ≈ -12 dB."""
    return float(max(full_db + 40 * math.log10(max(int(velocity), 1) / 127), -50.0))


def read_midi(path: str | Path, full_db: float = MIDI_FULL_DB) -> list[NoteEvent]:
    """A standard MIDI file's first track with notes (percussion channel 10 skipped) → notes.

    Timing follows the file's tempo map. Monophonic: notes that start together keep the highest;
    a note is cut where the next one starts (last note wins). Velocities give the notes' levels.
    """
    import mido

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such MIDI file; check the path.")
    try:
        mid = mido.MidiFile(str(path))
    except Exception as e:  # noqa: BLE001 - mido raises several kinds for broken files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path.name}: not a readable MIDI file ({reason}); export it as a standard MIDI file (.mid).") from None
    if mid.type == 2:
        raise ValueError(f"{path.name}: MIDI type 2 (independent sequences) is not supported; export as type 0 or 1.")
    # Tempo map from every track (type-1 files keep it in track 0), then ticks → seconds.
    tempos = [(0, 500000)]
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
    tempos.sort(key=lambda x: x[0])
    tpb = mid.ticks_per_beat

    def seconds(tick: int) -> float:
        t, last_tick, tempo = 0.0, 0, tempos[0][1]
        for tt, tempo_new in tempos[1:]:
            if tt >= tick:
                break
            t += (tt - last_tick) * tempo / tpb / 1e6
            last_tick, tempo = tt, tempo_new
        return t + (tick - last_tick) * tempo / tpb / 1e6

    for track in mid.tracks:
        raw, held, tick = [], {}, 0
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off") or msg.channel == 9:
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                if key in held:                       # re-struck without a note-off: close the old one
                    start, vel = held.pop(key)
                    raw.append((start, tick, msg.note, vel))
                held[key] = (tick, msg.velocity)
            elif key in held:
                start, vel = held.pop(key)
                raw.append((start, tick, msg.note, vel))
        for (ch, note), (start, vel) in held.items():  # never released: sound to the track's end
            raw.append((start, tick, note, vel))
        if not raw:
            continue
        raw.sort(key=lambda r: (r[0], -r[2]))
        mono = [r for i, r in enumerate(raw) if i == 0 or r[0] != raw[i - 1][0]]   # chords: highest note
        notes = []
        for i, (start, end, note, vel) in enumerate(mono):
            if i + 1 < len(mono):
                end = min(end, mono[i + 1][0])
            t0, t1 = seconds(start), seconds(end)
            if t1 > t0:
                notes.append(NoteEvent(float(note), t0, t1 - t0, velocity_db(vel, full_db)))
        if notes:
            return notes
    raise ValueError(f"{path.name}: no track has notes (percussion channel 10 is skipped); choose a file with a melody.")


# ---- controls ----------------------------------------------------------------------------------
@dataclass
class Controls:
    """What a musician asks for. Every field left as None is left free for the model to choose.

    Timbre — ``instrument``: a name, an index, a mix string ``"bell=0.5,pluck=0.5"`` or a dict
    {name: weight} (weights are normalised).

    Pitch — one source at most: ``pitch`` (constant MIDI), ``melody`` (text, with ``tempo`` in BPM),
    ``midi_file`` (path), ``f0_hz`` (per-frame contour, Hz, 0 = silent) or ``from_audio`` (a
    recording whose f0 and loudness contours are followed). ``transpose`` (semitones) shifts any of
    them; ``glide`` (s, portamento into each note) and ``vibrato_depth`` (cents) / ``vibrato_rate``
    (Hz) shape note-based pitch.

    Loudness — ``loudness`` (dB: the level of notes, or with ``from_audio`` the level its loudest
    part is moved to), ``adsr`` (an ``ADSR`` or "A,D,S,R" text, applied per note) or a
    ``loudness_db`` per-frame contour.

    ``seconds``: the duration; None takes it from the melody, MIDI file or recording (else 1 s).
    """
    seconds: float | None = None
    instrument: str | int | dict | None = None
    pitch: float | None = None
    loudness: float | None = None
    melody: str | None = None
    tempo: float = 120.0
    midi_file: str | Path | None = None
    adsr: ADSR | str | None = None
    glide: float = 0.0
    vibrato_depth: float = 0.0
    vibrato_rate: float = 5.5
    f0_hz: np.ndarray | None = field(default=None, repr=False)
    loudness_db: np.ndarray | None = field(default=None, repr=False)
    from_audio: str | Path | None = None
    transpose: float = 0.0


@dataclass
class Curves:
    """The requested per-frame curves (frame f centred on sample f·hop + hop/2); None = free."""
    n_samples: int
    sample_rate: int
    hop_length: int
    f0_hz: np.ndarray | None
    loudness_db: np.ndarray | None
    notes: list[NoteEvent] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return -(-self.n_samples // self.hop_length)

    @property
    def times(self) -> np.ndarray:
        """Frame centre times in seconds."""
        return (np.arange(self.n_frames) * self.hop_length + self.hop_length / 2) / self.sample_rate

    @property
    def midi(self) -> np.ndarray | None:
        """Requested pitch in MIDI per frame (NaN where silent), or None when free."""
        if self.f0_hz is None:
            return None
        return hz_to_midi(self.f0_hz)


def _check_range(name: str, value: float | None, lo: float, hi: float, unit: str) -> None:
    if value is not None and not (isinstance(value, (int, float, np.number)) and math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} must be between {lo:g} and {hi:g} {unit}; got {value}.")


def _check_controls(c: Controls) -> None:
    if c.seconds is not None and not (isinstance(c.seconds, (int, float, np.number)) and math.isfinite(c.seconds) and c.seconds > 0):
        raise ValueError(f"Duration must be a positive number of seconds; got {c.seconds}.")
    if c.seconds is not None and c.seconds > MAX_CONTROL_SECONDS:
        raise ValueError(f"Duration {c.seconds:g} s is over the {MAX_CONTROL_SECONDS:.0f} s limit; ask for less.")
    _check_range("Pitch", c.pitch, 0, 127, "(MIDI note number)")
    _check_range("Loudness", c.loudness, -80, 0, "dB")
    _check_range("Glide", c.glide, 0, 2, "seconds")
    _check_range("Vibrato depth", c.vibrato_depth, 0, 200, "cents")
    _check_range("Vibrato rate", c.vibrato_rate, 0.1, 20, "Hz")
    _check_range("Transpose", c.transpose, -48, 48, "semitones")
    sources = [n for n in ("pitch", "melody", "midi_file", "f0_hz", "from_audio") if getattr(c, n) is not None]
    if len(sources) > 1:
        raise ValueError(f"Give one pitch source, not {' and '.join(sources)}.")


def resolve_instrument(instrument, names: tuple[str, ...] = ()) -> str | int | dict | None:
    """A mix string ("bell=0.5,pluck=0.5") → normalised dict; names, indices, dicts and None pass through."""
    if isinstance(instrument, str) and any(ch in instrument for ch in "=,;"):
        return parse_timbre(instrument, names or None)
    if isinstance(instrument, str):
        return instrument.strip()
    return instrument


def _note_curves(notes: list[NoteEvent], times: np.ndarray, c: Controls, envelope: ADSR,
                 level_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Notes → per-frame (MIDI, envelope gain 0..1, peak level dB); MIDI NaN where no note sounds.

    Each note owns the frames from its onset to the next note's onset (its release is cut there).
    """
    midi = np.full(len(times), np.nan)
    gain = np.zeros(len(times))
    peak = np.full(len(times), FLOOR_DB)
    prev = None
    for i, n in enumerate(notes):
        end = notes[i + 1].start if i + 1 < len(notes) else np.inf
        sel = (times >= n.start) & (times < end)
        u = times[sel] - n.start
        m = np.full(u.shape, float(n.midi))
        if c.glide > 0 and prev is not None:
            m = prev + (n.midi - prev) * np.clip(u / c.glide, 0, 1)
        if c.vibrato_depth > 0:
            fade = np.clip((u - VIBRATO_DELAY) / VIBRATO_FADE, 0, 1)
            m = m + fade * (c.vibrato_depth / 100) * np.sin(2 * np.pi * c.vibrato_rate * u)
        midi[sel] = m
        gain[sel] = envelope.gain(u, n.duration)
        peak[sel] = level_db if n.level_db is None else n.level_db
        prev = n.midi
    return midi, gain, peak


def _amp_to_db(amp: np.ndarray) -> np.ndarray:
    return np.maximum(20 * np.log10(np.maximum(amp, 1e-12)), FLOOR_DB)


def _load_contours(path, sample_rate: int, hop_length: int, seconds: float | None) -> tuple[np.ndarray, np.ndarray, int]:
    """A recording → (f0 Hz per frame, loudness dB per frame, n_samples)."""
    from ..audio_io import AudioError, load_audio
    from ..measure.descriptors import frame_loudness_db, pitch_track

    audio = load_audio(path, sample_rate, max_seconds=seconds or MAX_CONTROL_SECONDS, truncate=seconds is not None)
    if np.max(np.abs(audio)) < 10 ** (FLOOR_DB / 20):      # nothing to follow: say so rather than make silence
        raise AudioError(f"{Path(path).name}: the recording is silent (peak below {FLOOR_DB:.0f} dB), so there is no "
                         "pitch or loudness to follow; use a recording with sound in it.")
    return pitch_track(audio, sample_rate, hop_length), frame_loudness_db(audio, hop_length), len(audio)


def requested_curves(controls: Controls, sample_rate: int, hop_length: int) -> Curves:
    """Controls → the per-frame f0 (Hz) and loudness (dB) they request, at ``sample_rate / hop_length``
    frames per second; None for a control left free."""
    c = controls
    _check_controls(c)
    envelope = parse_adsr(c.adsr) if isinstance(c.adsr, str) else c.adsr
    notes: list[NoteEvent] = []
    length = None                  # natural duration of the pitch source, in seconds
    contour_f0 = contour_loud = None
    audio_samples = None
    if c.melody is not None:
        notes, length = melody_notes(parse_melody(c.melody), c.tempo)
        length += (envelope or DEFAULT_ENVELOPE).release
    elif c.midi_file is not None:
        base = c.loudness if c.loudness is not None else MIDI_FULL_DB
        notes = read_midi(c.midi_file, base)
        length = max(n.start + n.duration for n in notes) + (envelope or DEFAULT_ENVELOPE).release
    elif c.from_audio is not None:
        contour_f0, contour_loud, audio_samples = _load_contours(c.from_audio, sample_rate, hop_length, c.seconds)
    elif c.f0_hz is not None:
        contour_f0 = np.asarray(c.f0_hz, dtype=np.float64)
        length = len(contour_f0) * hop_length / sample_rate
    if c.loudness_db is not None and length is None and audio_samples is None:
        length = len(c.loudness_db) * hop_length / sample_rate

    if c.seconds is not None:
        n_samples = int(round(c.seconds * sample_rate))
    elif audio_samples is not None:
        n_samples = audio_samples
    else:
        n_samples = int(round((length if length is not None else DEFAULT_SECONDS) * sample_rate))
    if n_samples > MAX_CONTROL_SECONDS * sample_rate + 1:
        raise ValueError(f"Duration {n_samples / sample_rate:.1f} s is over the {MAX_CONTROL_SECONDS:.0f} s limit; "
                         "shorten the melody or pass --seconds.")
    n_samples = max(n_samples, 1)
    curves = Curves(n_samples, sample_rate, hop_length, None, None, notes)
    times, n_frames = curves.times, curves.n_frames

    def fit(x: np.ndarray, fill: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)[:n_frames]
        return np.pad(x, (0, n_frames - len(x)), constant_values=fill)

    f0 = loud = None
    if c.pitch is not None:
        # One note over the whole duration: constant level unless an envelope was asked for.
        notes = [NoteEvent(float(c.pitch), 0.0, max(0.0, n_samples / sample_rate - (envelope.release if envelope else 0.0)))]
        curves.notes = notes
    if notes:
        level = c.loudness if c.loudness is not None else DEFAULT_LEVEL_DB
        env = envelope or DEFAULT_ENVELOPE
        if c.pitch is not None and envelope is None:
            env = ADSR(0.0, 0.0, 0.0, 0.0)          # a constant note: flat, no release
            notes = [NoteEvent(notes[0].midi, 0.0, math.inf)]
        midi, gain, peak = _note_curves(notes, times, c, env, level)
        # Like the corpus labels: a note's tail more than 60 dB under its peak counts as silent.
        voiced = np.isfinite(midi) & (gain > 10 ** (VOICED_FLOOR_DB / 20))
        midi = midi + c.transpose
        f0 = np.where(voiced, midi_to_hz(np.nan_to_num(midi, nan=69.0)), 0.0)
        if c.loudness is not None or envelope is not None or c.midi_file is not None:
            loud = _amp_to_db(gain * 10 ** (peak / 20))
        curves.notes = [replace(n, midi=n.midi + c.transpose, duration=min(n.duration, n_samples / sample_rate - n.start),
                                level_db=(level if n.level_db is None else n.level_db) if loud is not None else None)
                        for n in curves.notes if n.start < n_samples / sample_rate]
    elif contour_f0 is not None:
        f0 = fit(contour_f0, 0.0)
        f0 = np.where(f0 > 0, f0 * 2 ** (c.transpose / 12), 0.0)
        if contour_loud is not None:
            loud = fit(contour_loud, FLOOR_DB)
            if c.loudness is not None:
                sounding = loud[f0 > 0] if np.any(f0 > 0) else loud
                loud = np.clip(loud + (c.loudness - np.percentile(sounding, 95)), FLOOR_DB, 0.0)
    if loud is None:
        if c.loudness_db is not None:
            loud = fit(c.loudness_db, FLOOR_DB)
        elif envelope is not None:       # pitch free: one envelope over the whole duration
            level = c.loudness if c.loudness is not None else DEFAULT_LEVEL_DB
            held = max(0.0, n_samples / sample_rate - envelope.release)
            loud = _amp_to_db(envelope.gain(times, held) * 10 ** (level / 20))
        elif c.loudness is not None:
            loud = np.full(n_frames, float(c.loudness))
    elif c.loudness_db is not None:
        loud = fit(c.loudness_db, FLOOR_DB)
    if f0 is not None:
        nyquist = sample_rate / 2
        if np.any(f0 >= nyquist):
            raise ValueError(f"Requested pitch reaches {f0.max():.0f} Hz, above the model's Nyquist frequency "
                             f"{nyquist:.0f} Hz; transpose down.")
    curves.f0_hz = None if f0 is None else f0.astype(np.float32)
    curves.loudness_db = None if loud is None else loud.astype(np.float32)
    return curves


def instrument_weights(instrument, names: tuple[str, ...], n_instruments: int):
    """A name, an index, a mix string, a {name: weight} mix or None (free) → (1, n_instruments + 1) weights."""
    import torch

    instrument = resolve_instrument(instrument, tuple(names))
    w = np.zeros((1, n_instruments + 1))          # float64 until normalised: tiny weights stay exact
    if instrument is None:
        w[0, n_instruments] = 1.0
        return torch.from_numpy(w).float()
    mix = instrument if isinstance(instrument, dict) else {instrument: 1.0}
    for key, weight in mix.items():
        if isinstance(key, (int, np.integer)):
            if not 0 <= key < n_instruments:
                raise ValueError(f"Instrument index {key} out of range 0..{n_instruments - 1}.")
            idx = int(key)
        else:
            if key not in names:
                raise ValueError(f"Unknown instrument {key!r}; choose from: {', '.join(names)}.")
            idx = names.index(key)
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"Timbre weight for {key!r} must be a non-negative number; got {weight}.")
        w[0, idx] += float(weight)
    if w.sum() <= 0:
        raise ValueError("Timbre mix weights sum to zero; give at least one instrument a positive weight.")
    return torch.from_numpy(w / w.sum()).float()


def model_inputs(controls: Controls, config) -> "ModelInputs":
    """Controls → the conditioning tensors of a model with this config (the one entry point)."""
    import torch

    from ..generation.inputs import ModelInputs

    curves = requested_curves(controls, config.sample_rate, config.hop_length)
    inputs = ModelInputs(n_samples=curves.n_samples)
    if config.n_instruments:
        inputs.instrument = instrument_weights(controls.instrument, config.instrument_names, config.n_instruments)
    elif controls.instrument is not None:
        raise ValueError("This model has no instrument conditioning; leave the instrument/timbre free.")
    excitation = getattr(config, "excitation_dim", 0)
    if config.local_dim:
        if config.local_dim != LOCAL_DIM:
            raise ValueError(f"This model expects {config.local_dim} local features, not the {LOCAL_DIM} of "
                             "wavenet_core.controls.conditioning; it cannot take these controls.")
        inputs.local_cond = torch.from_numpy(encode_local(curves.f0_hz, curves.loudness_db, curves.n_frames))[None]
    if excitation and curves.f0_hz is not None:
        # The requested pitch as a period too: the model builds sin/cos of the integrated phase from it.
        f0 = np.zeros(curves.n_frames, np.float32)
        f0[: len(curves.f0_hz)] = np.nan_to_num(curves.f0_hz[: curves.n_frames], nan=0.0)
        inputs.f0_hz = torch.from_numpy(f0)[None]
    if not config.local_dim and ((curves.f0_hz is not None and not excitation) or curves.loudness_db is not None):
        raise ValueError("This model has no pitch/loudness conditioning; leave pitch and loudness free.")
    return inputs
