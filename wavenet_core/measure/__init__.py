"""Measurement: one definition each of loudness, pitch tracking, brightness, noisiness, onsets
(``descriptors``) and the timbre classifier (``timbre``). Knows nothing of the model."""
