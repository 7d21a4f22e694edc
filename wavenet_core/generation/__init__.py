"""Generators over one small module of shared input types (``inputs``): ``generate`` (the entry
point and the slow, exact reference sampler) and ``fast`` (the compiled incremental loop)."""
