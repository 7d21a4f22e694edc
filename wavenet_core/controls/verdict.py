"""Did a result do what was asked? Asked (``Controls``) vs measured (``descriptors``) → a verdict.

One judgement per requested property, in plain words, with one concrete next step when something
was missed. The studio renders it above the player, ``wavenet generate --json`` prints it, and
notebooks can show ``judge(...).text()``:

* **pitch** — per note (a held note, a melody, a MIDI file): the frame-wise median of the pitch
  track (``descriptors.pitch_track``) over the note's sustained part, within ``PITCH_CENTS`` (50
  cents) of the note asked for; for a recording (or any f0 contour): the share of its voiced
  frames the result followed within 50 cents, at least ``FOLLOW_SHARE``;
* **level** — the median over the requested sounding frames of (measured − requested) frame
  level (``descriptors.frame_loudness_db``), within ``LEVEL_DB`` (3 dB);
* **sounding time** — the share of the requested notes' duration in which the result actually
  sounds, at least ``SOUNDING_SHARE`` (90 %);
* **timbre** — a single instrument asked for, named by the timbre classifier the sampler and the
  evaluation use (``measure.timbre``, fitted by ``sampling.sampler_classifier``); mixes and instruments the classifier does not
  know are reported as not judged.

Nothing here knows about Gradio or the command line: ``judge`` returns a ``Verdict`` (a JSON-ready
``to_dict()``, a one-line ``headline``, ``text()`` for terminals).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .conditioning import Controls, Curves, parse_note, requested_curves
from ..measure.descriptors import SOUNDING_DB, default_hop, frame_loudness_db, hz_to_midi, midi_to_hz, pitch_track

PITCH_CENTS = 50.0           # a note is in tune within this many cents
LEVEL_DB = 3.0               # the level is met within this many dB
SOUNDING_SHARE = 0.9         # share of the asked notes' duration that must sound
FOLLOW_SHARE = 0.9           # share of a recording's voiced frames that must be followed within PITCH_CENTS
MIN_VOICED = 0.5             # a note needs a pitch in at least half of its sustained frames
SHIPPED_RANGE = (48, 72)     # the notes the shipped models learned (the corpus's range when they were trained)
TIMBRE_MIN_SECONDS = 0.5     # notes shorter than this are not classified (the classifier learned 1 s notes)
STRONGER = 2.0               # the conditioning strength suggested when the level or timbre is missed

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


# ---- note names -------------------------------------------------------------------------------
def note_name(midi: float, cents: bool = False) -> str:
    """69 → 'A4'; with ``cents``, 69.3 → 'A4 +30¢' (the nearest note and how far off it is)."""
    m = int(round(float(midi)))
    name = f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"
    c = int(round(100 * (float(midi) - m)))
    return f"{name} {c:+d}¢" if cents and c else name


def note_label(midi: float | None) -> str:
    """69 → 'A4 (69.0)', 69.31 → 'A4 +31¢ (69.31)': the note name beside the MIDI number."""
    if midi is None or not math.isfinite(float(midi)):
        return "no pitch"
    v = float(midi)
    number = f"{v:.1f}" if abs(v - round(v, 1)) < 5e-3 else f"{v:.2f}"
    return f"{note_name(v, cents=True)} ({number})"


def parse_pitch(value) -> float:
    """A typed pitch → MIDI: a note name ('A4', 'F#3', 'Bb2'), a MIDI number (60, '60.5')."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
        if not (math.isfinite(v) and 0 <= v <= 127):
            raise ValueError(f"pitch {value!r} is outside MIDI 0..127; write a note like A4 or a number like 69")
        return v
    if not isinstance(value, str) or not value.strip():
        raise ValueError("the pitch is empty; write a note like A4, F#3 or a MIDI number like 69")
    return parse_note(value.strip())


# ---- the verdict ------------------------------------------------------------------------------
@dataclass
class NoteCheck:
    """One asked note: where it is, what was measured over its sustained part, and whether it is in tune."""
    index: int
    asked: float                    # MIDI
    start: float                    # s
    duration: float                 # s
    measured: float | None          # MIDI, frame-wise median over the sustained part; None = no pitch found
    cents: float | None
    voiced_share: float
    met: bool

    def to_dict(self) -> dict:
        return {"index": self.index, "asked": self.asked, "asked_name": note_name(self.asked), "start": round(self.start, 4),
                "duration": round(self.duration, 4), "measured": self.measured,
                "measured_name": None if self.measured is None else note_name(self.measured, cents=True),
                "cents": None if self.cents is None else round(self.cents, 1),
                "voiced_share": round(self.voiced_share, 3), "met": self.met}

    def row(self) -> list:
        """[#, asked, measured, cents off, met] for a table."""
        cents = "—" if self.cents is None else f"{round(self.cents) + 0:+d}"
        return [self.index + 1, note_label(self.asked), note_label(self.measured), cents, "yes" if self.met else "no"]


