"""WaveNet Control Studio: a WaveNet with three control methods (sampling, conditioning, input manipulation)."""
from .audio_io import AudioError, load_audio, write_wav
from .model.checkpoint import CheckpointError, list_models, load_model, save_model
from .controls.conditioning import Controls, model_inputs
from .generation.inputs import Cancelled, ModelInputs
from .generation.generate import generate
from .model.wavenet import WaveNet, WaveNetConfig, preset_config
from .model.mulaw import mu_law_decode, mu_law_encode

__version__ = "0.1.0"

__all__ = [
    "WaveNetConfig", "WaveNet", "preset_config", "mu_law_encode", "mu_law_decode", "load_model", "save_model",
    "list_models", "generate", "ModelInputs", "Controls", "model_inputs", "Cancelled", "load_audio", "write_wav",
    "AudioError", "CheckpointError",
]
from .controls.sampling import (RejectionSampler, SamplingResult, compare_control_methods, parse_target, rejection_sample)  # noqa: E402
__all__ += ["RejectionSampler", "SamplingResult", "compare_control_methods", "parse_target", "rejection_sample"]
from .controls.conditioning import ADSR, Curves, parse_melody, parse_timbre, requested_curves  # noqa: E402
from .measure.descriptors import describe  # noqa: E402
__all__ += ["ADSR", "Curves", "parse_melody", "parse_timbre", "requested_curves", "describe"]
