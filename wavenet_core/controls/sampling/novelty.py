"""Novelty: the distance of a clip to the nearest clip of a model's training corpus, in a
standardised space of descriptors and MFCC statistics (``NoveltyIndex``), built once per corpus
and cached on disk."""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ...measure.descriptors import default_hop, describe

NOVELTY_VERSION = 1
_INDEX_MEMO: dict[str, "NoveltyIndex"] = {}


SHIPPED_NOVELTY = Path(__file__).resolve().parents[3] / "assets" / "novelty"


def cache_dir() -> Path:
    """Where derived data is cached: ``$WAVENET_CACHE_DIR`` or ``~/.cache/wavenet-control-studio``."""
    return Path(os.environ.get("WAVENET_CACHE_DIR") or Path.home() / ".cache" / "wavenet-control-studio")


def _descriptor_vector(d: dict, pitch_fill: float) -> np.ndarray:
    pitch = d.get("pitch")
    return np.array([pitch_fill if pitch is None else pitch, d["voiced_fraction"], d["loudness"],
                     math.log2(max(d["brightness"], 1.0)), math.log10(d["noisiness"] + 1e-6)])


def embedding_features(audio: np.ndarray, sample_rate: int, descriptors: dict | None = None,
                       mfcc: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(descriptor features (5,) with pitch None as NaN, MFCC statistics (38,), descriptors)."""
    from ...measure.timbre import mfcc_stats

    hop = default_hop(sample_rate)
    d = descriptors if descriptors is not None else describe(audio, sample_rate, hop)
    m = mfcc if mfcc is not None else mfcc_stats(audio, sample_rate, hop)
    return _descriptor_vector(d, math.nan), np.asarray(m, dtype=np.float64), d


@dataclass
class NoveltyIndex:
    """Nearest-neighbour distance to a training corpus in a standardised feature space.

    Features of a clip: (a) five descriptors — pitch (MIDI; the corpus mean when none is found),
    voiced fraction, loudness (dB), log2 brightness, log10 noisiness — and (b) the mean and
    standard deviation of MFCC 1–19 over the frames above -50 dB (``measure.timbre.mfcc_stats``). Each
    feature is standardised by the corpus's mean and standard deviation; the distance between two
    clips is ``sqrt((mean of the squared z-differences of (a) + mean of those of (b)) / 2)`` — an
    RMS z-score in which descriptors and timbre weigh equally. Novelty = the distance to the
    nearest corpus clip: 0 for a training clip itself, about 1 for a clip one standard deviation
    away from its nearest neighbour in every feature.
    """
    desc: np.ndarray            # (N, 5) raw descriptor features of the corpus
    mfcc: np.ndarray            # (N, 38)
    names: list[str]
    params: dict
    mean: np.ndarray = field(init=False)
    std: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.pitch_fill = float(np.nanmean(self.desc[:, 0])) if np.isfinite(self.desc[:, 0]).any() else 60.0
        raw = self._raw(self.desc, self.mfcc)
        self.mean = raw.mean(axis=0)
        self.std = raw.std(axis=0) + 1e-9
        self._z = (raw - self.mean) / self.std
        nd = self.desc.shape[1]
        self._w = np.concatenate([np.full(nd, 0.5 / nd), np.full(raw.shape[1] - nd, 0.5 / (raw.shape[1] - nd))])

    def _raw(self, desc: np.ndarray, mfcc: np.ndarray) -> np.ndarray:
        desc = np.array(desc, dtype=np.float64, ndmin=2)
        desc[:, 0] = np.where(np.isfinite(desc[:, 0]), desc[:, 0], getattr(self, "pitch_fill", 60.0))
        return np.concatenate([desc, np.array(mfcc, dtype=np.float64, ndmin=2)], axis=1)

    def __len__(self) -> int:
        return len(self.names)

    def distances(self, desc: np.ndarray, mfcc: np.ndarray) -> np.ndarray:
        """Distances of one clip's features to every corpus clip."""
        z = (self._raw(desc, mfcc)[0] - self.mean) / self.std
        return np.sqrt(((self._z - z) ** 2) @ self._w)

    def novelty(self, audio: np.ndarray, sample_rate: int, descriptors: dict | None = None,
                mfcc: np.ndarray | None = None) -> tuple[float, str]:
        """(distance to the nearest corpus clip, that clip's name)."""
        if sample_rate != self.params["sample_rate"]:
            raise ValueError(f"Novelty index is for {self.params['sample_rate']} Hz audio, got {sample_rate} Hz.")
        desc, m, _ = embedding_features(audio, sample_rate, descriptors, mfcc)
        d = self.distances(desc, m)
        i = int(np.argmin(d))
        return float(d[i]), self.names[i]

    # -- building and caching --
    @classmethod
    def for_corpus(cls, *, sample_rate: int = 16000, seed: int = 0, size: int = 600, seconds: float = 1.5,
                   instruments: Sequence[str] | None = None, cache: bool | str | Path = True,
                   log: Callable[[str], None] | None = None) -> "NoveltyIndex":
        """The index of ``NoteCorpus(sample_rate, seed=seed, size=size, seconds=seconds)`` (the corpus
        ``wavenet train`` uses); built once (≈0.3 s of CPU per clip) and cached on disk keyed by these
        parameters, and kept in memory for the process."""
        from ...data.corpus import INSTRUMENTS, PITCH_RANGE, NoteCorpus

        params = {"version": NOVELTY_VERSION, "sample_rate": int(sample_rate), "hop": default_hop(sample_rate),
                  "seed": int(seed), "size": int(size), "seconds": float(seconds),
                  "instruments": list(instruments or INSTRUMENTS), "pitch_range": list(PITCH_RANGE)}
        key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        if key in _INDEX_MEMO:
            return _INDEX_MEMO[key]
        folder = None if cache is False else (cache_dir() if cache is True else Path(cache))
        path = None if folder is None else folder / f"novelty-{key}.npz"
        # The shipped models' index ships beside them (building it takes minutes of CPU).
        for found in ([] if path is None else [path]) + ([SHIPPED_NOVELTY / path.name] if cache is True else []):
            if found.is_file():
                try:
                    with np.load(found, allow_pickle=False) as z:
                        if json.loads(str(z["params"])) == params:
                            index = cls(z["desc"], z["mfcc"], [str(n) for n in z["names"]], params)
                            _INDEX_MEMO[key] = index
                            return index
                except (OSError, ValueError, KeyError):
                    pass            # a broken cache file is rebuilt
        corpus = NoteCorpus(sample_rate=sample_rate, hop_length=params["hop"], seed=seed, size=size, seconds=seconds,
                            instruments=tuple(params["instruments"]))
        desc, mfcc, names = [], [], []
        for i in range(size):
            ex = corpus.example(i)
            dv, mv, _ = embedding_features(ex.audio, sample_rate)
            desc.append(dv)
            mfcc.append(mv)
            names.append(ex.name)
            if log is not None and ((i + 1) % 50 == 0 or i + 1 == size):
                log(f"novelty index: {i + 1}/{size} corpus clips measured")
        index = cls(np.array(desc), np.array(mfcc), names, params)
        if path is not None:
            from ...audio_io import atomic_write_bytes

            def write(tmp):
                with open(tmp, "wb") as f:      # a file object: np.savez would append ".npz" to a path
                    np.savez(f, desc=index.desc, mfcc=index.mfcc, names=np.array(names), params=json.dumps(params))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, write)
        _INDEX_MEMO[key] = index
        return index


def corpus_params_for(name_or_path) -> dict | None:
    """The built-in corpus a checkpoint was trained on (from its training metadata), as keyword
    arguments of ``NoveltyIndex.for_corpus``; None when it was trained on other data."""
    from ...model.checkpoint import load_checkpoint_metadata

    meta = load_checkpoint_metadata(name_or_path)
    training = meta.get("training") or {}
    tc = training.get("train_config") or {}
    if tc.get("data", "corpus") != "corpus":
        return None
    cfg = meta.get("config") or {}
    return {"sample_rate": int(tc.get("sample_rate", cfg.get("sample_rate", 16000))), "seed": int(tc.get("seed", 0)),
            "size": int(tc.get("corpus_size", 600)), "seconds": float(tc.get("corpus_seconds", 1.5)),
            "instruments": training.get("instruments") or cfg.get("instrument_names") or None}
