"""An NSynth-style corpus of real sampled instruments, rendered from a General MIDI SoundFont.

``SoundFontCorpus`` sits beside :class:`~wavenet_core.data.corpus.NoteCorpus` and yields the same
:class:`~wavenet_core.data.corpus.Example` labels: single notes and short phrases played by 16
sampled instruments (keyboard, mallet, organ, guitar, bass, bowed strings, brass, reed and pipe),
each only in its natural range inside MIDI 36–84, with velocities (level *and* brightness),
note lengths, detached / legato / slurred articulation, portamento and pitch-bend vibrato.

* **Synthesiser**: TinySoundFont through the ``tinysoundfont`` wheel (self-contained C, no system
  library; installed with ``--no-deps`` because it declares ``pyaudio`` for live playback only).
  It renders at the model's sample rate. Every stroke (one struck key) is rendered in its own pass
  and events fall on a fixed grid of ``block`` samples, so the audio is a pure function of
  (SoundFont bytes, seed, index, sample rate): the same seed gives the same audio.
* **SoundFont**: by default ``TimGM6mb.sf2`` (6 MB), bundled with the ``pretty_midi`` package;
  any GM SoundFont works (``--soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2`` after
  ``apt-get install fluid-soundfont-gm``), or set ``$WAVENET_SOUNDFONT``.
* **Labels**: f0 per frame is exact from the notes — the struck key plus the 14-bit pitch-bend
  value actually sent (glides, slurs, vibrato) — sampled at each frame's centre and set to 0 where
  the frame is quieter than -60 dB (as ``corpus.frame_f0``); loudness is measured from the audio
  (``descriptors.frame_loudness_db``). A SoundFont's own built-in vibrato LFO (a few cents on some
  presets) is not in the label.
* **Velocity**: the synthesiser scales level with velocity; a second-order low-pass whose cutoff
  rises with velocity (from ~3 to 32 times the fundamental) makes soft notes darker, as real
  instruments (and multi-layer sample sets) do.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, lfilter

from ..measure.descriptors import frame_loudness_db
from .corpus import Example, estimate_frame_phase, frame_f0, midi_to_hz

SYNTH_PACKAGE = "tinysoundfont"
SYNTH_PIN = "tinysoundfont==0.3.7"
PITCH_RANGE: tuple[int, int] = (36, 84)
BEND_RANGE = 12.0          # semitones up/down of the pitch wheel (portamento up to an octave)
SILENCE_DB = -60.0
DEBIAN_SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/TimGM6mb.sf2"))


class SoundFontError(ValueError):
    """A missing synthesiser or SoundFont (a ValueError, so the CLI prints it as one line)."""


@dataclass(frozen=True)
class SampledInstrument:
    """One GM instrument: musician's name, GM program (0-based), family, natural MIDI range."""
    name: str
    program: int
    family: str
    low: int
    high: int
    sustained: bool         # bowed / blown / organ: gets vibrato and slurs; struck/plucked ones don't


# Natural ranges (sounding pitch) clipped to MIDI 36–84 (C2–C6).
SOUNDFONT_INSTRUMENTS: tuple[SampledInstrument, ...] = (
    SampledInstrument("piano", 0, "keyboard", 36, 84, False),
    SampledInstrument("electric piano", 4, "keyboard", 40, 84, False),
    SampledInstrument("vibraphone", 11, "mallet", 53, 84, False),        # F3–F6
    SampledInstrument("marimba", 12, "mallet", 45, 84, False),           # A2–C7
    SampledInstrument("reed organ", 20, "organ", 36, 84, True),         # TimGM6mb's Organ 1 sounds an octave low
    SampledInstrument("nylon guitar", 24, "guitar", 40, 79, False),      # E2–G5
    SampledInstrument("electric bass", 33, "bass", 36, 55, False),       # (E1) C2–G3
    SampledInstrument("violin", 40, "bowed strings", 55, 84, True),      # G3–
    SampledInstrument("cello", 42, "bowed strings", 36, 72, True),       # C2–C5
    SampledInstrument("trumpet", 56, "brass", 54, 82, True),             # F#3–Bb5
    SampledInstrument("trombone", 57, "brass", 40, 72, True),            # E2–C5
    SampledInstrument("french horn", 60, "brass", 41, 77, True),         # F2–F5
    SampledInstrument("alto sax", 65, "reed", 49, 80, True),             # Db3–Ab5
    SampledInstrument("clarinet", 71, "reed", 50, 84, True),             # D3–
    SampledInstrument("oboe", 68, "reed", 58, 84, True),                 # Bb3–
    SampledInstrument("flute", 73, "pipe", 60, 84, True),                # C4–
)
INSTRUMENT_NAMES: tuple[str, ...] = tuple(i.name for i in SOUNDFONT_INSTRUMENTS)


