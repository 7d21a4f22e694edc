"""Bad input everywhere a user can hand us data — Python API, CLI, app — gets one clear line.

Each case is a real file on disk (soundfile, sparse files via truncate) or a real value; the
assertions check the message says what is wrong, fits on one line, and carries no traceback.
The app side calls the registered Gradio handlers directly (the HTTP path is covered by
tests/test_app_client.py and tests/test_load.py) and checks every failure is a ``gr.Error``.
The messages asserted here are the ones listed in docs/reliability.md.
"""
from __future__ import annotations

import inspect

import errno
import io
import shutil
import struct
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_core import AudioError, CheckpointError, WaveNet, load_audio, load_model, preset_config, save_model
from wavenet_core.data.corpus import INSTRUMENTS

SR = 16000


# ---- the bad files ------------------------------------------------------------------------------
def _wav_header(n_bytes: int, sr: int = SR, channels: int = 1, bits: int = 16) -> bytes:
    """A canonical 44-byte PCM WAV header announcing ``n_bytes`` of sample data."""
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + n_bytes) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * block, block, bits) + b"data" + struct.pack("<I", n_bytes))


def make_bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    f = {}

    def path(name):
        f[name.split(".")[0]] = folder / name
        return folder / name

    path("empty.wav").write_bytes(b"")
    good = io.BytesIO()
    sf.write(good, np.zeros(SR, np.int16), SR, format="WAV", subtype="PCM_16")
    path("truncated.wav").write_bytes(good.getvalue()[:30])
    path("text.wav").write_text("These are my lyrics, not audio. Renamed to .wav by mistake.\n" * 20)
    path("zero_length.wav").write_bytes(_wav_header(0))
    sf.write(path("silent.wav"), np.zeros(SR, np.float32), SR)
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(SR // 2) / SR)).astype(np.float32)
    x[100], x[200] = np.nan, np.inf
    sf.write(path("nan_inf.wav"), x, SR, subtype="FLOAT")
    t = np.arange(19200) / 192000                                  # 0.1 s, 8 channels at 192 kHz
    sf.write(path("ch8_192k.wav"), np.stack([0.1 * np.sin(2 * np.pi * 440 * (k + 1) * t) for k in range(8)], 1),
             192000, subtype="PCM_24")
    t = np.arange(4000) / 8000                                     # 0.5 s, 8-bit unsigned at 8 kHz
    sf.write(path("u8_8k.wav"), 0.5 * np.sin(2 * np.pi * 330 * t), 8000, subtype="PCM_U8")
    hour = path("one_hour.wav")                                    # a real header for 1 h of 16-bit mono, sparse data
    hour.write_bytes(_wav_header(SR * 3600 * 2))
    with open(hour, "r+b") as fh:
        fh.truncate(44 + SR * 3600 * 2)                            # 115 MB on paper, a few KB on disk
    # A FLAC whose STREAMINFO claims an hour (57.6 M samples) over 0.1 s of real data: libsndfile
    # trusts FLAC's length field, so this is the hour-long file that fits under any upload limit.
    claim = io.BytesIO()
    sf.write(claim, np.zeros(1600, np.int16), SR, format="FLAC", subtype="PCM_16")
    claim = bytearray(claim.getvalue())
    info = int.from_bytes(claim[18:26], "big")                     # sample rate | channels | bits | total samples
    claim[18:26] = ((info & ~((1 << 36) - 1)) | (SR * 3600)).to_bytes(8, "big")
    path("hour_claim.flac").write_bytes(bytes(claim))
    with open(path("huge.wav"), "wb") as fh:                       # over the 200 MB limit (sparse)
        fh.write(_wav_header(300 * 2 ** 20))
        fh.truncate(300 * 2 ** 20 + 44)
    # An AAC-in-MP4 file (what phones record): the 'ftyp' box of an .m4a, then AAC-looking bytes.
    path("aac.m4a").write_bytes(struct.pack(">I", 24) + b"ftypM4A \x00\x00\x00\x00M4A isom" +
                                struct.pack(">I", 1000) + b"mdat" + bytes(range(256)) * 4)
    broken_rate = bytearray(good.getvalue())
    broken_rate[24:28] = struct.pack("<I", 2)                      # a header claiming 2 Hz
    path("rate_2hz.wav").write_bytes(bytes(broken_rate))
    return f


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    return make_bad_files(tmp_path_factory.mktemp("bad"))


def one_line(e: BaseException) -> str:
    msg = str(getattr(e, "message", None) or e)
    assert "\n" not in msg.strip() and "Traceback" not in msg and len(msg) < 300, msg
    return msg


# ---- Python API: load_audio ------------------------------------------------------------------
REFUSED = [
    ("empty", "the file is empty (0 bytes)"),
    ("truncated", "not a readable audio file"),
    ("text", "not a readable audio file (Format not recognised); use WAV, FLAC, OGG or MP3"),
    ("zero_length", "holds no audio samples"),
    ("nan_inf", "contains NaN or infinite samples"),
    ("one_hour", "3600 s is longer than the 600 s limit"),
    ("hour_claim", "3600 s is longer than the 600 s limit"),
    ("huge", "the file is 300 MB, over the 200 MB limit"),
    ("aac", "not a readable audio file"),
    ("rate_2hz", "sample rate 2 Hz is not a real audio rate"),
]


@pytest.mark.parametrize("case, message", REFUSED)
def test_load_audio_refuses_with_one_line(bad, case, message):
    with pytest.raises(AudioError) as e:
        load_audio(bad[case], SR)
    assert message in one_line(e.value)
    assert bad[case].name in str(e.value)            # the message names the file…
    assert str(bad[case].parent) not in str(e.value)  # …but not where it lives (a server's temp folder)


def test_no_such_file(tmp_path):
    with pytest.raises(AudioError, match="no such file; check the path"):
        load_audio(tmp_path / "missing.wav", SR)
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path, SR)                    # a folder is not a file


