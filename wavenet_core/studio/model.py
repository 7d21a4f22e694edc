"""The Model tab: an installed model's architecture, receptive field (also against a beat, a note
and a bar at a chosen tempo), training curves and card."""
from __future__ import annotations

import csv
from pathlib import Path

import gradio as gr

from ..plots import receptive_field_figure, training_curves_figure
from .server import ModelShelf, Studio, friendly, kind_of, number

DEFAULT_TEMPO = 120


def dilation_text(dilations: list[int]) -> str:
    """[1,2,4,8,1,2,4,8] → '1, 2, 4, 8 (× 2 stacks)'."""
    if not dilations:
        return "—"
    n = dilations.index(dilations[0], 1) if dilations.count(dilations[0]) > 1 else len(dilations)
    one = dilations[:n]
    if one * (len(dilations) // n) == dilations and len(dilations) > n:
        return f"{', '.join(map(str, one))} (× {len(dilations) // n} stacks)"
    return ", ".join(map(str, dilations))


def training_rows(checkpoint_path: str) -> list[dict]:
    """Rows of the training log shipped next to a checkpoint (log.csv), if any."""
    path = Path(checkpoint_path).with_name("log.csv")
    if not path.is_file() or path.stat().st_size > 5_000_000:
        return []
    try:
        with open(path, newline="") as f:
            rows = [{k: float(v) for k, v in r.items() if v not in (None, "")} for r in csv.DictReader(f)]
        need = {"step", "train_loss", "val_loss", "train_acc", "val_acc"}
        return [r for r in rows if need <= set(r)]
    except (OSError, ValueError):
        return []


def wavenet_config(model):
    """The WaveNetConfig that decides the receptive field (an autoencoder's decoder for autoencoders)."""
    cfg = model.config
    if hasattr(cfg, "dilations"):
        return cfg
    for attr in ("decoder", "wavenet"):
        sub = getattr(model, attr, None)
        if sub is not None and hasattr(getattr(sub, "config", None), "dilations"):
            return sub.config
    return None


def model_summary(name: str, model) -> str:
    """Markdown architecture summary of a loaded model."""
    cfg = wavenet_config(model)
    n_params = sum(p.numel() for p in model.parameters())
    lines = [f"### {name} — {kind_of(model)}, {n_params:,} parameters", "", "| property | value |", "|---|---|"]
    if cfg is not None:
        lines += [
            f"| layers | {cfg.n_layers} ({cfg.stacks} stack{'s' * (cfg.stacks > 1)} × {cfg.layers_per_stack}) |",
            f"| dilations | {dilation_text(list(cfg.dilations))} |",
            f"| channels | residual {cfg.residual_channels} · gate {cfg.gate_channels} · skip {cfg.skip_channels} |",
            f"| receptive field | {cfg.receptive_field} samples = {cfg.receptive_field_ms:.1f} ms at {cfg.sample_rate} Hz |",
        ]
        cond = []
        if cfg.n_instruments:
            cond.append(f"instruments: {', '.join(cfg.instrument_names) or cfg.n_instruments}")
        if cfg.local_dim:
            cond.append(f"pitch and loudness every {cfg.hop_length} samples ({1000 * cfg.hop_length / cfg.sample_rate:.0f} ms)")
        if cfg.context_layers:
            cond.append(f"context stack of {cfg.context_layers} layers over {cfg.context_hop}-sample frames")
        if cfg.global_dim:
            cond.append(f"{cfg.global_dim}-d global vector")
        if hasattr(model.config, "latent_dim"):
            ac = model.config
            cond = [f"the latent: {ac.latent_dim} numbers every {ac.hop_length} samples ({ac.frame_rate:g} frames/s)"]
            lines.append(f"| encoder | log-STFT ({ac.n_fft}-point, hop {ac.encoder_hop}) → {len(ac.encoder_dilations)} "
                         f"non-causal layers (dilations {', '.join(map(str, ac.encoder_dilations))}), "
                         f"{ac.encoder_channels} channels |")
        lines.append(f"| conditioning | {'; '.join(cond) or 'none (unconditional)'} |")
    info = getattr(model, "training_info", {}) or {}
    if info:
        parts = []
        if "step" in info:
            parts.append(f"{int(info['step']):,} steps")
        final = info.get("final") or {}
        if "val_loss" in final:
            parts.append(f"validation loss {final['val_loss']:.3f} nats, next-sample accuracy {100 * final.get('val_acc', 0):.1f} %")
        if "wall_time_s" in info:
            wall = float(info["wall_time_s"])
            parts.append(f"{wall / 60:.0f} min of training" if wall >= 90 else f"{wall:.0f} s of training")
        if parts:
            lines.append(f"| training | {' · '.join(parts)} |")
    lines.append("| generator | fast (compiled) |")
    return "\n".join(lines)


def musical_spans(config, tempo: float) -> list[tuple[str, float]]:
    """(name, ms) of the model's time spans and of musical ones at ``tempo`` BPM (4/4): what the receptive
    field and the conditioning frame mean in a bar of music."""
    sr = config.sample_rate
    spans = [("receptive field", 1000 * config.receptive_field / sr)]
    if getattr(config, "local_dim", 0):
        spans.append(("conditioning frame", 1000 * config.hop_length / sr))
    beat = 60_000 / tempo
    spans += [("a sixteenth note", beat / 4), ("an eighth note", beat / 2), ("a beat (quarter note)", beat),
              ("a bar of 4/4", 4 * beat)]
    return spans


def tempo_table(config, tempo) -> str:
    """Markdown: each span in ms, how many fit in a beat and what share of a bar it is."""
    tempo = number(tempo, "Tempo", 20, 400, " BPM")
    beat = 60_000 / tempo
    rows = ["| span | length | beats | share of a bar |", "|---|---|---|---|"]
    for name, ms in musical_spans(config, tempo):
        rows.append(f"| {name} | {ms:,.1f} ms | {ms / beat:.3g} | {100 * ms / (4 * beat):.3g} % |")
    rf = 1000 * config.receptive_field / config.sample_rate
    rows += ["", f"At {tempo:g} BPM one prediction hears the last **{rf:.1f} ms**: **{100 * rf / beat:.2g} % of a beat**; "
                 "everything longer (a note's shape, a melody) comes from the conditioning, frame by frame."]
    return "\n".join(rows)


def model_page(shelf: ModelShelf, name, tempo=DEFAULT_TEMPO) -> tuple:
    """(summary markdown, receptive-field figure, tempo table, training-curves figure, card markdown)."""
    model = shelf.get(name)
    cfg = wavenet_config(model)
    rf = receptive_field_figure(cfg) if cfg is not None else None
    rows = training_rows(getattr(model, "checkpoint_path", ""))
    curves = training_curves_figure(rows) if rows else None
    card_path = Path(getattr(model, "checkpoint_path", "")).with_name("card.md")
    card = ""
    if card_path.is_file() and card_path.stat().st_size < 200_000:
        # "~" is strikethrough in Gradio's Markdown; the cards use it for "about" (~1 h).
        card = card_path.read_text(encoding="utf-8", errors="replace").replace("~", "\\~")
    if not rows:
        card = ("*No training log (log.csv) is shipped with this model, so there are no curves to show.*\n\n" + card)
    table = tempo_table(cfg, tempo) if cfg is not None else ""
    return model_summary(name, model), rf, table, curves, card or "*No model card (card.md) for this model.*"


def model_tab(studio: Studio, initial_name) -> dict:
    names = studio.shelf.names()
    picker = gr.Dropdown(names, value=initial_name, label="Show the model", elem_id="model-info-picker",
                         info="Any installed model: WaveNets and autoencoders.")
    first = (model_page(studio.shelf, initial_name) if initial_name
             else ("*No models installed.*", None, "", None, ""))
    summary = gr.Markdown(first[0], elem_id="model-summary")
    rf_plot = gr.Plot(first[1], label="Receptive field", show_label=False, format="png", elem_classes=["model-rf"])
    with gr.Row():
        tempo = gr.Slider(40, 240, value=DEFAULT_TEMPO, step=1, label="Tempo (BPM)", elem_id="model-tempo", scale=1,
                          info="The receptive field and the conditioning frame against a beat, a note and a bar.")
        spans = gr.Markdown(first[2], elem_id="model-tempo-table")
    curves = gr.Plot(first[3], label="Training curves", show_label=False, format="png", elem_classes=["model-curves"])
    with gr.Accordion("Model card", open=False):
        card = gr.Markdown(first[4], elem_id="model-card")

    @friendly
    def model_info(name, tempo_=DEFAULT_TEMPO):
        """Architecture summary, receptive-field figure, tempo table, training curves and card of an installed model."""
        return model_page(studio.shelf, name, DEFAULT_TEMPO if tempo_ is None else tempo_)

    picker.change(model_info, [picker, tempo], [summary, rf_plot, spans, curves, card], api_name="model_info",
                  concurrency_id="light", concurrency_limit=4)

    @friendly
    def model_tempo(name, tempo_):
        """The tempo table alone (the tempo slider moved)."""
        cfg = wavenet_config(studio.shelf.get(name))
        return tempo_table(cfg, tempo_) if cfg is not None else ""

    tempo.change(model_tempo, [picker, tempo], spans, api_name="model_tempo", queue=False, api_visibility="private")

    def on_model(name):
        return [gr.update(value=name)]

    return {"on_model": (on_model, [picker]), "pickers": [(picker, None)]}
