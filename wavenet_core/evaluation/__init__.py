"""The reports behind each model card (``wavenet evaluate``); nothing at run time depends on it."""
