"""The model and its file format: μ-law (``mulaw``), the WaveNet and its config (``wavenet``), the
autoencoder network (``autoencoder``) and checkpoint files (``checkpoint``: validated header →
bounded config → tensors, and the shipped-model registry)."""
