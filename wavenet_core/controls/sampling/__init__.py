"""The sampling control: rejection sampling against target properties, with novelty and cost visible.

Generate freely (or with whatever conditioning the user fixes), measure every candidate with
``descriptors.describe``, keep the ones inside the target ranges. Simple and general, but costly
and without guarantee — so the result records what it cost (candidates, samples generated, wall
and CPU time) and how far the misses were from the targets.

* **Targets** — ranges on descriptors (``parse_target("pitch=55..62")``, open ends allowed:
  ``"loudness=-20.."``), a timbre (``"timbre=bell"``, judged by ``measure.timbre.TimbreClassifier``) and
  **novelty**, the distance to the nearest training example (``NoveltyIndex``).
* **Candidates** come from the fast generator in batches; candidate i has seed ``seed + i``
  (recorded), so ``generate(model, inputs, seed=that_seed)`` at batch 1 gives it back bit for bit.
* **Early rejection** — properties that a prefix can bound (``PREFIX_SAFE``) are checked after
  every chunk of generation; a candidate whose property can no longer end inside its range is
  stopped (``fast_classes(stop=...)``), and the samples it did not generate are reported as saved.
* **Budget** — stop at ``keep`` accepted, ``max_candidates`` started or ``max_seconds`` of wall
  time. When too few pass, the closest complete candidates are returned, flagged
  ``meets_targets=False`` with their distance to the target box.

The parts: ``targets`` (what a target is, parsing, distances), ``prefix`` (early-rejection
bounds from a prefix), ``novelty`` (distance to the training corpus), ``sampler`` (the
sampler, its candidates and result, and ``measure_clip``), ``compare`` (the experiment that
compares control methods). This package re-exports their public names.
"""
from __future__ import annotations

from .compare import Goal, compare_control_methods
from .novelty import NOVELTY_VERSION, SHIPPED_NOVELTY, NoveltyIndex, cache_dir, corpus_params_for, embedding_features
from .prefix import PrefixJudge
from .sampler import (CLASSIFIER_NOTES, Candidate, RejectionSampler, SamplingResult, controls_summary, measure_clip,
                      rejection_sample, sampler_classifier)
from .targets import (CATEGORICAL, MISSING_GAP, NEEDS_PITCH, PREFIX_SAFE, PROPERTIES, TARGET_NAMES, TIMBRE_GAP, Target,
                      distance_to_targets, failed_targets, parse_target, parse_targets)

# The old name, still imported by studio/server.py; new code calls sampler_classifier.
timbre_classifier = sampler_classifier

__all__ = ["CATEGORICAL", "CLASSIFIER_NOTES", "MISSING_GAP", "NEEDS_PITCH", "NOVELTY_VERSION", "PREFIX_SAFE", "PROPERTIES",
           "SHIPPED_NOVELTY", "TARGET_NAMES", "TIMBRE_GAP", "Candidate", "Goal", "NoveltyIndex", "PrefixJudge",
           "RejectionSampler", "SamplingResult", "Target", "cache_dir", "compare_control_methods", "controls_summary",
           "corpus_params_for", "distance_to_targets", "embedding_features", "failed_targets", "measure_clip",
           "parse_target", "parse_targets", "rejection_sample", "sampler_classifier", "timbre_classifier"]
