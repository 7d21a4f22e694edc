"""WaveNet Control Studio: a WaveNet with three control methods (sampling, conditioning, input manipulation).

The public API: the studio, the CLI and the notebooks use these names (and ``plots``)."""
from .audio_io import AudioError, load_audio, write_wav
from .controls.conditioning import ADSR, Controls, Curves, model_inputs, parse_melody, parse_timbre, requested_curves
from .controls.sampling import (RejectionSampler, SamplingResult, compare_control_methods, measure_clip, parse_target,
                                rejection_sample)
from .generation.generate import generate
from .generation.inputs import Cancelled, ModelInputs
from .measure.descriptors import brightness, describe, hz_to_midi, midi_to_hz, pitch_track
from .model.checkpoint import CheckpointError, list_models, load_model, save_model
from .model.mulaw import mu_law_decode, mu_law_encode
from .model.wavenet import WaveNet, WaveNetConfig, preset_config
from .training.log import read_log

__version__ = "0.1.0"

__all__ = [
    "WaveNetConfig", "WaveNet", "preset_config", "mu_law_encode", "mu_law_decode", "load_model", "save_model",
    "list_models", "generate", "ModelInputs", "Controls", "model_inputs", "Cancelled", "load_audio", "write_wav",
    "AudioError", "CheckpointError",
    "RejectionSampler", "SamplingResult", "compare_control_methods", "measure_clip", "parse_target", "rejection_sample",
    "ADSR", "Curves", "parse_melody", "parse_timbre", "requested_curves",
    "describe", "pitch_track", "brightness", "hz_to_midi", "midi_to_hz", "read_log",
]
