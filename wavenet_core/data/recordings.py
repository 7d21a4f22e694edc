"""Real monophonic recordings that registry packages ship (for timbre-transfer tests and demos).

Nothing is downloaded: each recording is a file inside an installed package, found without
importing that package.

| name | package (registry) | file | what | licence |
|---|---|---|---|---|
| ``melody`` | ``music21`` (PyPI) | ``music21/audioSearch/test_audio.wav`` | 20.0 s, mono, 44.1 kHz 16-bit PCM: a real recording of a monophonic melody (pYIN: stepwise from C4, MIDI 60–69), made by the music21 project for its audio-search tests | BSD-3-Clause (music21's LICENSE) |

``pip install --no-deps music21`` is enough (only the file is read).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recording:
    name: str
    package: str          # PyPI distribution and import name
    relpath: str          # inside the package folder
    description: str
    licence: str


RECORDINGS: dict[str, Recording] = {
    "melody": Recording("melody", "music21", "audioSearch/test_audio.wav",
                        "20 s mono 44.1 kHz recording of a monophonic melody (stepwise from C4)", "BSD-3-Clause"),
}


class RecordingError(FileNotFoundError):
    """A recording's package is not installed (a FileNotFoundError: the CLI prints it as one line)."""


def recording_path(name: str = "melody") -> Path:
    """Path of a shipped recording (decode it with ``audio_io.load_audio(path, sample_rate)``)."""
    if name not in RECORDINGS:
        raise ValueError(f"unknown recording {name!r}; choose from: {', '.join(RECORDINGS)}")
    rec = RECORDINGS[name]
    spec = importlib.util.find_spec(rec.package)           # locate, don't import
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        p = Path(loc) / rec.relpath
        if p.is_file():
            return p
    if not locations:
        raise RecordingError(f"recording {name!r} comes with the {rec.package} package, which is not installed: "
                             f".venv/bin/pip install --no-deps {rec.package}")
    raise RecordingError(f"recording {name!r}: {rec.relpath} is missing from the installed {rec.package} "
                         f"({locations[0]}); reinstall it: .venv/bin/pip install --no-deps --force-reinstall {rec.package}")


def recording_paths() -> dict[str, Path]:
    """Every recording whose package is installed, name → path (empty if none is)."""
    out = {}
    for name in RECORDINGS:
        try:
            out[name] = recording_path(name)
        except RecordingError:
            pass
    return out
