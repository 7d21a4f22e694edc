"""The built-in corpus: deterministic synthetic instruments with exact labels.

Every instrument is driven by one f0 curve (Hz per sample) integrated into a phase, so glides
and vibrato are exact and the per-frame f0 label is the true one. Six families with clearly
different spectra and envelopes:

* ``pluck``    – plucked string: harmonics 1/k whose decay speeds up with k (brightness falls);
* ``bell``     – FM bell, carrier:modulator 1:3 (harmonic), modulation index decaying;
* ``saw``      – band-limited sawtooth through a sweeping low-pass filter (brass/synth-like);
* ``clarinet`` – odd harmonics (square-like) with a soft attack;
* ``organ``    – additive drawbars (1, 2, 3, 4, 6, 8), flat envelope, instant attack;
* ``flute``    – near-sine with breath noise following the envelope.

``NoteCorpus(seed).example(i)`` is a pure function of (seed, i, sample_rate): the same seed
always gives the same audio.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Hz <-> MIDI live in measure.descriptors (one definition each). hz_to_midi is re-exported only for
# tests/test_soundfont.py, which still imports it from here; import it from measure.descriptors.
from ..measure.descriptors import frame_loudness_db, hz_to_midi, midi_to_hz  # noqa: F401

INSTRUMENTS: tuple[str, ...] = ("pluck", "bell", "saw", "clarinet", "organ", "flute")
PITCH_RANGE: tuple[int, int] = (36, 84)        # MIDI C2..C6 inclusive: the studio's whole range
SILENCE_DB = -80.0


@dataclass
class Example:
    """One clip with its labels; ``f0`` and ``loudness`` are per frame of ``hop_length`` samples."""
    audio: np.ndarray            # float32 mono in [-1, 1]
    sample_rate: int
    hop_length: int
    instrument: int              # index into INSTRUMENTS, or -1 when unknown
    f0: np.ndarray               # Hz per frame, 0 where silent
    loudness: np.ndarray         # dB per frame
    name: str = ""
    phase: np.ndarray | None = None   # radians at each frame's first sample, where the synthesis knows it


# ---- synthesis ----------------------------------------------------------------------------
def _additive(phase: np.ndarray, f0: np.ndarray, sr: int, amp_of_harmonic) -> np.ndarray:
    """Sum of sin(k·phase)·amp_k(t) over harmonics below Nyquist (band-limited by construction)."""
    out = np.zeros_like(phase)
    fmax = float(f0.max()) if f0.size else 0.0
    if fmax <= 0:
        return out
    for k in range(1, int(0.45 * sr / fmax) + 1):
        a = amp_of_harmonic(k)
        if np.isscalar(a) and a == 0:
            continue
        out += a * np.sin(k * phase)
    return out


def synthesize(instrument: str, f0: np.ndarray, gate: np.ndarray, note_time: np.ndarray, sr: int,
               rng: np.random.Generator) -> np.ndarray:
    """Render one instrument for a per-sample f0 (Hz), gate (0..1 amplitude envelope of the
    notes' dynamics) and time since the current note's onset (s). Returns float64, peak ≤ ~1."""
    phase = 2 * np.pi * np.cumsum(f0) / sr
    t = note_time
    if instrument == "pluck":
        x = _additive(phase, f0, sr, lambda k: np.exp(-t * (2.0 + 1.2 * k)) / k)
        env = np.minimum(1.0, t / 0.003)
        x = x * env
    elif instrument == "bell":
        index = 3.0 * np.exp(-t * 3.0) + 0.3
        x = np.sin(phase + index * np.sin(3.0 * phase)) * np.exp(-t * 1.5) * np.minimum(1.0, t / 0.002)
    elif instrument == "saw":
        cutoff = f0 * (1.5 + 6.0 * np.exp(-t * 4.0))
        x = _additive(phase, f0, sr, lambda k: (1.0 / k) / np.sqrt(1.0 + (k * f0 / cutoff) ** 4))
        x = x * np.minimum(1.0, t / 0.02)
    elif instrument == "clarinet":
        x = _additive(phase, f0, sr, lambda k: (1.0 / k if k % 2 else 0.08 / k) * np.exp(-0.08 * k))
        x = x * np.minimum(1.0, t / 0.04)
    elif instrument == "organ":
        draw = {1: 1.0, 2: 0.7, 3: 0.5, 4: 0.4, 6: 0.25, 8: 0.2}
        x = _additive(phase, f0, sr, lambda k: draw.get(k, 0))
        x = x * np.minimum(1.0, t / 0.005)
    elif instrument == "flute":
        x = np.sin(phase) + 0.12 * np.sin(2 * phase) + 0.04 * np.sin(3 * phase)
        noise = rng.standard_normal(len(phase))
        # breath: noise smoothed to a band roughly around the note's upper partials
        kernel = np.hanning(9)
        noise = np.convolve(noise, kernel / kernel.sum(), mode="same") - np.convolve(noise, np.ones(41) / 41, mode="same")
        x = (x + 0.5 * noise) * np.minimum(1.0, t / 0.06)
    else:
        raise ValueError(f"Unknown instrument {instrument!r}; choose one of: {', '.join(INSTRUMENTS)}.")
    peak = np.max(np.abs(x)) if x.size else 0.0
    return (x / peak if peak > 0 else x) * gate


@dataclass
class Note:
    midi: float
    start: float        # s
    duration: float     # s (sounding, before release)
    velocity_db: float  # level relative to full scale


def render_notes(instrument: str, notes: list[Note], seconds: float, sr: int, rng: np.random.Generator,
                 glide: float = 0.0, vibrato_cents: float = 0.0, vibrato_hz: float = 5.5,
                 release: float = 0.08, return_phase: bool = False):
    """Render a monophonic line; returns (audio float32, per-sample f0 in Hz with 0 = silent), and
    with ``return_phase`` the per-sample phase (radians) every harmonic of the synthesis follows."""
    n = int(round(seconds * sr))
    midi = np.zeros(n)
    gate = np.zeros(n)
    note_time = np.zeros(n)
    sounding = np.zeros(n, dtype=bool)
    times = np.arange(n) / sr
    prev_midi = None
    for note in notes:
        a, b = int(note.start * sr), min(n, int((note.start + note.duration + release) * sr))
        if a >= n:
            break
        seg_t = times[a:b] - note.start
        m = np.full(b - a, note.midi, dtype=np.float64)
        if glide > 0 and prev_midi is not None:
            ramp = np.clip(seg_t / glide, 0, 1)
            m = prev_midi + (note.midi - prev_midi) * ramp
        if vibrato_cents > 0:
            onset = np.clip((seg_t - 0.15) / 0.2, 0, 1)  # vibrato fades in after the attack
            m = m + onset * (vibrato_cents / 100.0) * np.sin(2 * np.pi * vibrato_hz * seg_t)
        level = 10 ** (note.velocity_db / 20)
        off = np.clip(1 - (seg_t - note.duration) / release, 0, 1)
        midi[a:b] = m
        gate[a:b] = level * off
        note_time[a:b] = seg_t
        sounding[a:b] = True
        prev_midi = note.midi
    f0 = np.where(sounding, midi_to_hz(midi), 0.0)
    # keep the phase running through rests at the last pitch so nothing clicks
    f0_for_phase = np.where(sounding, f0, midi_to_hz(60))
    audio = synthesize(instrument, f0_for_phase, gate, note_time, sr, rng)
    if return_phase:
        return np.clip(audio, -1, 1).astype(np.float32), f0, 2 * np.pi * np.cumsum(f0_for_phase) / sr
    return np.clip(audio, -1, 1).astype(np.float32), f0


def frame_f0(f0_per_sample: np.ndarray, loudness_db: np.ndarray, hop: int, silence_db: float = -60.0) -> np.ndarray:
    """Per-frame f0 label: the sample-level f0 at each frame's centre, 0 where the frame is silent."""
    n_frames = len(loudness_db)
    centres = np.minimum(np.arange(n_frames) * hop + hop // 2, len(f0_per_sample) - 1)
    f0 = f0_per_sample[centres] if len(f0_per_sample) else np.zeros(n_frames)
    return np.where(loudness_db > silence_db, f0, 0.0).astype(np.float32)


def frame_phase(phase_per_sample: np.ndarray, n_frames: int, hop: int) -> np.ndarray:
    """The synthesis phase at each frame's first sample (radians in [0, 2π)), (n_frames,) float64:
    what lets training put the model's excitation in phase with the audio it must predict."""
    idx = np.minimum(np.arange(n_frames) * hop, len(phase_per_sample) - 1)
    return np.mod(phase_per_sample[idx], 2 * np.pi) if len(phase_per_sample) else np.zeros(n_frames)


def estimate_frame_phase(audio: np.ndarray, f0_frames: np.ndarray, hop: int, sr: int,
                         periods: int = 4) -> np.ndarray:
    """The fundamental's phase at each frame's first sample, estimated from the audio, (n_frames,)
    radians in [0, 2π): for audio whose synthesis phase is unknown (sampled instruments, recordings).

    For a voiced frame the audio around the frame start is projected on exp(-iθ), θ = 2π·f0·(n − start)/sr,
    under a Hann window of ``periods`` periods — whose spectral zeros fall on every other harmonic, so
    the projection sees the fundamental alone. x ≈ A·sin(φ + θ) gives projection ∝ e^{iφ}/(2i), so
    φ = arg(projection) + π/2. Unvoiced frames carry the phase the previous frame's f0 runs on to,
    so a training window's excitation stays continuous. Where the fundamental is missing the phase is
    noise — no worse than the random phase used otherwise."""
    x = np.asarray(audio, dtype=np.float64)
    f0 = np.asarray(f0_frames, dtype=np.float64)
    out = np.zeros(len(f0))
    prev_phase, prev_f0 = 0.0, 0.0
    for t, hz in enumerate(f0):
        start = t * hop
        if hz > 0 and hz < sr / 2:
            half = int(np.ceil(periods * sr / hz / 2))
            lo, hi = max(0, start - half), min(len(x), start + half)
            n = np.arange(lo, hi)
            if hi - lo >= 8:
                w = np.hanning(2 * half)[n - (start - half)]
                c = np.sum(w * x[lo:hi] * np.exp(-2j * np.pi * hz * (n - start) / sr))
                if abs(c) > 0:
                    out[t] = np.angle(c) + np.pi / 2
                    prev_phase, prev_f0 = out[t], hz
                    continue
        out[t] = prev_phase + 2 * np.pi * prev_f0 * hop / sr if t else 0.0
        prev_phase = out[t]
    return np.mod(out, 2 * np.pi)


class NoteCorpus:
    """Deterministic corpus of single notes and short phrases for all instruments."""

    def __init__(self, sample_rate: int = 16000, hop_length: int = 160, seed: int = 0,
                 size: int = 600, seconds: float = 1.5, phrase_share: float = 0.4,
                 instruments: tuple[str, ...] = INSTRUMENTS, pitch_range: tuple[int, int] = PITCH_RANGE):
        self.sample_rate, self.hop_length, self.seed, self.size = sample_rate, hop_length, seed, size
        self.seconds, self.phrase_share = seconds, phrase_share
        self.instruments, self.pitch_range = tuple(instruments), pitch_range

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        return (self.example(i) for i in range(self.size))

    def example(self, i: int) -> Example:
        if not 0 <= i < self.size:
            raise IndexError(f"corpus index {i} out of range 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, i])
        inst_id = i % len(self.instruments)
        instrument = self.instruments[inst_id]
        lo, hi = self.pitch_range
        sr = self.sample_rate
        if rng.random() < self.phrase_share:
            notes, t = [], 0.0
            beat = rng.choice([0.15, 0.2, 0.25])
            while t < self.seconds - 0.1:
                dur = beat * rng.choice([1, 1, 2, 3])
                if notes and rng.random() < 0.15:          # rest
                    t += beat
                    continue
                notes.append(Note(float(rng.integers(lo, hi + 1)), t, dur * 0.9, float(rng.uniform(-24, -3))))
                t += dur
            glide = float(rng.choice([0.0, 0.0, 0.04, 0.08]))
            vib = float(rng.choice([0.0, 0.0, 15.0, 30.0]))
            kind = "phrase"
        else:
            start = float(rng.uniform(0.0, 0.1))
            room = self.seconds - start - 0.1   # short clips (tests) get proportionally short notes
            notes = [Note(float(rng.integers(lo, hi + 1)), start, float(rng.uniform(min(0.6, 0.5 * room), room)),
                          float(rng.uniform(-24, -3)))]
            glide, vib = 0.0, float(rng.choice([0.0, 0.0, 0.0, 20.0]))
            kind = "note"
        audio, f0_samples, phase = render_notes(instrument, notes, self.seconds, sr, rng, glide=glide,
                                                vibrato_cents=vib, return_phase=True)
        loud = frame_loudness_db(audio, self.hop_length)
        return Example(audio=audio, sample_rate=sr, hop_length=self.hop_length, instrument=inst_id,
                       f0=frame_f0(f0_samples, loud, self.hop_length), loudness=loud, name=f"{kind}-{i:04d}-{instrument}",
                       phase=frame_phase(phase, len(loud), self.hop_length))
