"""The rejection sampler: candidates generated in batches by the fast generator, each measured
(``measure_clip``) and judged against the targets, hopeless ones stopped early; and what a run
did (``Candidate``, ``SamplingResult``)."""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from ...jsonsafe import json_safe
from ...measure.descriptors import default_hop, describe
from .novelty import NoveltyIndex, corpus_params_for
from .prefix import PrefixJudge
from .targets import NEEDS_PITCH, Target, distance_to_targets, failed_targets, parse_targets

# ---- candidates and results ------------------------------------------------------------------------
@dataclass
class Candidate:
    """One generated candidate. ``status``: accepted (meets every target), rejected (complete,
    misses one), early_rejected (stopped when a prefix-safe target became impossible) or
    unfinished (stopped by the time budget or a cancel)."""
    index: int
    seed: int
    status: str = "unfinished"
    meets_targets: bool = False
    picked: bool = False
    rank: int | None = None            # 1-based position among the picks (accepted first, then closest)
    descriptors: dict | None = None    # describe() of the full clip (of the prefix when stopped early)
    novelty: float | None = None
    nearest: str | None = None
    timbre: str | None = None
    reasons: list[str] = field(default_factory=list)
    distance: float | None = None      # to the target box (0 inside), complete candidates only
    samples_generated: int = 0
    verified: bool = False             # regenerated at batch 1 from its seed; ``audio`` is that regeneration
    batch_mismatch: bool = False       # ... and it differed from the batched sample (then re-measured)
    bounds: dict | None = None         # prefix bounds at an early rejection
    audio: np.ndarray | None = field(default=None, repr=False)

    def values(self) -> dict:
        v = dict(self.descriptors or {})
        v["novelty"], v["timbre"] = self.novelty, self.timbre
        return v

    def to_dict(self, sample_rate: int) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "audio"}
        d["seconds_generated"] = self.samples_generated / sample_rate
        return json_safe(d)


@dataclass
class SamplingResult:
    """Everything a sampling run did: its picks, every candidate and what it all cost."""
    targets: list[Target]
    sample_rate: int
    n_samples: int
    seed: int
    temperature: float
    controls: dict
    keep: int
    max_candidates: int
    max_seconds: float | None
    early_rejection: bool
    candidates: list[Candidate] = field(default_factory=list)
    stop_reason: str = ""
    wall_seconds: float = 0.0
    generation_seconds: float = 0.0
    analysis_seconds: float = 0.0
    cpu_seconds: float = 0.0
    verification_seconds: float = 0.0
    verification_samples: int = 0
    model: str | None = None

    @property
    def picks(self) -> list[Candidate]:
        """The returned candidates: up to ``keep`` accepted ones (in seed order), topped up with the
        closest complete ones (nearest first) when fewer passed."""
        return sorted((c for c in self.candidates if c.picked), key=lambda c: c.rank)

    @property
    def accepted(self) -> list[Candidate]:
        return [c for c in self.candidates if c.meets_targets]

    @property
    def candidates_generated(self) -> int:
        return len(self.candidates)

    @property
    def samples_generated(self) -> int:
        return int(sum(c.samples_generated for c in self.candidates))

    @property
    def samples_without_early_rejection(self) -> int:
        """What the same candidates would have cost generated to full length (unfinished ones as they are)."""
        return int(sum(self.n_samples if c.status == "early_rejected" else c.samples_generated for c in self.candidates))

    @property
    def samples_saved(self) -> int:
        return self.samples_without_early_rejection - self.samples_generated

    @property
    def acceptance_rate(self) -> float:
        """Accepted / candidates judged (complete or early-rejected; unfinished ones excluded)."""
        judged = [c for c in self.candidates if c.status != "unfinished"]
        return len([c for c in judged if c.meets_targets]) / len(judged) if judged else 0.0

    def summary(self) -> dict:
        full = self.samples_without_early_rejection
        return {
            "candidates_generated": self.candidates_generated,
            "accepted": len(self.accepted), "picked": len(self.picks),
            "picks_meeting_targets": sum(c.meets_targets for c in self.picks),
            "early_rejected": sum(c.status == "early_rejected" for c in self.candidates),
            "unfinished": sum(c.status == "unfinished" for c in self.candidates),
            "acceptance_rate": self.acceptance_rate,
            "samples_generated": self.samples_generated,
            "verification_samples": self.verification_samples,
            "batch_mismatches": sum(c.batch_mismatch for c in self.candidates),
            "samples_without_early_rejection": full,
            "samples_saved": self.samples_saved,
            "saved_fraction": self.samples_saved / full if full else 0.0,
            "seconds_of_audio_generated": self.samples_generated / self.sample_rate,
            "wall_seconds": self.wall_seconds, "generation_seconds": self.generation_seconds,
            "analysis_seconds": self.analysis_seconds, "verification_seconds": self.verification_seconds,
            "cpu_seconds": self.cpu_seconds,
            "stop_reason": self.stop_reason,
        }

    def to_dict(self) -> dict:
        return json_safe({
            "model": self.model, "targets": [t.to_dict() for t in self.targets],
            "prefix_safe_targets": [t.name for t in self.targets if t.prefix_safe],
            "controls": self.controls, "seconds": self.n_samples / self.sample_rate, "sample_rate": self.sample_rate,
            "seed": self.seed, "temperature": self.temperature, "keep": self.keep,
            "budget": {"max_candidates": self.max_candidates, "max_seconds": self.max_seconds},
            "early_rejection": self.early_rejection, **self.summary(),
            "picks": [c.index for c in self.picks],
            "candidates": [c.to_dict(self.sample_rate) for c in self.candidates],
        })

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def controls_summary(controls) -> dict:
    """A ``Controls`` as JSON-ready values (curves and arrays as their frame count)."""
    out = {}
    for k, v in asdict(controls).items():
        if v is None or isinstance(v, (str, int, float, bool)):
            out[k] = v
        elif isinstance(v, dict):
            out[k] = {str(a): float(b) for a, b in v.items()}
        elif isinstance(v, np.ndarray):
            out[k] = f"<{len(v)} frames>"
        else:
            out[k] = str(v)
    return out


