"""An experiment: the cost and success of reaching one goal (a pitch range and a timbre) by
rejection sampling, by conditioning, and by both."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ...jsonsafe import json_safe
from .sampler import CLASSIFIER_NOTES, RejectionSampler, controls_summary, measure_clip, sampler_classifier
from .targets import Target, failed_targets, parse_targets


@dataclass
class Goal:
    """What the user wants, e.g. "a note between G3 and D4 with the bell timbre"."""
    pitch: tuple[float, float] = (55.0, 62.0)
    instrument: str = "bell"

    @property
    def targets(self) -> list[Target]:
        return [Target("pitch", float(self.pitch[0]), float(self.pitch[1])), Target("timbre", label=self.instrument)]

    def __str__(self) -> str:
        return f"pitch {self.pitch[0]:g}..{self.pitch[1]:g} with the {self.instrument} timbre"


def compare_control_methods(model, goal: Goal | None = None, *, outputs: int = 4, seconds: float = 1.0,
                            max_candidates: int = 64, seed: int = 0, batch: int = 16, temperature: float = 1.0,
                            threads: int | None = None, classifier_size: int = CLASSIFIER_NOTES,
                            methods: Sequence[str] = ("rejection", "conditioning", "both", "conditioning+verify"),
                            log: Callable[[str], None] | None = None) -> dict:
    """Cost and success of reaching one goal (pitch range + timbre) by each control method:

    * ``rejection`` — free generation (nothing conditioned), rejection on pitch and timbre;
    * ``conditioning`` — the timbre and the range's middle pitch conditioned, ``outputs`` takes, no rejection;
    * ``both`` — the timbre conditioned, rejection on pitch;
    * ``conditioning+verify`` — both conditioned, rejection on pitch and timbre (a check that
      conditioning did its job).

    Every output is re-measured against the whole goal (pitch by pYIN, timbre by the corpus-fitted
    nearest-centroid classifier). Returns {method: figures} with candidates, samples generated,
    wall and CPU seconds, outputs, the share of outputs meeting the goal and samples per good output.
    """
    from dataclasses import replace

    from ...generation.generate import generate
    from ..conditioning import Controls, model_inputs

    goal = goal or Goal()
    cfg = model.config
    names = tuple(getattr(cfg, "instrument_names", ()) or ())
    if not names:
        raise ValueError("Comparing control methods needs a model with named instruments (the goal has a timbre).")
    mid = 0.5 * (goal.pitch[0] + goal.pitch[1])
    goal_targets = goal.targets
    plans = {
        "rejection": (Controls(), goal_targets),
        "conditioning": (Controls(instrument=goal.instrument, pitch=mid), None),
        "both": (Controls(instrument=goal.instrument), [goal_targets[0]]),
        "conditioning+verify": (Controls(instrument=goal.instrument, pitch=mid), goal_targets),
    }
    report = {"goal": str(goal), "targets": [str(t) for t in goal_targets], "outputs": outputs, "seconds": seconds,
              "max_candidates": max_candidates, "seed": seed, "methods": {}}
    parse_targets(goal_targets, names)                 # refuses an instrument the model does not know
    # Every output is judged by the same measurer: pitch by pYIN, timbre by one classifier.
    classifier = sampler_classifier(names, cfg.sample_rate, classifier_size)
    for name in methods:
        controls, targets = plans[name]
        t0, c0 = time.perf_counter(), time.process_time()
        if targets is None:
            inputs = model_inputs(replace(controls, seconds=seconds), cfg)
            audio = generate(model, inputs, temperature=temperature, seed=[seed + i for i in range(outputs)],
                             batch=outputs, method="fast")
            clips = list(audio)
            candidates, samples = outputs, outputs * inputs.n_samples
        else:
            res = RejectionSampler(model, targets, controls=controls, seconds=seconds, keep=outputs,
                                   max_candidates=max_candidates, seed=seed, batch=batch, temperature=temperature,
                                   threads=threads, classifier_size=classifier_size).run()
            clips = [c.audio for c in res.picks]
            candidates, samples = res.candidates_generated, res.samples_generated
        gen_wall, gen_cpu = time.perf_counter() - t0, time.process_time() - c0
        measured = [measure_clip(a, cfg.sample_rate, classifier=classifier) for a in clips]
        verdicts = [not failed_targets(v, goal_targets) for v in measured]
        good = sum(verdicts)
        report["methods"][name] = {
            "conditioned": {k: v for k, v in controls_summary(controls).items() if k in ("instrument", "pitch") and v is not None},
            "rejected_on": [str(t) for t in targets] if targets else [],
            "candidates": candidates, "samples_generated": samples, "wall_seconds": gen_wall, "cpu_seconds": gen_cpu,
            "outputs": len(clips), "meeting_goal": good, "share_meeting_goal": good / len(clips) if clips else 0.0,
            "samples_per_good_output": samples / good if good else None,
            "measured_outputs": [{"pitch": v["pitch"], "timbre": v["timbre"], "loudness": v["loudness"],
                                  "meets_goal": ok} for v, ok in zip(measured, verdicts)],
        }
        if log is not None:
            m = report["methods"][name]
            log(f"{name}: {m['meeting_goal']}/{m['outputs']} outputs meet the goal; {candidates} candidates, "
                f"{samples / model.config.sample_rate:.1f} s of audio, {gen_wall:.1f} s wall")
    return json_safe(report)