def test_long_and_huge_files_are_refused_before_decoding(bad, monkeypatch):
    """The hour-long file is refused from its header and the huge one from its size: no sample is read."""
    def no_reading(*args, **kwargs):
        raise AssertionError("samples were decoded")
    monkeypatch.setattr(sf.SoundFile, "read", no_reading)
    for case, message in [("one_hour", "3600 s is longer"), ("hour_claim", "3600 s is longer"),
                          ("huge", "over the 200 MB limit")]:
        with pytest.raises(AudioError, match=message):
            load_audio(bad[case], SR)


def test_truncate_decodes_only_what_it_keeps(bad, monkeypatch):
    """truncate=True on the one-hour file reads about max_seconds of it, not the hour."""
    read = []
    original = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        out = original(self, frames, *args, **kwargs)
        read.append(len(out))
        return out
    monkeypatch.setattr(sf.SoundFile, "read", counting)
    audio = load_audio(bad["one_hour"], SR, max_seconds=2.0, truncate=True)
    assert len(audio) == 2 * SR
    assert sum(read) <= 2 * SR + 1


def test_unusual_but_valid_files_load(bad):
    multi = load_audio(bad["ch8_192k"], SR)                         # 8 channels mixed down, 192 kHz resampled
    assert multi.ndim == 1 and abs(len(multi) - SR // 10) <= 1 and 0.01 < np.abs(multi).max() <= 1.0
    low = load_audio(bad["u8_8k"], SR)                              # 8-bit unsigned, 8 kHz upsampled
    assert abs(len(low) - SR // 2) <= 1 and 0.3 < np.abs(low).max() <= 1.0
    silent = load_audio(bad["silent"], SR)                          # silence is valid audio…
    assert len(silent) == SR and not np.any(silent)


def test_silence_is_described_and_refused_where_it_cannot_be_used(bad, tmp_path):
    from wavenet_core.controls.conditioning import Controls, requested_curves
    from wavenet_core.data import load_folder
    from wavenet_core.measure.descriptors import describe
    d = describe(load_audio(bad["silent"], SR), SR)                 # …described as silent,
    assert d["pitch"] is None and d["sounding_seconds"] == 0 and d["loudness"] == -80
    with pytest.raises(AudioError) as e:                            # …but there is nothing to follow,
        requested_curves(Controls(from_audio=str(bad["silent"])), SR, 160)
    assert "the recording is silent" in one_line(e.value)
    folder = tmp_path / "sounds"                                    # …nor anything to learn from.
    folder.mkdir()
    shutil.copy(bad["silent"], folder / "silent.wav")
    with pytest.raises(ValueError, match="none usable .*silent"):
        load_folder(folder, SR, 160, min_samples=1600, cache_dir=tmp_path / "cache")


def test_arrays_with_nan_or_nothing_are_refused():
    from wavenet_core.audio_io import check_audio
    from wavenet_core.measure.descriptors import describe
    for audio, message in [(np.zeros(0), "empty"), (np.array([0.1, np.nan]), "NaN or infinite"),
                           (np.array([0.1, -np.inf]), "NaN or infinite"), (np.zeros((2, 100)), "mono")]:
        with pytest.raises(AudioError, match=message):
            check_audio(audio)
        with pytest.raises(AudioError, match=message):
            describe(audio, SR)


# ---- Python API: controls, melody, instruments, durations, seeds -------------------------------
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """An installed-models folder holding one untrained tiny conditioned model (no training needed)."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    model = WaveNet(preset_config("tiny", local_dim=6, n_instruments=len(INSTRUMENTS), instrument_names=tuple(INSTRUMENTS)))
    save_model(model, root / "tiny")
    return root


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_model(tiny_dir / "tiny")


CONTROL_CASES = [
    (dict(melody="C4 H9 E4"), "Melody token 2 ('H9'): unknown note"),
    (dict(melody="C4:-1"), "must be a positive number"),
    (dict(melody="C4:1/0"), "is not a number"),
    (dict(melody="   "), "The melody is empty"),
    (dict(melody="C4:64 D4:64"), "over the 30 s limit"),
    (dict(pitch=60, instrument="banjo"), "Unknown instrument 'banjo'; choose from: pluck, bell"),
    (dict(pitch=60, instrument="banjo=1,bell=1"), "unknown instrument 'banjo'"),
    (dict(pitch=60, instrument="bell=0,saw=0"), "weights sum to zero"),
    (dict(pitch=60, instrument=99), "Instrument index 99 out of range"),
    (dict(seconds=0), "Duration must be a positive number"),
    (dict(seconds=-3), "Duration must be a positive number"),
    (dict(seconds=float("nan")), "Duration must be a positive number"),
    (dict(seconds=float("inf")), "Duration must be a positive number"),
    (dict(seconds=1e9), "over the 30 s limit"),
    (dict(pitch=1000), "Pitch must be between 0 and 127"),
    (dict(pitch=float("nan")), "Pitch must be between 0 and 127"),
    (dict(melody="C4", tempo=0), "Tempo must be between 20 and 400"),
    (dict(pitch=60, adsr="1,2,3"), "ADSR needs four numbers"),
]


@pytest.mark.parametrize("controls, message", CONTROL_CASES)
def test_controls_are_checked(tiny, controls, message):
    from wavenet_core import Controls, model_inputs
    with pytest.raises(ValueError) as e:
        model_inputs(Controls(**controls), tiny.config)
    assert message in one_line(e.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=-1), "Seed must be between 0 and 2**63 - 1"),
    (dict(seed=2 ** 70), "Seed must be between 0 and 2**63 - 1"),
    (dict(temperature=float("nan")), "Temperature must be between 0 and 10"),
    (dict(temperature=-1), "Temperature must be between 0 and 10"),
    (dict(batch=10 ** 8), "Batch must be between 1 and 1024"),
    (dict(batch=1000, seed=0), "is more audio than one call makes"),
    (dict(method="magic"), "Unknown generation method"),
])
def test_generation_arguments_are_checked(tiny, kwargs, message):
    from wavenet_core import Controls, generate, model_inputs
    inputs = model_inputs(Controls(seconds=10 if kwargs.get("batch") == 1000 else 0.01, pitch=60), tiny.config)
    with pytest.raises(ValueError) as e:
        generate(tiny, inputs, **kwargs)
    assert message in one_line(e.value)


def test_a_real_checkpoint_is_never_mistaken_for_a_pickle(tmp_path, tiny):
    """Regression: a safetensors header of 128 + 256·k bytes starts with byte 0x80, the pickle magic."""
    from wavenet_core.model.checkpoint import write_safetensors
    sd = tiny.state_dict()
    for pad in range(256):
        path = write_safetensors(tmp_path / "m.safetensors", sd, {"kind": "wavenet", "config": __import__("json").dumps(
            tiny.config.to_dict()), "pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    loaded = load_model(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), sd.values()))


# ---- Python API: .npy latents ------------------------------------------------------------------
def _npy(shape, descr="<f4", data=b"\0" * 40) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (118 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


@pytest.mark.parametrize("content, message", [
    (b"", "not a .npy file"),
    (b"hello, not numpy", "not a .npy file"),
    (_npy((10 ** 12, 8)), "the header says (1000000000000, 8) float32 but the file holds 40 bytes"),
    (_npy((-1, 8)), "the file is truncated or corrupt"),
    (_npy((11, 1)), "the file is truncated or corrupt"),
    (b"\x93NUMPY\x01\x00\x10\x00{'descr': 'x'}\n", "not a valid .npy array"),
])
def test_malformed_latents_are_refused_before_allocation(tmp_path, content, message):
    from wavenet_core.controls.autoencoder import load_latent
    path = tmp_path / "z.npy"
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_latent(path)
    assert message in one_line(e.value)


# ---- the command line ------------------------------------------------------------------------
def run_cli(capsys, *argv) -> str:
    from wavenet_core.cli import main
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("case, message", REFUSED + [("silent", None)])
def test_cli_describe_bad_files(bad, capsys, case, message):
    from wavenet_core.cli import main
    if message is None:                                             # silence is described, not refused
        assert main(["describe", str(bad[case]), "--no-pitch"]) == 0
        assert '"sounding_seconds": 0.0' in capsys.readouterr().out
        return
    assert message in run_cli(capsys, "describe", bad[case], "--no-pitch")


@pytest.mark.parametrize("args, message", [
    (["--melody", "C4 H9"], "Melody token 2 ('H9')"),
    (["--pitch", "60", "--instrument", "banjo"], "Unknown instrument 'banjo'"),
    (["--pitch", "60", "--timbre", "bell=0.5,kazoo=0.5"], "unknown instrument 'kazoo'"),
    (["--seconds", "1e9"], "over the 30 s limit"),
    (["--seconds", "nan"], "Duration must be a positive number"),
    (["--seconds", "-1"], "Duration must be a positive number"),
    (["--seconds", "0.01", "--seed", "-5"], "Seed must be between 0 and 2**63 - 1"),
    (["--seconds", "0.01", "--seed", str(10 ** 30)], "Seed must be between 0 and 2**63 - 1"),
    (["--seconds", "0.01", "--batch", str(10 ** 8)], "Batch must be between 1 and 1024"),
    (["--seconds", "0.01", "--temperature", "inf"], "Temperature must be between 0 and 10"),
    (["--from-audio", "{silent}"], "the recording is silent"),
    (["--from-audio", "{text}"], "not a readable audio file"),
    (["--from-audio", "{one_hour}"], "3600 s is longer than the 30 s limit"),
    (["--midi", "{text}"], "not a readable MIDI file"),
])
def test_cli_generate_bad_values(bad, tiny_dir, tmp_path, capsys, args, message):
    args = [a.format(**{k: str(v) for k, v in bad.items()}) for a in args]
    out = tmp_path / "out.wav"
    assert message in run_cli(capsys, "generate", "--model", tiny_dir / "tiny", "--out", out, *args)
    assert not out.exists()                                         # nothing half-written


def test_cli_model_paths(tmp_path, capsys, bad):
    assert "No model named or at" in run_cli(capsys, "info", tmp_path / "nothing-here")
    assert "not a valid safetensors file" in run_cli(capsys, "info", bad["text"])
    evil = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, evil)
    assert "pickle/zip (torch.save) file, which can run code" in run_cli(capsys, "info", evil)


def test_cli_decode_malformed_latent(tmp_path, capsys):
    from wavenet_core.model.autoencoder import WaveNetAutoencoder, autoencoder_config
    torch.manual_seed(0)
    save_model(WaveNetAutoencoder(autoencoder_config("tiny")), tmp_path / "ae")
    (tmp_path / "z.npy").write_bytes(_npy((10 ** 9, 8)))
    msg = run_cli(capsys, "decode", tmp_path / "z.npy", "--model", tmp_path / "ae", "--out", tmp_path / "o.wav")
    assert "the file is truncated or corrupt" in msg
    np.save(tmp_path / "w.npy", np.zeros((4, 3), np.float32))       # wrong width for this model
    msg = run_cli(capsys, "decode", tmp_path / "w.npy", "--model", tmp_path / "ae", "--out", tmp_path / "o.wav")
    assert "expected shape (frames, 8)" in msg


# ---- training output: unwritable and full disks ------------------------------------------------
def _train_cfg(out, **kw):
    from wavenet_core.training.train import TrainConfig
    base = dict(out=str(out), preset="tiny", steps=4, batch_size=2, segment=800, corpus_size=6, corpus_seconds=0.6,
                val_every=2, checkpoint_every=2, lr=5e-3, warmup=1, seed=3, val_batches=1, threads=1)
    return TrainConfig(**{**base, **kw})


def test_full_disk_fails_before_training_starts(tmp_path, monkeypatch):
    import wavenet_core.training.train as tr
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(tr.shutil, "disk_usage", lambda p: Usage(10 ** 12, 10 ** 12 - 5_000_000, 5_000_000))

    def no_data(*a, **k):
        raise AssertionError("training started")
    monkeypatch.setattr(tr, "load_examples", no_data)
    with pytest.raises(SystemExit) as e:
        tr.train(_train_cfg(tmp_path / "run"), log=lambda *a: None, progress=False)
    msg = one_line(e.value)
    assert msg.startswith("error: only 5 MB free in") and "free some space" in msg
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_disk_filling_up_mid_run_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    """ENOSPC while writing step 4's checkpoint: a one-line exit, and step 2's checkpoint still loads."""
    import wavenet_core.model.checkpoint as ck
    import wavenet_core.training.train as tr
    real = ck.save_file
    calls = []

    def filling(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) > 2:                       # model + state at step 2 succeed; step 4 hits a full disk
            with open(filename, "wb") as f:
                f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, filename, metadata=metadata)
    monkeypatch.setattr(ck, "save_file", filling)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        tr.train(_train_cfg(out), log=lambda *a: None, progress=False)
    msg = one_line(e.value)
    assert "cannot write the step-4 checkpoint" in msg and "No space left on device" in msg and "--resume" in msg
    assert load_model(out / "model.safetensors").training_info["step"] == 2
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp")) == []   # no temp files left behind
    monkeypatch.setattr(ck, "save_file", real)
    tr.train(_train_cfg(out), resume=True, log=lambda *a: None, progress=False)      # space freed: resume finishes
    assert load_model(out / "model.safetensors").training_info["step"] == 4


# ---- the app (handlers called directly; no server) ----------------------------------------------
VALID = dict(model_name="tiny", instrument="saw", mix={}, pitch_mode="note", pitch=60, melody="", tempo=120,
             midi_file=None, recording=None, source_length=True, loudness_mode="level", level=-18, attack=20,
             decay=150, sustain=-6, release=200, glide=0, vibrato_depth=0, vibrato_rate=5.5, transpose=0,
             temperature=1.0, seconds=0.1, seed=3)


@pytest.fixture(scope="module")
def app_generate(tiny_dir):
    gr = pytest.importorskip("gradio")
    from wavenet_core.studio.app import build_app
    demo = build_app(tiny_dir, slots=1, queue_size=4, warm_up=False)
    fn = next(f for f in demo.fns.values() if f.api_name == "generate").fn

    def call(**overrides):
        out = fn(*{**VALID, **overrides}.values())
        return list(out)[-1] if inspect.isgenerator(out) else out      # a streaming handler: its final outputs
    return gr, call, demo


@pytest.mark.parametrize("overrides, message", [
    (dict(pitch_mode="recording", recording="nan_inf"), "contains NaN or infinite samples"),
    (dict(pitch_mode="recording", recording="zero_length"), "The recording holds no audio"),
    (dict(pitch_mode="recording", recording="hour_claim"), "The recording is 3600 s long, over the 30 s limit"),
    (dict(pitch_mode="recording", recording="one_hour"), "MB limit; trim it first"),
    (dict(pitch_mode="recording", recording="huge"), "MB limit; trim it first"),
    (dict(pitch_mode="recording", recording="aac"), "The recording is not a readable audio file"),
    (dict(pitch_mode="recording", recording="silent"), "the recording is silent"),
    (dict(pitch_mode="melody", melody="C4:1/0"), "Melody token 1 ('C4:1/0')"),
    (dict(pitch_mode="melody", melody="Z" * 3000), "The melody is too long"),
    (dict(seconds=float("nan")), "Duration must be between 0.1 and 10 s; got nan"),
    (dict(seconds="ten"), "Duration must be a number between 0.1 and 10 s"),
    (dict(seed=1.5), "Seed must be a whole number"),
    (dict(seed=float("inf")), "Seed must be between 0 and 2147483647"),
    (dict(temperature=float("nan")), "Temperature must be between 0 and 2"),
    (dict(model_name="../tiny"), "Choose a model from the list (tiny)"),
    (dict(model_name="/etc/passwd"), "Choose a model from the list (tiny)"),
    (dict(model_name=None), "Choose a model from the list (tiny)"),
])
def test_app_handler_gives_gr_error(app_generate, bad, overrides, message):
    gr, call, _ = app_generate
    overrides = {k: (str(bad[v]) if k == "recording" else v) for k, v in overrides.items()}
    with pytest.raises(gr.Error) as e:
        call(**overrides)
    assert message in one_line(e.value)


def test_app_accepts_unusual_recordings_and_keeps_serving(app_generate, bad):
    gr, call, _ = app_generate
    for case in ("ch8_192k", "u8_8k"):
        result = call(pitch_mode="recording", recording=str(bad[case]))
        sr, pcm = result[0]
        assert sr == SR and pcm.dtype == np.int16 and len(pcm) > 0
    with pytest.raises(gr.Error):
        call(pitch_mode="melody", melody="nonsense")
    assert len(call(seconds=0.1)[0][1]) == SR // 10                 # still serving after the error


@pytest.fixture(scope="module")
def sampling():
    return pytest.importorskip("wavenet_core.controls.sampling")


@pytest.mark.parametrize("text, message", [
    ("pitch=62..55", "the range is inverted (62 > 55)"),
    ("loudness=-12..-12", "the range is empty"),
    ("pitch=..", "the range has no bounds"),
    ("pitch", "write NAME=LOW..HIGH"),
    ("sparkle=1..2", "Unknown target 'sparkle'; valid names: pitch"),
    ("loudness=5..10", "can never be met"),
    ("pitch=H9..C5", "unknown note 'H9'"),
    ("brightness=nan..", "bounds must be finite numbers"),
    ("timbre=banjo", "unknown instrument 'banjo'"),
])
def test_bad_target_ranges(sampling, text, message):
    with pytest.raises(ValueError) as e:
        sampling.parse_target(text, instruments=INSTRUMENTS)
    assert message in one_line(e.value)


@pytest.mark.parametrize("name, low, high, message", [
    ("pitch", 62, 55, "the range is inverted (62 > 55)"),
    ("loudness", -12, -12, "the range is empty (-12..-12)"),
    ("loudness", 5, 10, "can never be met: loudness lies between -80 and 0 dB FS"),
    ("pitch", None, None, "The pitch target is on but has no minimum or maximum"),
])
def test_app_sampling_tab_refuses_bad_ranges(app_generate, name, low, high, message):
    """The Sampling tab's handler, called with the page's own defaults and one bad target range."""
    gr, _, demo = app_generate
    from wavenet_core.studio.sampling import SAMPLING_TARGETS
    sample = next(f for f in demo.fns.values() if f.api_name == "sample")
    args = [getattr(c, "value", None) for c in sample.inputs]
    args[0] = "tiny"
    k = [t[0] for t in SAMPLING_TARGETS].index(name)
    args[1 + 3 * k: 4 + 3 * k] = [True, low, high]          # (on, minimum, maximum) of that target
    with pytest.raises(gr.Error) as e:
        sample.fn(*args)
    assert message in one_line(e.value)