# ---- finding the synthesiser and the SoundFont ---------------------------------------------
def default_soundfont() -> Path | None:
    """``$WAVENET_SOUNDFONT``, else pretty_midi's bundled TimGM6mb.sf2, else Debian's FluidR3_GM; None if none."""
    env = os.environ.get("WAVENET_SOUNDFONT")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("pretty_midi")      # find the file without importing the package
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "TimGM6mb.sf2"
            if p.is_file():
                return p
    for p in DEBIAN_SOUNDFONTS:
        if p.is_file():
            return p
    return None


def resolve_soundfont(path: str | os.PathLike | None = None) -> Path:
    """The SoundFont to use, or a one-line SoundFontError saying how to get one."""
    p = Path(path) if path else default_soundfont()
    if p is None:
        raise SoundFontError("no SoundFont found: pip install pretty_midi (it bundles TimGM6mb.sf2; ./studio.sh does this), "
                             "or apt-get install fluid-soundfont-gm and pass --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2")
    if not p.is_file():
        raise SoundFontError(f"{p}: SoundFont not found; pass --soundfont PATH to a GM .sf2 file "
                             "(pip install pretty_midi bundles TimGM6mb.sf2)")
    with open(p, "rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise SoundFontError(f"{p}: not a SoundFont 2 file (no RIFF/sfbk header)")
    return p


def _synth_module():
    if importlib.util.find_spec(SYNTH_PACKAGE) is None:
        raise SoundFontError(f"the SoundFont synthesiser is not installed: .venv/bin/pip install --no-deps {SYNTH_PIN} "
                             "(./studio.sh does this; --no-deps skips pyaudio, which only live playback needs)")
    import tinysoundfont
    return tinysoundfont


# ---- rendering ------------------------------------------------------------------------------
@dataclass
class Stroke:
    """One struck key, possibly slurred through later pitches by the pitch wheel.

    Times are in samples, all multiples of the renderer's block. ``targets`` are
    (sample, semitone offset from ``key``) pairs: from that sample the pitch glides to the
    offset over ``glide`` samples. ``bend0`` is the offset at the onset (portamento start)."""
    key: int
    velocity: int            # 1..127
    on: int                  # note-on sample
    off: int                 # note-off sample
    bend0: float = 0.0
    targets: tuple[tuple[int, float], ...] = ()
    glide: int = 0


def _bend_value(semitones: np.ndarray) -> np.ndarray:
    """Semitone offsets → 14-bit pitch-wheel values (8192 = centre) for ±BEND_RANGE."""
    return np.clip(np.round(8192 + semitones / BEND_RANGE * 8192), 0, 16383).astype(np.int64)


def _bend_semitones(value: np.ndarray) -> np.ndarray:
    return (np.asarray(value, dtype=np.float64) - 8192) / 8192 * BEND_RANGE


class SoundFontRenderer:
    """Renders monophonic lines of strokes through one SoundFont at one sample rate."""

    def __init__(self, soundfont: str | os.PathLike | None = None, sample_rate: int = 16000, block: int = 64):
        self.path = resolve_soundfont(soundfont)
        tsf = _synth_module()
        self.sample_rate, self.block = int(sample_rate), int(block)
        self.synth = tsf.Synth(samplerate=self.sample_rate)
        try:
            self.sfid = self.synth.sfload(str(self.path))
        except Exception as e:  # noqa: BLE001 - the binding raises a bare Exception for bad files
            raise SoundFontError(f"{self.path}: the synthesiser could not load it ({e})") from None
        self._font = self.synth.soundfonts[self.sfid]
        self._gains: dict[int, float] = {}
        self._keys: dict[int, np.ndarray] = {}
        self._font_hash: str | None = None

    @property
    def font_hash(self) -> str:
        """sha256 (24 hex) of the SoundFont's bytes: what a rendering depends on besides the notes."""
        if self._font_hash is None:
            self._font_hash = hashlib.sha256(self.path.read_bytes()).hexdigest()[:24]
        return self._font_hash

    def preset_name(self, program: int) -> str | None:
        return self.synth.sfpreset_name(self.sfid, 0, program)

    def _render_stroke(self, program: int, stroke: Stroke, n: int, vibrato: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One stroke alone → (mono audio from ``stroke.on`` to ``n``, pitch-wheel value per block).

        ``vibrato`` is the clip's vibrato in semitones per block (0 for none)."""
        s, B = self.synth, self.block
        b0, b1 = stroke.on // B, -(-n // B)
        blocks = np.arange(b0, b1)
        t = blocks * B
        offset = np.full(len(blocks), stroke.bend0)
        cur = stroke.bend0
        for at, target in ((stroke.on, 0.0),) + tuple(stroke.targets):
            # glide from the current offset to ``target`` over stroke.glide samples, starting at ``at``
            g = max(stroke.glide, 1) if (at > stroke.on or stroke.bend0 != 0.0) else 1
            ramp = np.clip((t - at) / g, 0.0, 1.0)
            offset = np.where(t >= at, cur + (target - cur) * ramp, offset)
            cur = target
        wheel = _bend_value(offset + vibrato[b0:b1])
        s.program_select(0, self.sfid, 0, program)
        s.pitchbend_range(0, BEND_RANGE)
        s.pitchbend(0, int(wheel[0]))
        s.noteon(0, stroke.key, int(stroke.velocity))
        out = np.zeros((len(blocks) * B, 2), dtype=np.float32)
        # render in chunks between events (a wheel change or the note-off), all on the block grid
        events = {int(i) for i in np.flatnonzero(np.diff(wheel)) + 1}
        off_block = (stroke.off // B) - b0
        events.add(off_block)
        edges = sorted(e for e in events if 0 < e < len(blocks)) + [len(blocks)]
        pos = 0
        for e in edges:
            if e <= pos:
                continue
            if pos == off_block:
                s.noteoff(0, stroke.key)
            if pos > 0 and wheel[pos] != wheel[pos - 1]:
                s.pitchbend(0, int(wheel[pos]))
            buf = s.generate_simple((e - pos) * B)
            out[pos * B: e * B] = np.frombuffer(buf, dtype=np.float32).reshape(-1, 2)
            pos = e
        # Reset ends voices with a 10 ms release rather than at once: render past it, so no tail
        # of this stroke leaks into the next one and every stroke starts from the same state.
        self._font.reset()
        s.generate_simple(max(self.block, self.sample_rate // 10))
        mono = out.mean(axis=1)[: n - stroke.on]
        return mono.astype(np.float64), wheel

    def _brighten(self, audio: np.ndarray, key: int, velocity: int) -> np.ndarray:
        """Velocity → brightness: 2nd-order low-pass at f0·2^(0.5 + 4.5·v), v = velocity/127, i.e. from
        1.4·f0 (v → 0) to 32·f0 (v = 1); none where that is above 0.45·sr."""
        cutoff = float(midi_to_hz(key)) * 2.0 ** (0.5 + 4.5 * velocity / 127.0)
        if cutoff >= 0.45 * self.sample_rate:
            return audio
        b, a = butter(2, cutoff / (self.sample_rate / 2))
        return lfilter(b, a, audio)

    def _fundamental_ratio(self, x: np.ndarray, key: int) -> float:
        """|H1| / max(|H2|, |H3|, |H4|) of a note's steady part (harmonics below Nyquist)."""
        seg = x[len(x) // 8:]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 4 * len(seg)))
        freqs = np.fft.rfftfreq(4 * len(seg), 1.0 / self.sample_rate)
        f0 = float(midi_to_hz(key))
        mags = []
        for k in (1, 2, 3, 4):
            sel = (freqs > 0.97 * k * f0) & (freqs < 1.03 * k * f0)
            mags.append(float(spec[sel].max()) if sel.any() and k * f0 < 0.5 * self.sample_rate else 0.0)
        return mags[0] / max(max(mags[1:]), 1e-12)

    def playable_keys(self, inst: SampledInstrument) -> np.ndarray:
        """Keys of the instrument's natural range that sound at velocities 20, 64 and 127 (some
        SoundFonts have holes: TimGM6mb's alto sax is silent on E4) and whose fundamental is not
        more than 18 dB below a higher harmonic (TimGM6mb's oboe on D5–F#5: pitch trackers hear
        those an octave up, so their labels would disagree with any measurement); sorted int array."""
        if inst.program not in self._keys:
            n = (self.sample_rate // 4 // self.block) * self.block
            z = np.zeros(-(-n // self.block))
            peaks, weak = {}, set()
            for key in range(inst.low, inst.high + 1):
                renders = {vel: self._render_stroke(inst.program, Stroke(key, vel, 0, n), n, z)[0] for vel in (20, 64, 127)}
                peaks[key] = min(float(np.max(np.abs(x))) for x in renders.values())
                if self._fundamental_ratio(renders[64], key) < 0.125:
                    weak.add(key)
            floor = 0.05 * float(np.median(list(peaks.values())))
            keys = np.array([k for k, p in peaks.items() if p > max(floor, 1e-5) and k not in weak], dtype=np.int64)
            if keys.size == 0:
                raise SoundFontError(f"{self.path}: program {inst.program} ({inst.name}) renders silence; use a General MIDI SoundFont")
            self._keys[inst.program] = keys
        return self._keys[inst.program]

    def gain(self, inst: SampledInstrument) -> float:
        """Fixed per-instrument gain: a mid-range key at velocity 127 peaks at 0.5 (so levels are
        comparable across instruments while velocity still sets the level within one)."""
        if inst.program not in self._gains:
            keys = self.playable_keys(inst)
            key = int(keys[len(keys) // 2])
            n = (self.sample_rate * 3 // 4 // self.block) * self.block
            st = Stroke(key, 127, 0, n * 2 // 3)
            x, _ = self._render_stroke(inst.program, st, n, np.zeros(-(-n // self.block)))
            peak = float(np.max(np.abs(x)))
            if peak <= 1e-6:
                raise SoundFontError(f"{self.path}: program {inst.program} ({inst.name}) renders silence; use a General MIDI SoundFont")
            self._gains[inst.program] = 0.5 / peak
        return self._gains[inst.program]

    def render(self, inst: SampledInstrument, strokes: list[Stroke], n: int,
               vibrato: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Render strokes (a monophonic line; release tails may overlap the next stroke).

        Returns (audio float32 (n,) in [-1, 1], f0 per sample in Hz: the pitch of the latest
        stroke begun, including its bends, 0 before the first)."""
        B = self.block
        nb = -(-n // B)
        vib = np.zeros(nb) if vibrato is None else vibrato
        audio = np.zeros(n)
        midi = np.zeros(nb * B)
        sounding = np.zeros(nb * B, dtype=bool)
        g = self.gain(inst)
        for j, st in enumerate(strokes):
            if st.on >= n:
                break
            x, wheel = self._render_stroke(inst.program, st, n, vib)
            audio[st.on:] += g * self._brighten(x, st.key, st.velocity)
            until = strokes[j + 1].on if j + 1 < len(strokes) else nb * B
            lab = np.repeat(st.key + _bend_semitones(wheel), B)        # per sample from st.on (block aligned)
            midi[st.on:until] = lab[: until - st.on]
            sounding[st.on:until] = True
        f0 = np.where(sounding, midi_to_hz(midi), 0.0)[:n]
        return np.clip(audio, -1.0, 1.0).astype(np.float32), f0


# ---- the corpus -----------------------------------------------------------------------------
class SoundFontCorpus:
    """Deterministic NSynth-style corpus: sampled instruments, single notes and short phrases.

    ``example(i)`` is a pure function of (SoundFont, seed, i, sample_rate, hop_length, seconds):
    instrument ``i % len(instruments)``; audio float32 mono (samples,); f0 (frames,) Hz with 0
    where silent; loudness (frames,) dB. ``instrument_names`` are the label names."""

    def __init__(self, soundfont: str | os.PathLike | None = None, sample_rate: int = 16000, hop_length: int = 160,
                 seed: int = 0, size: int = 600, seconds: float = 1.5, phrase_share: float = 0.4,
                 instruments: tuple[str, ...] | None = None, block: int = 64):
        by_name = {i.name: i for i in SOUNDFONT_INSTRUMENTS}
        names = tuple(instruments) if instruments else INSTRUMENT_NAMES
        unknown = [x for x in names if x not in by_name]
        if unknown:
            raise ValueError(f"unknown instrument(s) {', '.join(unknown)}; choose from: {', '.join(INSTRUMENT_NAMES)}")
        self.instruments = tuple(by_name[x] for x in names)
        self.instrument_names = names
        self.renderer = SoundFontRenderer(soundfont, sample_rate, block)
        self.sample_rate, self.hop_length, self.seed, self.size = sample_rate, hop_length, seed, size
        self.seconds, self.phrase_share, self.block = seconds, phrase_share, block

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        return (self.example(i) for i in range(self.size))

    def _grid(self, seconds: float) -> int:
        return int(round(seconds * self.sample_rate / self.block)) * self.block

    def plan(self, i: int) -> tuple[SampledInstrument, str, list[Stroke], float, float]:
        """The notes of example ``i``: (instrument, kind, strokes, vibrato cents, vibrato Hz)."""
        rng = np.random.default_rng([self.seed, i, 7])
        inst = self.instruments[i % len(self.instruments)]
        keys = self.renderer.playable_keys(inst)
        lo, hi = int(keys[0]), int(keys[-1])

        def snap(k: int) -> int:           # the nearest playable key (ties go down)
            return int(keys[np.argmin(np.abs(keys - k))])
        n = int(round(self.seconds * self.sample_rate))
        strokes: list[Stroke] = []
        if rng.random() < self.phrase_share:
            kind = "phrase"
            beat = float(rng.choice([0.12, 0.16, 0.2, 0.25]))
            base_vel = int(rng.integers(40, 120))
            legato_p = float(rng.choice([0.0, 0.5, 0.9]))       # share of notes joined to the next
            slur_p = 0.4 if inst.sustained else 0.0             # of those, joined by the wheel (no re-attack)
            glide = self._grid(float(rng.choice([0.0, 0.03, 0.06])))
            key = int(rng.choice(keys))
            t = self._grid(float(rng.uniform(0.0, 0.05)))
            prev: Stroke | None = None
            joined, prev_pitch = False, key
            while t < n - self._grid(0.1):
                slot = self._grid(beat * float(rng.choice([1, 1, 2, 3])))
                if prev is not None and not joined and rng.random() < 0.12:     # rest
                    t += self._grid(beat)
                    continue
                vel = int(np.clip(base_vel + rng.integers(-20, 21), 20, 127))
                if prev is not None and joined and slur_p and abs(key - prev.key) <= 5 and rng.random() < slur_p:
                    # slur: the sounding stroke bends to the new pitch, no new attack
                    prev.targets = prev.targets + ((t, float(key - prev.key)),)
                    prev.glide = max(prev.glide, self._grid(0.03))
                    prev.off = min(n, t + slot)
                else:
                    bend0 = float(np.clip(prev_pitch - key, -BEND_RANGE, BEND_RANGE)) if (prev is not None and joined and glide) else 0.0
                    prev = Stroke(key, vel, t, min(n, t + slot), bend0=bend0, glide=glide)
                    strokes.append(prev)
                joined = rng.random() < legato_p
                if not joined:                                   # detached: release before the next slot
                    prev.off = min(prev.off, t + max(self.block, self._grid(slot / self.sample_rate * float(rng.uniform(0.5, 0.85)))))
                prev_pitch = key
                t += slot
                step = int(rng.choice([-5, -4, -3, -2, -2, -1, -1, 1, 1, 2, 2, 3, 4, 5, 7, -7, 12, -12]))
                key = key + step
                if key < lo or key > hi:
                    key = key - 2 * step
                key = snap(int(np.clip(key, lo, hi)))
            vib_cents = float(rng.choice([0.0, 0.0, 15.0, 30.0, 50.0])) if inst.sustained else 0.0
        else:
            kind = "note"
            start = self._grid(float(rng.uniform(0.0, 0.1)))
            room = self.seconds - start / self.sample_rate - 0.1
            dur = self._grid(float(rng.choice([rng.uniform(0.1, 0.3), rng.uniform(min(0.6, 0.5 * room), max(room, 0.2))])))
            strokes.append(Stroke(int(rng.choice(keys)), int(rng.integers(20, 128)), start,
                                  min(n, start + max(self.block, dur))))
            vib_cents = float(rng.choice([0.0, 0.0, 20.0, 35.0])) if inst.sustained else 0.0
        return inst, kind, strokes, vib_cents, float(rng.uniform(4.5, 6.5))

    def _vibrato(self, strokes: list[Stroke], cents: float, hz: float, n: int) -> np.ndarray:
        """Vibrato in semitones per block; it fades in over 0.2 s starting 0.15 s after each attack."""
        B = self.block
        nb = -(-n // B)
        if cents <= 0 or not strokes:
            return np.zeros(nb)
        t = np.arange(nb) * B
        since = np.full(nb, -1.0)
        for st in strokes:
            since = np.where(t >= st.on, (t - st.on) / self.sample_rate, since)
        depth = np.clip((since - 0.15) / 0.2, 0.0, 1.0) * cents / 100.0
        return depth * np.sin(2 * np.pi * hz * t / self.sample_rate)

    def example(self, i: int) -> Example:
        if not 0 <= i < self.size:
            raise IndexError(f"corpus index {i} out of range 0..{self.size - 1}")
        inst, kind, strokes, vib_cents, vib_hz = self.plan(i)
        n = int(round(self.seconds * self.sample_rate))
        audio, f0_samples = self.renderer.render(inst, strokes, n, self._vibrato(strokes, vib_cents, vib_hz, n))
        loud = frame_loudness_db(audio, self.hop_length)
        f0 = frame_f0(f0_samples, loud, self.hop_length, silence_db=SILENCE_DB)
        # The samples' phase is unknown: estimate the fundamental's, so training can put the
        # excitation in phase with the audio (a random phase teaches the model to ignore it).
        return Example(audio=audio, sample_rate=self.sample_rate, hop_length=self.hop_length,
                       instrument=self.instruments.index(inst), f0=f0, loudness=loud,
                       phase=estimate_frame_phase(audio, f0, self.hop_length, self.sample_rate),
                       name=f"{kind}-{i:04d}-{inst.name.replace(' ', '_')}")