# ---- the sampler -----------------------------------------------------------------------------------
CLASSIFIER_NOTES = 120      # notes the sampler's timbre classifier is fitted on (~15 s of CPU; the evaluation fits 600)


def sampler_classifier(names: Sequence[str], sample_rate: int, size: int = CLASSIFIER_NOTES):
    """The timbre classifier of the sampler and the verdict: ``measure.timbre.timbre_classifier``
    at the default hop, fitted on ``size`` notes of the corpus that plays ``names`` (the built-in
    one or the SoundFont's; ``classifier_corpus``), once per process. A one-line ValueError when
    no corpus plays them all."""
    from ...measure.timbre import classifier_corpus, timbre_classifier

    names = tuple(names)
    return timbre_classifier(names, sample_rate, default_hop(sample_rate), corpus=classifier_corpus(names), size=size)


def measure_clip(audio: np.ndarray, sample_rate: int, *, pitch: bool = True, novelty_index: NoveltyIndex | None = None,
                 classifier=None) -> dict:
    """Every value a sampling target can be set on, for a mono clip ``audio`` (samples,):
    ``describe()``'s descriptors, plus ``novelty`` and ``nearest`` (the nearest corpus clip) from
    ``novelty_index`` and ``timbre`` (the nearest instrument) from ``classifier`` — each None when
    its measurer is not given. ``pitch=False`` skips pYIN (pitch None)."""
    d = describe(audio, sample_rate, default_hop(sample_rate), pitch=pitch)
    v = dict(d)
    v["novelty"] = v["nearest"] = v["timbre"] = None
    if novelty_index is not None:
        v["novelty"], v["nearest"] = novelty_index.novelty(audio, sample_rate, d)
    if classifier is not None:
        v["timbre"] = classifier.predict(audio)
    return v


