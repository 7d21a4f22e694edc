"""Warm start: a new model begins from a trained checkpoint's weights wherever they fit.

Adding a conditioning input (say the sine excitation) changes only the input width of every
layer's 1×1 conditioning projection. Those weights are copied block by block — the upsampled
local features, the excitation, the context and the global vector each keep their own columns —
and a block the old model did not have starts at zero, so the new model first computes exactly
what the old one did and training teaches it to use the new input. Any other tensor is copied
when its shape matches and left as initialised otherwise (e.g. an instrument table of another size).
"""
from __future__ import annotations

import torch

from ..model.wavenet import WaveNet


def _wavenets(model: torch.nn.Module) -> list[tuple[str, WaveNet]]:
    """(prefix, WaveNet) pairs inside ``model``: the model itself or, e.g., an autoencoder's decoder."""
    return [(name + "." if name else "", m) for name, m in model.named_modules() if isinstance(m, WaveNet)]


@torch.no_grad()
def warm_start(new: torch.nn.Module, old: torch.nn.Module) -> dict[str, list[str]]:
    """Copy ``old``'s weights into ``new`` where they fit; returns what was copied, widened and skipped."""
    old_state = old.state_dict()
    report: dict[str, list[str]] = {"copied": [], "widened": [], "skipped": []}
    widened: dict[str, torch.Tensor] = {}
    old_nets = dict(_wavenets(old))
    for prefix, net in _wavenets(new):
        old_net = old_nets.get(prefix)
        if old_net is None:
            continue
        new_blocks, old_blocks = net.cond_blocks(), old_net.cond_blocks()
        if new_blocks == old_blocks:
            continue                                       # identical layout: the plain copy below does it
        old_col, start = {}, 0                             # block name -> (first column, width) in the old model
        for name, width in old_blocks:
            old_col[name] = (start, width)
            start += width
        for i, layer in enumerate(net.layers):
            key = f"{prefix}layers.{i}.cond.weight"
            if layer.cond is None or key not in old_state:
                continue
            src = old_state[key]
            w = torch.zeros_like(layer.cond.weight)
            col = 0
            for name, width in new_blocks:
                if name in old_col and old_col[name][1] == width and src.shape[0] == w.shape[0]:
                    a = old_col[name][0]
                    w[:, col: col + width] = src[:, a: a + width]
                col += width
            widened[key] = w
    state = new.state_dict()
    for key, value in state.items():
        if key in widened:
            value.copy_(widened[key])
            report["widened"].append(key)
        elif key in old_state and old_state[key].shape == value.shape:
            value.copy_(old_state[key])
            report["copied"].append(key)
        else:
            report["skipped"].append(key)
    return report