@dataclass
class Check:
    """One requested property: met (True/False) or not judged (None), in words, with advice when missed."""
    name: str                       # "pitch", "level", "sounding time", "timbre"
    met: bool | None
    asked: str
    measured: str
    words: str
    advice: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "met": self.met, "asked": self.asked, "measured": self.measured,
                "words": self.words, "advice": self.advice}


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    notes: list[NoteCheck] = field(default_factory=list)
    followed_share: float | None = None      # recordings: share of voiced frames followed within 50 cents
    next_step: str | None = None

    @property
    def judged(self) -> list[Check]:
        return [c for c in self.checks if c.met is not None]

    @property
    def met(self) -> bool | None:
        """True when every judged property was met, False when one was missed, None when nothing was judged."""
        judged = self.judged
        return None if not judged else all(c.met for c in judged)

    @property
    def missed(self) -> list[Check]:
        return [c for c in self.checks if c.met is False]

    @property
    def headline(self) -> str:
        if self.met is None:
            return "Nothing was asked for that can be judged (pitch, level, timbre and length were left free)."
        if self.met:
            return "Everything asked for was met: " + ", ".join(c.name for c in self.judged) + "."
        return "Missed: " + "; ".join(c.words for c in self.missed) + "."

    def lines(self) -> list[str]:
        """One plain line per property (✓ met, ✗ missed, – not judged)."""
        mark = {True: "✓", False: "✗", None: "–"}
        return [f"{mark[c.met]} {c.name}: {c.words}" for c in self.checks]

    def text(self) -> str:
        out = [self.headline, *self.lines()]
        if self.next_step:
            out.append(f"Next step: {self.next_step}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {"met": self.met, "headline": self.headline, "next_step": self.next_step,
                "checks": [c.to_dict() for c in self.checks], "notes": [n.to_dict() for n in self.notes],
                "followed_share": None if self.followed_share is None else round(self.followed_share, 4),
                "tolerances": {"pitch_cents": PITCH_CENTS, "level_db": LEVEL_DB, "sounding_share": SOUNDING_SHARE,
                               "follow_share": FOLLOW_SHARE}}


# ---- helpers ----------------------------------------------------------------------------------
def known_pitch_range(model) -> tuple[float, float] | None:
    """The notes a model learned, from its training metadata when recorded (``pitch_range``), else the
    shipped models' range for corpus-trained models; None when unknown (trained on your own audio)."""
    info = getattr(model, "training_info", None) or {}
    tc = info.get("train_config") or {}
    for where in (info, tc):
        rng = where.get("pitch_range")
        if isinstance(rng, (list, tuple)) and len(rng) == 2:
            return float(rng[0]), float(rng[1])
    if tc.get("data", "corpus") == "corpus":
        return float(SHIPPED_RANGE[0]), float(SHIPPED_RANGE[1])
    return None


def _sustained(times: np.ndarray, start: float, duration: float, glide: float) -> np.ndarray:
    """Frames of a note's sustained part: past its attack (and glide), before its end."""
    lead = min(max(0.05, glide, 0.1 * duration), 0.4 * duration)
    tail = min(max(0.02, 0.1 * duration), 0.3 * duration)
    sel = (times >= start + lead) & (times < start + duration - tail)
    if not sel.any():                       # a very short note: its middle frame
        sel = np.zeros(len(times), dtype=bool)
        mid = int(np.argmin(np.abs(times - (start + duration / 2))))
        sel[mid] = True
    return sel


def _fmt_range(rng: tuple[float, float]) -> str:
    return f"{note_name(rng[0])}–{note_name(rng[1])}"


