"""μ-law companding (μ = 255) between float audio in [-1, 1] and 256 class indices.

Class indices are unsigned (0..255, 128 ≈ silence) because they index a softmax;
librosa's ``mu_compress`` returns the same values shifted to the signed range -128..127.
"""
from __future__ import annotations

import numpy as np
import torch

MU = 255
N_CLASSES = MU + 1
SILENCE_CLASS = N_CLASSES // 2


_EDGES = np.linspace(-1.0, 1.0, N_CLASSES)   # librosa's quantisation grid


def mu_law_encode(audio, mu: int = MU):
    """Float audio in [-1, 1] (numpy or torch) → int64 classes in [0, mu]; NaN-free input assumed.

    Exactly ``librosa.mu_compress(x, mu=255, quantize=True) + 128``.
    """
    if isinstance(audio, torch.Tensor):
        x = audio.double().clamp(-1.0, 1.0)
        y = torch.sign(x) * torch.log1p(mu * x.abs()) / np.log1p(mu)
        return torch.bucketize(y, torch.from_numpy(_EDGES), right=False)
    x = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.digitize(y, _EDGES, right=True).astype(np.int64)


def mu_law_decode(classes, mu: int = MU):
    """Int classes in [0, mu] → float audio; exactly ``librosa.mu_expand(classes - 128, mu=255, quantize=True)``.

    numpy in → float32 numpy; torch in → float32 tensor. Class 128 decodes to exactly 0.
    """
    if isinstance(classes, torch.Tensor):
        y = (classes.double() - SILENCE_CLASS) * 2.0 / (mu + 1)
        return (torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu).float()
    y = (np.asarray(classes, dtype=np.float64) - SILENCE_CLASS) * 2.0 / (mu + 1)
    return (np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu).astype(np.float32)
