"""Teaching notebooks: each one runs top to bottom in a fresh kernel within its time budget, and
the widget callbacks respond to their sliders (driven headlessly, without a browser).

Executed copies are written to pytest's temporary folder (or $WAVENET_NOTEBOOK_OUT), never over
the sources in notebooks/. Budgets are per notebook (pytest-timeout) and documented in
docs/notebooks.md.
"""
from __future__ import annotations

import json
import os
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
    "02_conditioning": (480, 6, 6),
    "03_sampling": (480, 4, 4),
    "04_autoencoder": (600, 6, 8),
    "05_train_your_own": (600, 3, 3),
}
CELL_TIMEOUT = 400


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


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECT)


def test_notebooks_are_committed_without_outputs():
    """Sources stay small and diffable: outputs live only in executed copies."""
    import nbformat

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert not _outputs(nb), f"{path.name} has outputs; clear them before committing"
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.timeout(EXPECT[n][0])) for n in sorted(EXPECT)])
def test_notebook_executes(name, kernel_home, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_home))     # first on the kernel search path
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("WAVENET_TEST_THREADS", "1"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("WAVENET_CACHE", str(tmp_path / "cache"))          # user-folder features (05)
    monkeypatch.setenv("WAVENET_CACHE_DIR", str(tmp_path / "cache"))      # novelty index (03)
    monkeypatch.setenv("TMPDIR", str(tmp_path))       # the kernel's tempfile.mkdtemp() folders (04, 05)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    out_dir = Path(os.environ.get("WAVENET_NOTEBOOK_OUT", tmp_path))
    try:
        client.execute()           # raises CellExecutionError on the first failing cell
    finally:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / f"{name}.ipynb")
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Traceback" not in stderr and "Exception in interact callback" not in stderr, stderr[-2000:]
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    audio = sum("<audio" in o.get("data", {}).get("text/html", "") for o in outputs)
    _, min_images, min_audio = EXPECT[name]
    assert images >= min_images, f"{name}: {images} figures, expected at least {min_images}"
    assert audio >= min_audio, f"{name}: {audio} audio players, expected at least {min_audio}"
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), "a code cell did not run"


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
