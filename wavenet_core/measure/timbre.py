"""The timbre judge: a nearest-centroid classifier on MFCC statistics, with a reject class.

Fitted on notes rendered by a corpus (the built-in synthetic ``NoteCorpus``, or the sampled
instruments of ``SoundFontCorpus``) of a seed that training does not use; the evaluation, the
sampler's timbre target and the studio's verdict all use this one definition. Knows nothing of the
model: it reads audio and the corpora of ``data/``.
"""
from __future__ import annotations

import numpy as np

from .descriptors import SOUNDING_DB, frame_loudness_db, pitch_track

NONE_OF_THESE = "none"
CLASSIFIER_SEED = 1234            # corpus seed of the timbre classifier's notes (+1: its reject calibration)
CLASSIFIER_SIZE = 600             # notes the evaluation's classifier is fitted on
CLASSIFIER_SECONDS = 1.0          # length of each fitted note (the evaluation's note clips are as long)
MIN_VOICED = 0.5                  # a clip voiced on fewer of its sounding frames is not pitched
PITCH_FMIN, PITCH_FMAX = 40.0, 1600.0   # pitch-track search range (MIDI ~28 … ~91)
CORPORA = ("notes", "soundfont")  # where the classifier's notes come from


def mfcc_stats(audio: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """Mean and standard deviation of MFCC 1–19 over the frames above -50 dB (c0, the level, left
    out): 38 numbers for a mono clip ``audio`` (samples,)."""
    import librosa

    loud = frame_loudness_db(audio, hop)
    n_fft = 1 << int(np.ceil(np.log2(sample_rate * 0.064)))
    m = librosa.feature.mfcc(y=np.asarray(audio, dtype=np.float32), sr=sample_rate, n_mfcc=20, n_fft=n_fft, hop_length=hop)
    n = min(m.shape[1], len(loud))
    sel = loud[:n] > -50
    if sel.sum() < 3:
        sel = np.ones(n, dtype=bool)
    m = m[1:, :n][:, sel]
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def classifier_notes(corpus: str, names: tuple[str, ...], sample_rate: int, hop: int, seed: int, size: int,
                     soundfont=None) -> list:
    """``size`` single notes (``Example``s, ``CLASSIFIER_SECONDS`` long) of the instruments ``names``,
    rendered by the corpus ``corpus`` ("notes" or "soundfont") with seed ``seed``."""
    n = max(size, 2 * len(names))
    if corpus == "notes":
        from ..data.corpus import NoteCorpus
        return list(NoteCorpus(sample_rate=sample_rate, hop_length=hop, seed=seed, size=n,
                               seconds=CLASSIFIER_SECONDS, phrase_share=0.0, instruments=tuple(names)))
    if corpus == "soundfont":
        from ..data.soundfont import SoundFontCorpus
        return list(SoundFontCorpus(soundfont, sample_rate=sample_rate, hop_length=hop, seed=seed, size=n,
                                    seconds=CLASSIFIER_SECONDS, phrase_share=0.0, instruments=tuple(names)))
    raise ValueError(f"unknown corpus {corpus!r}; choose from: {', '.join(CORPORA)}")


def classifier_corpus(names: tuple[str, ...]) -> str:
    """The corpus that plays every one of ``names``: "notes" (the built-in synthetic instruments) or
    "soundfont" (the sampled ones); a one-line ValueError when neither does. For callers that know a
    model's instrument names but not its training data (the evaluation decides by the training info)."""
    from ..data.corpus import INSTRUMENTS
    from ..data.soundfont import INSTRUMENT_NAMES

    if names and all(n in INSTRUMENTS for n in names):
        return "notes"
    if names and all(n in INSTRUMENT_NAMES for n in names):
        return "soundfont"
    raise ValueError(f"no corpus plays all of {', '.join(names) or 'no instruments'}; the timbre classifier knows "
                     f"{', '.join(INSTRUMENTS)} or {', '.join(INSTRUMENT_NAMES)}")


class TimbreClassifier:
    """Nearest centroid on MFCC statistics (``mfcc_stats``), distances in the (shrunk) pooled
    within-class metric, fitted on ``size`` notes of the corpus ``corpus`` with seed ``seed``.

    ``identify`` may answer ``NONE_OF_THESE``: every instrument of both corpora is pitched, so a clip
    that is not — silent, or voiced on fewer than half of its sounding frames (``pitch_track``) — is
    none of them; so is a clip further from its nearest centroid than ``reject_quantile`` of held-out
    notes (seed ``seed + 1``, ``size // 2`` notes) are from theirs. ``predict`` always names
    the nearest instrument (the sampler's timbre target uses it)."""

    def __init__(self, names: tuple[str, ...], sample_rate: int, hop: int, size: int, seed: int = CLASSIFIER_SEED,
                 shrink: float = 0.3, reject_quantile: float = 0.99, corpus: str = "notes", soundfont=None):
        self.names, self.sample_rate, self.hop, self.corpus = tuple(names), sample_rate, hop, corpus

        def notes(s: int, n: int):
            ex = classifier_notes(corpus, self.names, sample_rate, hop, s, n, soundfont)
            return np.array([mfcc_stats(e.audio, sample_rate, hop) for e in ex]), np.array([e.instrument for e in ex])

        x, y = notes(seed, size)
        self.mu, self.sd = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = (x - self.mu) / self.sd
        self.centroids = np.stack([z[y == k].mean(axis=0) for k in range(len(self.names))])
        within = sum(np.cov((z[y == k] - self.centroids[k]).T) for k in range(len(self.names))) / len(self.names)
        self.metric = np.linalg.inv(within + shrink * np.eye(len(within)))
        xh, _ = notes(seed + 1, size // 2)
        self.threshold = float(np.quantile([self._distances(v).min() for v in xh], reject_quantile))

    def _distances(self, stats: np.ndarray) -> np.ndarray:
        d = (stats - self.mu) / self.sd - self.centroids
        return np.einsum("kd,de,ke->k", d, self.metric, d)

    def distances(self, audio: np.ndarray) -> np.ndarray:
        """Squared distance (pooled within-class metric) to every instrument's centroid."""
        return self._distances(mfcc_stats(audio, self.sample_rate, self.hop))

    def predict(self, audio: np.ndarray) -> str:
        """The nearest instrument (never "none")."""
        return self.names[int(np.argmin(self.distances(audio)))]

    def identify(self, audio: np.ndarray, voiced_fraction: float | None = None) -> str:
        """The nearest instrument, or ``NONE_OF_THESE`` for a clip that is not pitched or is far from
        every instrument. ``voiced_fraction``: the share of the clip's sounding frames that are voiced
        when already measured (else it is measured here; a clip with no sounding frame counts 0)."""
        if voiced_fraction is None:
            audio = np.asarray(audio, dtype=np.float32)
            sounding = frame_loudness_db(audio, self.hop) >= SOUNDING_DB
            f0 = pitch_track(audio, self.sample_rate, self.hop, fmin=PITCH_FMIN, fmax=PITCH_FMAX)
            n = min(len(f0), len(sounding))
            voiced_fraction = float(np.mean(f0[:n][sounding[:n]] > 0)) if sounding[:n].any() else 0.0
        if voiced_fraction < MIN_VOICED:
            return NONE_OF_THESE
        d = self.distances(audio)
        return NONE_OF_THESE if d.min() > self.threshold else self.names[int(np.argmin(d))]


_CLASSIFIERS: dict = {}


def timbre_classifier(names: tuple[str, ...], sample_rate: int, hop: int, *, corpus: str = "notes",
                      soundfont=None, size: int = CLASSIFIER_SIZE, seed: int = CLASSIFIER_SEED) -> TimbreClassifier:
    """A classifier fitted once per process per (names, rate, hop, corpus, SoundFont, size, seed)."""
    key = (tuple(names), sample_rate, hop, corpus, str(soundfont) if soundfont else None, size, seed)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS[key] = TimbreClassifier(tuple(names), sample_rate, hop, size, seed=seed, corpus=corpus,
                                             soundfont=soundfont)
    return _CLASSIFIERS[key]
