"""Fuzz the audio loader: 500 seeded mutations of real WAV and FLAC files.

Each case is a valid file with bytes flipped, overwritten, inserted, deleted or cut, or with a
header field (sample rate, channels, bit depth, chunk or stream length) set to an extreme.
The contract: ``load_audio`` returns finite mono audio in [-1, 1] or raises ``AudioError`` with
one line — never another exception, never a crash, never a runaway allocation.
"""
from __future__ import annotations

import collections
import io
import re
import struct

import numpy as np
import soundfile as sf

from wavenet_core.audio_io import AudioError, load_audio

CASES = 500
SEED = 20240
SR = 16000
EXTREMES = [0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]


def _encode(fmt: str, subtype: str, data: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def seed_files() -> list[tuple[str, bytes]]:
    t = np.arange(1200) / SR
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, -0.5 * tone], axis=1)
    return [(".wav", _encode("WAV", "PCM_16", tone, SR)),
            (".wav", _encode("WAV", "FLOAT", stereo, 22050)),
            (".wav", _encode("WAV", "PCM_U8", tone[:600], 8000)),
            (".wav", _encode("WAV", "PCM_24", np.tile(tone[:, None], (1, 6)), 48000)),
            (".flac", _encode("FLAC", "PCM_16", tone, SR)),
            (".flac", _encode("FLAC", "PCM_24", stereo, 44100))]


def mutate(blob: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(blob)
    kind = int(rng.integers(0, 7))
    if kind == 0:                                        # flip a few bits anywhere
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(0, len(b)))
            b[i] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:                                      # overwrite header bytes with edge values
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(0, min(len(b), 64)))] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF]))
    elif kind == 2:                                      # cut the file short
        b = b[: int(rng.integers(0, len(b)))]
    elif kind == 3:                                      # a 32-bit header field set to an extreme
        i = int(rng.integers(0, min(len(b) - 4, 60)))
        b[i: i + 4] = struct.pack("<I", int(rng.choice(EXTREMES)) & 0xFFFFFFFF)
    elif kind == 4:                                      # insert random bytes
        i = int(rng.integers(0, len(b)))
        b[i:i] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif kind == 5:                                      # delete a run of bytes
        i = int(rng.integers(0, len(b)))
        del b[i: i + int(rng.integers(1, 64))]
    else:                                                # a named field: WAV fmt/data or FLAC STREAMINFO
        if b[:4] == b"RIFF":
            off, size = [(22, 2), (24, 4), (28, 4), (32, 2), (34, 2), (40, 4), (4, 4)][int(rng.integers(0, 7))]
            b[off: off + size] = (int(rng.choice(EXTREMES)) & (2 ** (8 * size) - 1)).to_bytes(size, "little")
        else:                                            # STREAMINFO bytes 18..26: rate | channels | bits | samples
            info = int.from_bytes(b[18:26], "big")
            field, width = [(44, 20), (41, 3), (36, 5), (0, 36)][int(rng.integers(0, 4))]
            value = int(rng.choice([0, 1, (1 << width) - 1, int(rng.integers(0, 1 << width))]))
            info = (info & ~(((1 << width) - 1) << field)) | (value << field)
            b[18:26] = info.to_bytes(8, "big")
    return bytes(b)


def test_fuzz_audio_loader(tmp_path):
    rng = np.random.default_rng(SEED)
    seeds = seed_files()
    outcomes: collections.Counter = collections.Counter()
    unexpected = []
    for n in range(CASES):
        suffix, blob = seeds[n % len(seeds)]
        path = tmp_path / f"case{suffix}"
        path.write_bytes(mutate(blob, rng))
        try:
            audio = load_audio(path, SR)
        except AudioError as e:
            msg = str(e)
            assert msg.startswith("case") and "\n" not in msg and len(msg) < 300, msg
            outcomes["AudioError: " + re.sub(r"\d+", "N", msg.split(": ", 1)[1].split(" (")[0].split(";")[0])] += 1
            continue
        except Exception as e:  # noqa: BLE001 - the point of the test: anything else is a bug
            unexpected.append((n, f"{type(e).__name__}: {e}"))
            (tmp_path / f"crash-{n}{suffix}").write_bytes(path.read_bytes())
            continue
        assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) > 0
        assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
        outcomes["loaded"] += 1
    print(f"\nfuzzed {CASES} mutated WAV/FLAC files:")
    for what, count in outcomes.most_common():
        print(f"  {count:4d}  {what}")
    assert not unexpected, unexpected[:5]
    assert sum(outcomes.values()) == CASES
    refused = CASES - outcomes["loaded"]
    assert outcomes["loaded"] >= 50 and refused >= 50       # both paths were exercised
