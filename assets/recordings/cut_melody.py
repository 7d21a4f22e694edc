"""Cut assets/recordings/melody.flac out of music21's BSD-licensed test recording (see README.md).

    .venv/bin/pip download music21==10.5.1 --no-deps -d /tmp/m21
    .venv/bin/python assets/recordings/cut_melody.py /tmp/m21/music21-10.5.1-py3-none-any.whl

Reads ``music21/audioSearch/test_audio.wav`` straight out of the wheel (a zip; music21 is never
imported), resamples it to 16 kHz mono (soxr_hq), keeps START..START+SECONDS, fades both ends over
10 ms (no click at the cut), moves the peak to PEAK_DB and writes 16-bit FLAC.
"""
from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "music21/audioSearch/test_audio.wav"
SAMPLE_RATE = 16000
START, SECONDS = 2.6, 5.0          # s: the rest before the first note is left out; C4 D4 F4 G4 A4 …
FADE = 0.01                        # s
PEAK_DB = -6.0                     # the SoundFont corpus's loudest notes peak at 0.5 (-6 dB) too
OUT = Path(__file__).resolve().parent / "melody.flac"


def main(argv: list[str]) -> int:
    import librosa
    import soundfile as sf

    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with zipfile.ZipFile(argv[0]) as z:
        data, sr = sf.read(io.BytesIO(z.read(MEMBER)), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    audio = librosa.resample(mono, orig_sr=sr, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    a = int(round(START * SAMPLE_RATE))
    audio = audio[a: a + int(round(SECONDS * SAMPLE_RATE))].astype(np.float64)
    n = int(FADE * SAMPLE_RATE)
    ramp = np.linspace(0.0, 1.0, n)
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    audio *= 10 ** (PEAK_DB / 20) / np.max(np.abs(audio))
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    sf.write(OUT, pcm, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    print(f"wrote {OUT} ({len(pcm) / SAMPLE_RATE:.2f} s, {SAMPLE_RATE} Hz mono, {OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