def _single_instrument(instrument, names: tuple[str, ...]) -> str | None:
    """The one instrument asked for (a name, an index, or a mix that is all one instrument), else None."""
    if isinstance(instrument, str) and instrument in names:
        return instrument
    if isinstance(instrument, (int, np.integer)) and 0 <= int(instrument) < len(names):
        return names[int(instrument)]
    if isinstance(instrument, str) and any(ch in instrument for ch in "=,;"):
        from .conditioning import parse_timbre
        try:
            instrument = parse_timbre(instrument, names or None)
        except ValueError:
            return None
    if isinstance(instrument, dict) and instrument:
        total = sum(float(w) for w in instrument.values())
        top, w = max(instrument.items(), key=lambda kv: float(kv[1]))
        if total > 0 and float(w) / total > 0.999 and str(top) in names:
            return str(top)
    return None


def _classify(audio: np.ndarray, names: tuple[str, ...], sample_rate: int) -> str | None:
    """The instrument the sampler's timbre classifier hears, or None when it cannot be built for these names."""
    from .sampling.sampler import sampler_classifier
    try:
        return sampler_classifier(names, sample_rate).predict(audio)
    except (ValueError, KeyError, IndexError):      # instruments the corpus cannot render
        return None


def _heard_timbre(audio: np.ndarray, notes: list, names: tuple[str, ...], sample_rate: int) -> tuple[str | None, str]:
    """(instrument heard, how): the whole clip for one note or none, else a vote over the notes long
    enough for the classifier (fitted on 1-second notes, it mistakes short ones); None when it cannot tell."""
    if len(notes) <= 1:
        if len(audio) < TIMBRE_MIN_SECONDS * sample_rate:
            return None, f"too short to judge (under {TIMBRE_MIN_SECONDS:g} s)"
        return _classify(audio, names, sample_rate), ""
    long = [n for n in notes if n.duration >= TIMBRE_MIN_SECONDS]
    if not long:
        return None, f"not judged: no note lasts {TIMBRE_MIN_SECONDS:g} s, too short for the timbre classifier"
    votes: dict[str, int] = {}
    for n in long:
        a = int(n.start * sample_rate)
        b = min(len(audio), int((n.start + n.duration + 0.05) * sample_rate))
        heard = _classify(audio[a:b], names, sample_rate)
        if heard is None:
            return None, ""
        votes[heard] = votes.get(heard, 0) + 1
    best = max(votes.items(), key=lambda kv: kv[1])[0]
    return best, f" (most of the {len(long)} notes of {TIMBRE_MIN_SECONDS:g} s or longer)"


# ---- the judgement ----------------------------------------------------------------------------
def judge(audio: np.ndarray, controls: Controls, config, *, curves: Curves | None = None,
          known_range: tuple[float, float] | None = None, guidance: float = 1.0, timbre: bool = True) -> Verdict:
    """Judge mono ``audio`` generated by a model with ``config`` (sample_rate, hop_length,
    instrument_names) against what ``controls`` asked for.

    ``curves``: the requested curves when already computed (``requested_curves(controls, sr, hop)``;
    saves re-reading a recording). ``known_range``: the notes the model learned (MIDI low, high), used
    for advice. ``guidance``: the conditioning strength the audio was made with (for advice).
    ``timbre=False`` skips the timbre classifier (it is fitted on first use, a few seconds).
    """
    sr = int(config.sample_rate)
    hop = int(getattr(config, "hop_length", 0) or default_hop(sr))
    if curves is None:
        curves = requested_curves(controls, sr, hop)
    names = tuple(getattr(config, "instrument_names", ()) or ())
    return judge_curves(audio, curves, instrument=controls.instrument, instrument_names=names,
                        glide=float(controls.glide or 0.0), known_range=known_range, guidance=guidance, timbre=timbre)


