"""Teaching notebooks: committed executed (a teacher browsing the repository sees and hears them),
small, reproducible (a fresh execution prints the same text), and their text's claims hold in their
own outputs; each runs top to bottom in a fresh kernel within its time budget, and the widget
callbacks respond to their sliders (driven headlessly, without a browser).

Executed copies are written to pytest's temporary folder (or $WAVENET_NOTEBOOK_OUT), never over
the sources in notebooks/ (docs/notebooks.md has the command that refreshes the committed copies).
Budgets are per notebook (pytest-timeout) and documented in docs/notebooks.md.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"

# name → (time budget in s, minimum images, minimum audio players) in the executed notebook.
# Budgets are ~3× the time measured on the busy 2-core build machine (docs/notebooks.md).
EXPECT = {
    "01_wavenet_anatomy": (420, 5, 5),
    "02_conditioning": (600, 8, 10),
    "03_sampling": (480, 4, 4),
    "04_autoencoder": (600, 6, 8),
    "05_train_your_own": (600, 3, 3),
}
CELL_TIMEOUT = 400
MAX_BYTES = 1_000_000          # a committed (executed) notebook
# Notebooks whose owners have not yet committed them executed: their committed-output checks skip
# (with this reason) while the committed copy has no outputs at all, and apply in full once it has.
PENDING_EXECUTION = {"04_autoencoder": "04 is not committed executed yet (its owner re-executes it after the "
                                       "autoencoder fixes); its committed-output, teaching-structure, claim and "
                                       "reproduction checks apply once it has outputs"}
SECTIONS = ("learning objectives", "take-aways", "exercises")       # every notebook has these headings
PAPERS = {"01_wavenet_anatomy": ("1609.03499", "1712.04371"),
          "02_conditioning": ("1609.03499", "2207.12598", "1704.01279"),
          "03_sampling": ("1712.04371", "1609.03499"),
          "04_autoencoder": ("1704.01279",),
          "05_train_your_own": ("1609.03499", "1611.09482")}


@pytest.fixture(scope="session")
def kernel_home(tmp_path_factory) -> Path:
    """A `python3` kernel spec that runs this interpreter (this venv), whatever else is installed."""
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (wavenet venv)", "language": "python"}))
    return home


def _outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


_AUDIO = re.compile(r'(<audio\b.*?</audio>)', re.S)
_WIDGET_ID = re.compile(r"model_id='?[0-9a-f]{32}'?")


def _text_outputs(nb) -> list[list[str]]:
    """Per code cell, what a reader reads: stdout, plain/HTML/Markdown results — with audio players
    reduced to a placeholder and images left out (pixels and WAV bytes are compared loosely, by
    count, elsewhere). Stderr (library warnings) is left out too."""
    cells = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        texts = []
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                if o.get("name") == "stdout":
                    texts.append(o.get("text", ""))
                continue
            data = o.get("data", {})
            for mime in ("text/html", "text/markdown", "text/plain"):
                if mime in data and not _is_image(o) and "application/vnd.jupyter.widget-view+json" not in data:
                    texts.append(_WIDGET_ID.sub("model_id", _AUDIO.sub("<audio/>", "".join(data[mime]))))
                    break
        cells.append(["".join(texts)])
    return cells


def _is_image(output: dict) -> bool:
    return any(m in output.get("data", {}) for m in ("image/png", "image/jpeg"))


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb) if o.get("name") == "stdout")


def _key_figures(nb) -> dict:
    from wavenet_core.notebook_widgets import read_key_figures
    return read_key_figures(_stdout(nb))


def _committed(name: str):
    import nbformat
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _skip_if_pending(name: str, nb) -> None:
    if name in PENDING_EXECUTION and not _outputs(nb):
        pytest.skip(PENDING_EXECUTION[name])


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECT)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_notebooks_are_committed_executed_and_small(name):
    """Committed with their outputs (figures, players, tables), every code cell run once in order, no
    error, and under MAX_BYTES (low-dpi figures, short clips)."""
    import nbformat

    path = NOTEBOOKS / f"{name}.ipynb"
    nb = _committed(name)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    _skip_if_pending(name, nb)
    assert _outputs(nb), f"{name} is committed without outputs; execute it (docs/notebooks.md) before committing"
    counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{name}: cells not run once, top to bottom: {counts}"
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{name}: {size:,} bytes, limit {MAX_BYTES:,}"


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_notebooks_teach_with_objectives_takeaways_exercises_and_papers(name):
    nb = _committed(name)
    _skip_if_pending(name, nb)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    for heading in SECTIONS:
        assert re.search(rf"^#+ .*{heading}", text, re.M), f"{name}: no '{heading}' heading"
    section = re.search(r"^#+ [^\n]*exercises[^\n]*\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    n = len(re.findall(r"^\d+\. ", section.group(1), re.M))
    assert 2 <= n <= 4, f"{name}: {n} numbered exercises, expected 2–4"
    for paper in PAPERS[name]:
        assert f"arxiv.org/abs/{paper}" in text, f"{name}: no link to arXiv:{paper}"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.timeout(EXPECT[n][0])) for n in sorted(EXPECT)])
def test_notebook_executes_and_reproduces_its_committed_outputs(name, kernel_home, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_home))     # first on the kernel search path
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("WAVENET_TEST_THREADS", "1"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("WAVENET_CACHE", str(tmp_path / "cache"))          # user-folder features (05)
    monkeypatch.setenv("WAVENET_CACHE_DIR", str(tmp_path / "cache"))      # novelty index (03)
    monkeypatch.setenv("TMPDIR", str(tmp_path))       # the kernel's tempfile.mkdtemp() folders (04, 05)
    committed = _committed(name)
    nb = _committed(name)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    out_dir = Path(os.environ.get("WAVENET_NOTEBOOK_OUT", tmp_path))
    try:
        client.execute()           # raises CellExecutionError on the first failing cell
    finally:
        out_dir.mkdir(parents=True, exist_ok=True)
        nb.metadata.pop("widgets", None)    # slider state (100+ kB): the copy may be committed (docs/notebooks.md)
        nbformat.write(nb, out_dir / f"{name}.ipynb")
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Traceback" not in stderr and "Exception in interact callback" not in stderr, stderr[-2000:]
    images = sum(map(_is_image, outputs))
    audio = sum("<audio" in o.get("data", {}).get("text/html", "") for o in outputs)
    _, min_images, min_audio = EXPECT[name]
    assert images >= min_images, f"{name}: {images} figures, expected at least {min_images}"
    assert audio >= min_audio, f"{name}: {audio} audio players, expected at least {min_audio}"
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), "a code cell did not run"
    _skip_if_pending(name, committed)
    # the same text, tables and key figures as the committed copy; figures and players in the same places
    fresh, kept = _text_outputs(nb), _text_outputs(committed)
    for i, (a, b) in enumerate(zip(fresh, kept)):
        assert a == b, f"{name}, code cell {i + 1}: the fresh execution prints something else than the committed copy"
    assert len(fresh) == len(kept)
    assert images == sum(map(_is_image, _outputs(committed)))
    assert audio == sum("<audio" in o.get("data", {}).get("text/html", "") for o in _outputs(committed))


# ---- what each notebook's text claims, checked on its committed (reproduced) outputs -------------
def _figures(name: str) -> dict:
    nb = _committed(name)
    _skip_if_pending(name, nb)
    figures = _key_figures(nb)
    assert figures, f"{name} prints no key figures"
    return figures


def test_01_mu_law_and_receptive_field_claims():
    f = _figures("01_wavenet_anatomy")
    lin, mu = f["snr_linear"], f["snr_mu_law"]
    # "the linear SNR falls by about as many dB as the level; the μ-law SNR changes far less"
    assert lin["0"] - lin["-40"] >= 30 and max(mu.values()) - min(mu.values()) <= 6, f
    assert mu["-30"] > lin["-30"] + 10 and lin["0"] >= mu["0"], f        # quiet: μ-law wins; full level: linear
    # "one period of C3 lasts 7.6 ms, so about four fit in the 32 ms receptive field"
    assert round(f["c3_period_ms"], 1) == 7.6 and round(f["receptive_field_ms"]) == 32
    assert 3.5 <= f["c3_periods_in_field"] <= 4.5 and f["frame_ms"] == 10
    assert f["gated_unit_matches_code"] is True
    assert f["cross_entropy_bits"] < 2, "the take-aways say under 2 bits per sample"


def test_02_conditioning_claims():
    f = _figures("02_conditioning")
    checks = f["explorer_checks"]
    # the level row compares like with like: the level asked over the sustained frames, not the peak
    asked_level = float(checks["level"]["asked"].split()[0])
    assert asked_level <= f["explorer_peak_db"] - 4, checks
    # "a saw asked at C4: pitch in tune, level met, but the timbre judge hears a clarinet"
    assert checks["pitch"]["met"] is True and checks["level"]["met"] is True, checks
    assert checks["timbre"]["asked"] == "saw" and checks["timbre"]["met"] is False, checks
    # "both takes play the four notes in tune ... the pluck take is heard as a clarinet too"
    for instrument, m in f["melody"].items():
        assert m["notes"] == 4 and m["notes_in_tune"] == 4, f["melody"]
    assert f["melody"]["clarinet"]["timbre_met"] is True
    assert f["melody"]["pluck"]["timbre_met"] is False and f["melody"]["pluck"]["timbre_heard"] == "clarinet"
    # "at strengths 0 and 1 the swell stays almost silent (tens of dB off); at 2 it sounds, in tune"
    g = f["strength"]
    assert g["0.0"]["level_l1_db"] > 20 and g["1.0"]["level_l1_db"] > 20, g
    assert g["2.0"]["level_l1_db"] < 10 and g["2.0"]["sounds_s"] >= 0.36 and g["2.0"]["pitch_met"] is True, g
    # three instruments, the same four-note tune, each judged note by note
    trio = f["trio"]
    if not trio:
        pytest.skip("notebook 02 was executed without the instruments model")
    assert sorted(trio) == ["piano", "trumpet", "violin"]
    assert all(m["notes"] == 4 and len(m["measured_midi"]) == 4 for m in trio.values()), trio


def test_03_sampling_claims():
    f = _figures("03_sampling")
    # "every free candidate is unpitched"
    assert f["pool"] == 24 and f["pool_pitched"] == 0 and f["pool_voiced_max"] < 0.5, f
    # the loud, bright corner is reached, and early rejection stopped some candidates
    assert f["rejection_accepted"] >= 1 and f["rejection_early_rejected"] >= 1 and f["rejection_saved_fraction"] > 0
    # "rejection and both keep nothing; conditioning alone misses; conditioning + verify meets the goal"
    met = f["goal_met"]
    assert met["rejection"] == 0 and met["both"] == 0 and met["conditioning"] < f["outputs"], met
    assert met["conditioning+verify"] == f["outputs"], met
    # novelty: 0 for a training clip, low for unseen corpus clips and conditioned notes, high for free clips
    n = f["novelty"]
    assert n["training"] == [0.0] and max(n["conditioned"]) < 1.0, n
    assert min(n["free"]) > 3 * max(n["conditioned"] + n["unseen"]), n
    assert len(set(n["conditioned"])) == len(n["conditioned"]), "the conditioned notes should differ in novelty"


def test_05_loss_curves_show_overfitting():
    """The text: both losses fall at first; then training keeps falling while validation bottoms out
    and climbs again (overfitting a tiny corpus), so more steps would not help."""
    f = _figures("05_train_your_own")
    assert f["files"] == 8
    assert f["val_best"] < f["val_first"] - 1.0 and f["train_last"] < f["train_first"] - 1.0, f
    assert f["val_best_step"] < f["steps"] and f["val_last"] >= f["val_best"] + 0.03, f      # it climbs again
    assert f["train_last"] < f["val_last"] - 0.3, f                                         # a widening gap


# ---- widget callbacks, headless ------------------------------------------------------------------
@pytest.fixture(scope="module")
def notes_model():
    from wavenet_core import load_model
    return load_model("notes")


def test_pitch_slider_raises_measured_pitch(notes_model):
    """Two octaves up on the pitch slider: the requested pitch follows and the clip measures higher."""
    from wavenet_core.notebook_widgets import conditioning_explorer, control

    w = conditioning_explorer(notes_model, seconds=0.5, instrument="organ", show=False)
    assert w.result["asked"]["pitch"] == 60 and "audio" in w.result
    measured = {}
    for midi in (48, 72):
        control(w, "pitch").value = midi
        assert w.result["asked"]["pitch"] == midi
        measured[midi] = w.result["measured"]
    # brightness (spectral centroid) rises with the fundamental; pitch too when pYIN hears a note
    assert measured[72]["brightness"] > measured[48]["brightness"] * 1.3, measured
    if measured[48]["pitch"] is not None and measured[72]["pitch"] is not None:
        assert measured[72]["pitch"] > measured[48]["pitch"] + 6, measured


def test_level_mix_and_temperature_sliders(tiny_model):
    from wavenet_core.notebook_widgets import conditioning_explorer, control

    names = tiny_model.config.instrument_names
    w = conditioning_explorer(tiny_model, seconds=0.25, instrument=names[0], show=False)
    base = w.result["audio"]
    control(w, names[0]).value = 0.0
    control(w, names[1]).value = 1.0
    assert w.result["asked"]["mix"] == {names[1]: 1.0}
    assert not np.array_equal(w.result["audio"], base)
    for name in names:                               # all at zero: the instrument is left free
        control(w, name).value = 0.0
    assert w.result["asked"]["mix"] == "free" and "audio" in w.result
    control(w, "temperature").value = 0.0            # argmax decoding: a different clip, same seed
    greedy = w.result["audio"]
    control(w, "temperature").value = 1.0
    assert not np.array_equal(greedy, w.result["audio"])
    assert w.result["asked"]["temperature"] == 1.0
    # the cache gives the same result object back for settings already seen
    control(w, "temperature").value = 0.0
    assert w.result["audio"] is greedy


def test_latent_sliders_move_along_principal_directions():
    """An untrained tiny autoencoder with PCA fitted on a few corpus clips is enough to check the
    wiring: the PC slider moves the latent's coordinate by that many standard deviations."""
    import torch

    from wavenet_core.model.autoencoder import WaveNetAutoencoder, autoencoder_config
    from wavenet_core.controls.autoencoder import fit_pca
    from wavenet_core.data.corpus import NoteCorpus
    from wavenet_core.notebook_widgets import control, latent_explorer

    torch.manual_seed(0)
    ae = WaveNetAutoencoder(autoencoder_config("tiny"))
    clips = [e.audio for e in NoteCorpus(size=8, seconds=0.5, seed=3)]
    fit_pca(ae, clips)
    w = latent_explorer(ae, clips[0], n_directions=3, show=False)
    c0 = w.result["coordinates"]
    control(w, "PC 1").value = 2.0
    c1 = w.result["coordinates"]
    assert c1[0] == pytest.approx(c0[0] + 2.0, abs=1e-3)
    assert np.allclose(c1[1:], c0[1:], atol=1e-3)
    control(w, "PC 2").value = -1.5
    c2 = w.result["coordinates"]
    assert c2[1] == pytest.approx(c0[1] - 1.5, abs=1e-3) and c2[0] == pytest.approx(c1[0], abs=1e-3)
    assert w.result["audio"].shape == (len(w.result["latent"]) * ae.config.hop_length,)