class RejectionSampler:
    """Generate candidates in batches until ``keep`` meet every target or the budget is spent.

    ``controls`` (a ``conditioning.Controls``) fixes whatever conditioning the user wants; fields
    left None stay free. Candidate i uses seed ``seed + i``; its audio is what a batch-1 run with
    that seed generates, sample for sample (``verify=True`` regenerates each pick to check it). ``novelty``: a ``NoveltyIndex`` (or
    True to build the one for ``model_name``'s training corpus); it is required by a novelty target
    and otherwise only reported. ``threads`` is handed to the fast generator.
    """

    def __init__(self, model, targets: Sequence[str | Target], *, controls=None, seconds: float | None = 1.0,
                 temperature: float = 1.0, keep: int = 4, max_candidates: int = 64, max_seconds: float | None = None,
                 seed: int = 0, batch: int = 16, early_rejection: bool = True, novelty=None,
                 model_name: str | None = None, threads: int | None = None, classifier_size: int = CLASSIFIER_NOTES,
                 verify: bool = False, log: Callable[[str], None] | None = None):
        from dataclasses import replace

        from ..conditioning import Controls, model_inputs

        cfg = model.config
        names = tuple(getattr(cfg, "instrument_names", ()) or ())
        self.targets = parse_targets(targets, names or None)
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive whole number; got {keep}.")
        if not isinstance(max_candidates, int) or max_candidates < 1:
            raise ValueError(f"max_candidates must be a positive whole number; got {max_candidates}.")
        if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
            raise ValueError(f"max_seconds must be a positive number of seconds; got {max_seconds}.")
        if not isinstance(batch, int) or not 1 <= batch <= 256:
            raise ValueError(f"batch must be between 1 and 256; got {batch}.")
        self.model, self.cfg = model, cfg
        self.controls = controls if controls is not None else Controls()
        if seconds is not None:
            self.controls = replace(self.controls, seconds=seconds)
        self.inputs = model_inputs(self.controls, cfg)
        self.n = self.inputs.n_samples
        self.sr = cfg.sample_rate
        for t in self.targets:
            if t.name == "sounding_seconds" and t.low > self.n / self.sr:
                raise ValueError(f"Target {t} can never be met by {self.n / self.sr:g} s clips; lower it or ask for longer clips.")
            if t.name == "timbre" and not names:
                raise ValueError("A timbre target needs a model with named instruments.")
        self.temperature, self.keep, self.max_candidates = float(temperature), keep, max_candidates
        self.max_seconds, self.seed, self.batch = max_seconds, int(seed), batch
        self.early_rejection, self.threads, self.log, self.verify = early_rejection, threads, log, verify
        self.model_name = model_name
        if novelty is True:
            params = corpus_params_for(model_name) if model_name else None
            if params is None:
                raise ValueError("No training corpus is known for this model, so novelty cannot be measured; "
                                 "leave the novelty target out.")
            novelty = NoveltyIndex.for_corpus(**params, log=log)
        if any(t.name == "novelty" for t in self.targets) and novelty is None:
            raise ValueError("A novelty target needs the training corpus's novelty index (novelty=True with a "
                             "shipped model, or a NoveltyIndex).")
        self.novelty_index = novelty
        self.classifier = (sampler_classifier(names, self.sr, classifier_size)
                           if any(t.name == "timbre" for t in self.targets) else None)
        self.judge = PrefixJudge(self.targets, self.n, self.sr)
        self.need_pitch = any(t.name in NEEDS_PITCH for t in self.targets) or novelty is not None

    # -- helpers --
    def seeds(self, start: int, count: int) -> list[int]:
        return [self.seed + i for i in range(start, start + count)]

    def regenerate(self, seed: int) -> np.ndarray:
        """A candidate's audio from its recorded seed: ``generate(model, inputs, seed=seed)`` at batch 1."""
        from ...generation.generate import generate
        return generate(self.model, self.inputs, temperature=self.temperature, seed=int(seed))[0]

    def measure(self, audio: np.ndarray) -> dict:
        """Every value a target can be set on (``measure_clip`` with this sampler's measurers)."""
        return measure_clip(audio, self.sr, pitch=self.need_pitch, novelty_index=self.novelty_index,
                            classifier=self.classifier)

    def _next_batch(self, started: int, accepted: int, judged: int) -> int:
        """Batch size: the configured one, smaller near the end of the budget or when the acceptance
        seen so far says a few more candidates should do (1.5× the expected need, at least 4)."""
        size = min(self.batch, self.max_candidates - started)
        if judged:
            p = (accepted + 1) / (judged + 2)
            size = min(size, max(4, math.ceil(1.5 * (self.keep - accepted) / p)))
        return max(1, size)

    # -- the run --
    def run(self, progress: Callable[[int, int, dict], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> SamplingResult:
        """Sample until done. ``progress(candidates_started, max_candidates, summary)`` after each
        batch; ``cancel()`` returning True stops the run at the next chunk (partial result)."""
        from ...generation.fast import fast_classes
        from ...generation.inputs import check_generation_args, stream_uniforms
        from ...model.mulaw import mu_law_decode

        t_start, cpu_start = time.perf_counter(), time.process_time()
        deadline = None if self.max_seconds is None else t_start + self.max_seconds
        result = SamplingResult(self.targets, self.sr, self.n, self.seed, self.temperature, controls_summary(self.controls),
                                self.keep, self.max_candidates, self.max_seconds, self.early_rejection, model=self.model_name)
        accepted = judged = 0
        cancelled = False
        while True:
            started = len(result.candidates)
            if accepted >= self.keep:
                result.stop_reason = "keep"
                break
            if started >= self.max_candidates:
                result.stop_reason = "max_candidates"
                break
            if deadline is not None and time.perf_counter() >= deadline:
                result.stop_reason = "max_seconds"
                break
            if cancelled or (cancel is not None and cancel()):
                result.stop_reason = "cancelled"
                break
            size = self._next_batch(started, accepted, judged)
            seeds = self.seeds(started, size)
            check_generation_args(self.n, self.temperature, seeds, self.sr)
            batch = [Candidate(index=started + i, seed=s) for i, s in enumerate(seeds)]
            stopped_at = np.full(size, self.n, dtype=np.int64)      # samples generated per stream
            alive = np.ones(size, dtype=bool)
            halted = {"budget": False}
            judging = self.early_rejection and self.judge.active
            decoded = np.zeros((size, self.n), np.float32) if judging else None
            state = {"decoded": 0, "checked": 0}

            def stop(t: int, classes: np.ndarray) -> np.ndarray | None:
                nonlocal cancelled
                halt = np.zeros(size, dtype=bool)
                over = deadline is not None and time.perf_counter() >= deadline
                if cancel is not None and cancel():
                    cancelled = True
                if over or cancelled:
                    halted["budget"] = True
                    halt[alive] = True
                elif judging and t >= self.judge.first_check and t - state["checked"] >= self.judge.check_every:
                    # decode only the new samples of the streams still running
                    rows = np.flatnonzero(alive)
                    decoded[rows, state["decoded"]:t] = mu_law_decode(classes[rows, state["decoded"]:t])
                    state["decoded"] = state["checked"] = t
                    for b in rows:
                        reasons, bounds = self.judge.hopeless(decoded[b, :t])
                        if reasons:
                            halt[b] = True
                            batch[b].status, batch[b].reasons = "early_rejected", reasons
                            batch[b].bounds = {k: list(v) for k, v in bounds.items()}
                stopped_at[halt] = t
                alive[halt] = False
                return halt if halt.any() else None

            t_gen = time.perf_counter()
            inputs = self.inputs.expand(size)
            classes = fast_classes(self.model, inputs, stream_uniforms(seeds, self.n), self.temperature,
                                   threads=self.threads, stop=stop)
            result.generation_seconds += time.perf_counter() - t_gen
            t_an = time.perf_counter()
            audio = mu_law_decode(classes)
            for b, cand in enumerate(batch):
                cand.samples_generated = int(stopped_at[b])
                if cand.status == "early_rejected":
                    part = audio[b, : stopped_at[b]]
                    cand.descriptors = describe(part, self.sr, pitch=False) if len(part) >= default_hop(self.sr) else None
                    judged += 1
                    continue
                if not alive[b]:
                    cand.status, cand.reasons = "unfinished", ["stopped: " + ("cancelled" if cancelled else "time budget spent")]
                    continue
                self._judge(cand, audio[b].copy())
                judged += 1
            result.candidates.extend(batch)
            result.analysis_seconds += time.perf_counter() - t_an
            if self.verify:
                self._verify_accepted(result)
            accepted = sum(c.meets_targets and (c.verified or not self.verify) for c in result.candidates)
            if self.log is not None:
                s = result.summary()
                self.log(f"{s['candidates_generated']} candidates: {s['accepted']} accepted, "
                         f"{s['early_rejected']} stopped early, {s['seconds_of_audio_generated']:.1f} s of audio generated")
            if progress is not None:
                progress(len(result.candidates), self.max_candidates, result.summary())
            if halted["budget"]:
                result.stop_reason = "cancelled" if cancelled else "max_seconds"
                if accepted < self.keep:
                    break
        self._pick(result)
        result.wall_seconds = time.perf_counter() - t_start
        result.cpu_seconds = time.process_time() - cpu_start
        return result

    def _judge(self, cand: Candidate, audio: np.ndarray) -> None:
        v = self.measure(audio)
        cand.audio = audio
        cand.novelty, cand.nearest, cand.timbre = v.pop("novelty"), v.pop("nearest"), v.pop("timbre")
        cand.descriptors = v
        cand.reasons = failed_targets(cand.values(), self.targets)
        cand.distance = distance_to_targets(cand.values(), self.targets)
        cand.meets_targets = not cand.reasons
        cand.status = "accepted" if cand.meets_targets else "rejected"

    def _verify(self, cand: Candidate, result: SamplingResult) -> None:
        """Regenerate ``cand`` from its seed at batch 1 — what a user reproducing it gets — and judge
        the regeneration if it differs. The fast kernel runs each stream's arithmetic the same way
        whatever its batch, so this is a check (``verify=True``), not a repair; it costs one batch-1
        generation per pick."""
        t0 = time.perf_counter()
        again = self.regenerate(cand.seed)
        result.verification_samples += self.n
        if not np.array_equal(again, cand.audio):
            cand.batch_mismatch = True
            self._judge(cand, again)
            cand.reasons.append("note: the batched sample differed from the batch-1 regeneration; judged on the regeneration")
        cand.verified = True
        result.verification_seconds += time.perf_counter() - t0

    def _verify_accepted(self, result: SamplingResult) -> None:
        """Verify accepted candidates in seed order until ``keep`` of them stand."""
        ok = sum(c.meets_targets and c.verified for c in result.candidates)
        for c in result.candidates:
            if ok >= self.keep:
                break
            if c.meets_targets and not c.verified:
                self._verify(c, result)
                ok += c.meets_targets

    def _pick(self, result: SamplingResult) -> None:
        """The first ``keep`` accepted candidates (in seed order); when fewer passed, the closest
        complete ones fill up the picks (nearest first), flagged ``meets_targets=False``. With
        ``verify``, every pick's audio is its batch-1 regeneration from its seed."""
        good = [c for c in result.candidates if c.meets_targets and (c.verified or not self.verify)][: self.keep]
        rest = sorted((c for c in result.candidates if c.status == "rejected"), key=lambda c: (c.distance, c.index))
        rest = rest[: self.keep - len(good)]
        if self.verify:
            for c in rest:
                if not c.verified:
                    self._verify(c, result)
            rest.sort(key=lambda c: (not c.meets_targets, c.distance, c.index))
        for rank, c in enumerate(good + rest, 1):
            c.picked, c.rank = True, rank


def rejection_sample(model, targets: Sequence[str | Target], **kwargs) -> SamplingResult:
    """``RejectionSampler(model, targets, **kwargs).run()``."""
    progress = kwargs.pop("progress", None)
    cancel = kwargs.pop("cancel", None)
    return RejectionSampler(model, targets, **kwargs).run(progress=progress, cancel=cancel)
