"""The survey's three control methods over the generators and measurement: ``conditioning``
(musical controls → model inputs), ``sampling`` (targets, prefix bounds, novelty, the rejection
sampler), ``autoencoder`` (encode, edit, interpolate, decode) and ``steering``; ``verdict`` says
whether a result did what was asked."""
