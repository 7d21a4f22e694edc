"""Training: the loop, logs, resume and torchrun (``train``) and warm starts (``warmstart``)."""