def judge_curves(audio: np.ndarray, curves: Curves, *, instrument=None, instrument_names: tuple[str, ...] = (),
                 glide: float = 0.0, known_range: tuple[float, float] | None = None, guidance: float = 1.0,
                 timbre: bool = True) -> Verdict:
    """``judge`` on already requested curves (``conditioning.Curves``)."""
    from ..audio_io import check_audio

    audio = check_audio(audio)
    sr, hop = curves.sample_rate, curves.hop_length
    n_frames = max(1, -(-len(audio) // hop))
    times = (np.arange(n_frames) * hop + hop / 2) / sr
    loud = frame_loudness_db(audio, hop).astype(np.float64)[:n_frames]
    req_f0 = None if curves.f0_hz is None else np.pad(np.asarray(curves.f0_hz, np.float64)[:n_frames],
                                                      (0, max(0, n_frames - len(curves.f0_hz))))
    req_loud = None if curves.loudness_db is None else np.pad(
        np.asarray(curves.loudness_db, np.float64)[:n_frames], (0, max(0, n_frames - len(curves.loudness_db))),
        constant_values=-80.0)
    notes = [n for n in curves.notes if n.start < len(audio) / sr]
    v = Verdict()
    advice: list[tuple[int, str]] = []           # (priority, next step): the first one is shown

    # -- pitch --
    if req_f0 is not None and np.any(req_f0 > 0):
        asked_midi = hz_to_midi(req_f0[req_f0 > 0])
        fmin = max(30.0, min(50.0, float(midi_to_hz(np.nanmin(asked_midi))) / 1.5))
        fmax = min(sr / 2 - 1, max(1600.0, float(midi_to_hz(np.nanmax(asked_midi))) * 1.5))
        f0 = pitch_track(audio, sr, hop, fmin=fmin, fmax=fmax).astype(np.float64)[:n_frames]
        f0 = np.pad(f0, (0, n_frames - len(f0)))
        got = hz_to_midi(f0)
        if notes:
            for i, n in enumerate(notes):
                sel = _sustained(times, n.start, min(n.duration, len(audio) / sr - n.start), glide if i else 0.0)
                voiced = sel & (f0 > 0)
                share = float(voiced.sum() / max(1, sel.sum()))
                measured = float(np.median(got[voiced])) if voiced.any() else None
                cents = None if measured is None else 100.0 * (measured - float(n.midi))
                ok = cents is not None and share >= MIN_VOICED and abs(cents) <= PITCH_CENTS
                v.notes.append(NoteCheck(i, float(n.midi), float(n.start), float(n.duration), measured, cents, share, ok))
            good = sum(n.met for n in v.notes)
            if len(v.notes) == 1:
                n = v.notes[0]
                if n.met:
                    words = f"{note_name(n.asked)} in tune ({n.cents:+.0f} cents)"
                elif n.measured is None or n.voiced_share < MIN_VOICED:
                    words = f"{note_name(n.asked)} asked, but no steady pitch was found"
                else:
                    words = (f"{note_name(n.asked)} asked, {note_name(n.measured, cents=True)} played "
                             f"({abs(n.cents):.0f} cents {'sharp' if n.cents > 0 else 'flat'})")
                asked_text, measured_text = note_label(n.asked), note_label(n.measured)
            else:
                words = f"{good} of {len(v.notes)} notes in tune (within {PITCH_CENTS:.0f} cents)"
                wrong = [n for n in v.notes if not n.met]
                if wrong:
                    first = wrong[0]
                    how = ("no steady pitch" if first.cents is None or first.voiced_share < MIN_VOICED else
                           f"{abs(first.cents):.0f} cents {'sharp' if first.cents > 0 else 'flat'}")
                    words += f"; note {first.index + 1} ({note_name(first.asked)}) {how}"
                asked_text, measured_text = f"{len(v.notes)} notes", f"{good} in tune"
            met = good == len(v.notes)
            v.checks.append(Check("pitch", met, asked_text, measured_text, words))
            if not met:
                outside = [n for n in v.notes if not n.met and known_range is not None
                           and not known_range[0] <= n.asked <= known_range[1]]
                if outside:
                    lo, hi = known_range
                    n = outside[0]
                    shift = (lo - n.asked) if n.asked < lo else (hi - n.asked)
                    shift = math.ceil(shift / 12) * 12 if shift > 0 else math.floor(shift / 12) * 12
                    v.checks[-1].advice = (f"{note_name(n.asked)} is outside {_fmt_range(known_range)}, the notes this "
                                           f"model learned: transpose by {shift:+d} semitones"
                                           f"{'' if len(v.notes) == 1 else ' (or move those notes)'} into that range.")
                    advice.append((0, v.checks[-1].advice))
                else:
                    v.checks[-1].advice = ("Try another seed: the pitch wanders from take to take; a lower temperature "
                                           "(e.g. 0.7) steadies it.")
                    advice.append((1, v.checks[-1].advice))
        else:
            # A recording (or an f0 contour): share of its voiced frames followed within 50 cents.
            want = req_f0 > 0
            cents = 100.0 * (got - hz_to_midi(np.where(want, req_f0, 1.0)))
            followed = want & (f0 > 0) & (np.abs(np.nan_to_num(cents, nan=1e9)) <= PITCH_CENTS)
            share = float(followed.sum() / want.sum())
            v.followed_share = share
            met = share >= FOLLOW_SHARE
            words = (f"followed {100 * share:.0f} % of the recording's pitched moments within {PITCH_CENTS:.0f} cents "
                     f"(needs {100 * FOLLOW_SHARE:.0f} %)")
            v.checks.append(Check("pitch", met, f"{want.sum() * hop / sr:.2f} s of pitched sound",
                                  f"{100 * share:.0f} % followed", words))
            if not met:
                v.checks[-1].advice = "Try another seed, or transpose the recording into the range the model learned."
                advice.append((1, v.checks[-1].advice))

    # -- level --
    if req_loud is not None:
        sel = req_loud >= SOUNDING_DB
        if notes:
            in_notes = np.zeros(n_frames, dtype=bool)
            for i, n in enumerate(notes):
                in_notes |= _sustained(times, n.start, min(n.duration, len(audio) / sr - n.start), glide if i else 0.0)
            sel &= in_notes
        if not sel.any():
            sel = req_loud > -80.0
        if sel.any():
            diff = float(np.median(loud[sel] - req_loud[sel]))
            asked_db, got_db = float(np.median(req_loud[sel])), float(np.median(loud[sel]))
            met = abs(diff) <= LEVEL_DB
            side = "louder" if diff > 0 else "quieter"
            words = (f"{got_db:.1f} dB against {asked_db:.1f} dB asked "
                     f"({abs(diff):.1f} dB {side}; within {LEVEL_DB:.0f} dB counts)")
            v.checks.append(Check("level", met, f"{asked_db:.1f} dB", f"{got_db:.1f} dB", words))
            if not met:
                v.checks[-1].advice = (f"Raise the conditioning strength to {STRONGER:g}: it makes the level follow the "
                                       "control much more closely." if guidance < STRONGER else
                                       "Try another seed; the level varies from take to take.")
                advice.append((2, v.checks[-1].advice))

    # -- sounding time --
    want = np.zeros(n_frames, dtype=bool)
    if notes:
        for n in notes:
            want |= (times >= n.start) & (times < n.start + n.duration)
    elif req_f0 is not None:
        want = req_f0 > 0
    elif req_loud is not None:
        want = req_loud >= SOUNDING_DB
    if want.any():
        threshold = np.full(n_frames, SOUNDING_DB)
        if req_loud is not None:
            threshold = np.minimum(threshold, req_loud - 20.0)
        sounding = want & (loud >= threshold)
        share = float(sounding.sum() / want.sum())
        asked_s, got_s = want.sum() * hop / sr, sounding.sum() * hop / sr
        met = share >= SOUNDING_SHARE
        words = (f"sounds for {got_s:.2f} s of the {asked_s:.2f} s asked ({100 * share:.0f} %; "
                 f"{100 * SOUNDING_SHARE:.0f} % counts)")
        v.checks.append(Check("sounding time", met, f"{asked_s:.2f} s", f"{got_s:.2f} s", words))
        if not met:
            v.checks[-1].advice = ("Try another seed: this take goes quiet where notes were asked for"
                                   + (f"; a conditioning strength of {STRONGER:g} holds the level better." if guidance < STRONGER
                                      else "."))
            advice.append((3, v.checks[-1].advice))

    # -- timbre --
    if instrument is not None:
        names = tuple(instrument_names)
        single = _single_instrument(instrument, names)
        if single is None:
            v.checks.append(Check("timbre", None, "a mix", "—", "a timbre mix is not judged (the classifier names one instrument)"))
        elif not timbre:
            v.checks.append(Check("timbre", None, single, "—", "not judged (skipped)"))
        else:
            heard, how = _heard_timbre(audio, notes, names, sr)
            if heard is None:
                v.checks.append(Check("timbre", None, single, "—", how or
                                      "not judged: the classifier only knows the built-in corpus's instruments"))
            else:
                met = heard == single
                words = f"sounds like {heard}" + ("" if met else f", not {single}") + how
                v.checks.append(Check("timbre", met, single, heard, words))
                if not met:
                    v.checks[-1].advice = ("Try another seed" + (f", or raise the conditioning strength to {STRONGER:g}."
                                                                 if guidance < STRONGER else "."))
                    advice.append((4, v.checks[-1].advice))
    if advice:
        v.next_step = sorted(advice, key=lambda a: a[0])[0][1]
    return v