def test_control_lookup_names_the_choices(tiny_model):
    from wavenet_core.notebook_widgets import conditioning_explorer, control

    w = conditioning_explorer(tiny_model, seconds=0.25, show=False)
    with pytest.raises(KeyError, match="pitch"):
        control(w, "no such slider")


def test_target_sliders_change_acceptance():
    """Judged on a synthetic pool: a wider range accepts more, with exact counts."""
    from wavenet_core.notebook_widgets import control, judge_pool, target_explorer

    loud, bright = np.linspace(-40, -10, 20), np.linspace(500, 3000, 20)
    pool = {"candidates": [{"index": i, "seed": i, "status": "rejected",
                            "descriptors": {"loudness": float(a), "brightness": float(b)}}
                           for i, (a, b) in enumerate(zip(loud, bright))], "targets": []}
    w = target_explorer(pool, "loudness", "brightness", show=False)
    control(w, "brightness").value = (0.0, 5000.0)
    control(w, "loudness").value = (-40.0, -10.0)
    assert w.result["accepted"] == 20 and w.result["acceptance_rate"] == 1.0
    control(w, "loudness").value = (-25.0, -10.0)
    expected = int(np.sum(loud >= -25.0))
    assert w.result["accepted"] == expected and w.result["candidates_per_keeper"] == pytest.approx(20 / expected)
    control(w, "brightness").value = (500.0, 1000.0)             # disjoint from the loud end: none pass
    assert w.result["accepted"] == 0 and w.result["candidates_per_keeper"] is None
    assert judge_pool(pool, ["loudness=-40..-30"], show=False)["accepted"] == int(np.sum(loud <= -30))
