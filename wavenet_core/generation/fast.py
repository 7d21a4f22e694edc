"""Fast WaveNet generation (Paine et al., 2016, arXiv 1611.09482): O(layers) work per sample.

How it works
------------
* Every dilated layer keeps a ring buffer ("queue") of its past inputs, one slot per sample of
  its dilation, so a new sample reads the one past input it needs instead of recomputing the
  receptive field.
* The first layer's input is an embedding of the previous class, so its dilated convolution is
  folded into two 256 × G tables (embedding @ tap) looked up by class; the embedding itself is
  the residual stream.
* Conditioning is projected by each layer's 1×1 ``cond`` weights outside the per-sample loop:
  the global vector once (with the dilated biases), the upsampled local features per chunk of
  samples (never the whole clip, which can be GBs), and the context stack once per context
  frame, from the audio generated so far.
* One numba-compiled loop (cached on disk) runs all layers, the skip sum, the head and the
  sampling for a chunk of samples and a group of streams. Weights are float32 [output, input],
  zero-padded to multiples of 4 channels; products are dot products with the accumulators in
  registers, 4 outputs at a time, except the short residual products, which update rows of
  outputs. Each stream runs the same compiled arithmetic whatever the batch, so a stream's
  samples do not depend on the streams generated with it. tanh and sigmoid use
  a rational approximation (≤ 4e-7 absolute error) that vectorises, unlike libm calls.
* Sampling inside the loop follows ``inputs.sample_from_logits`` (float64 softmax, numpy's
  summation order, first class above u·total, argmax at temperature 0; its exp is a vectorised
  polynomial within 4e-16 of libm's), so fast and reference paths give the same samples for
  the same seeds.
* Batches of streams are split over threads (the kernel releases the GIL); progress and
  cancellation are checked between chunks.
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from numba import njit

from .inputs import Cancelled, ModelInputs, ProgressFn
from ..model.wavenet import WaveNet, sine_excitation
from ..model.mulaw import SILENCE_CLASS, mu_law_decode

# Reassociation and contraction let LLVM vectorise the dot products and use FMAs; no 'afn'
# (approximate libm) and no finite-math assumptions. The sampling function gets only
# 'contract' (for its exp polynomial), so its float64 sums follow numpy's order.
# error_model="numpy": no zero-division checks, which would stop the loops vectorising.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# Chunk sizes: projected conditioning per chunk stays under ~4 MB, upsampled local features
# under ~16 MB per block; a chunk is also the unit of progress reports and cancellation.
_CHUNK_WORK = 16384         # samples × streams per chunk: ~0.1–0.3 s between cancellation checks
_COND_BYTES = 4 << 20
_LOCAL_BYTES = 16 << 20
_UPSAMPLE_MARGIN = 4        # frames of left context that make chunked upsampling exact
_EXC_FRAMES = 32            # frames per excitation block (fixed positions, see _Conditioning._excitation)


# ---- compiled kernel -------------------------------------------------------------------------
# Eigen's float tanh: a 13/6 rational approximation on [-7.99, 7.99] (abs error ≤ 4e-7), kept
# float32 (module-level np.float32 constants are frozen as float32 by numba).
_F = np.float32
_CLAMP = _F(7.99881172180175781)
_A13, _A11, _A9, _A7 = _F(-2.76076847742355e-16), _F(2.00018790482477e-13), _F(-8.60467152213735e-11), _F(5.12229709037114e-08)
_A5, _A3, _A1 = _F(1.48572235717979e-05), _F(6.37261928875436e-04), _F(4.89352455891786e-03)
_B6, _B4, _B2, _B0 = _F(1.19825839466702e-06), _F(1.18534705686654e-04), _F(2.26843463243900e-03), _F(4.89352518554385e-03)
_HALF = _F(0.5)


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy", inline="always")
def _tanh(x):
    x = x if x < _CLAMP else _CLAMP     # selects, not min/max calls, so the loop vectorises
    x = x if x > -_CLAMP else -_CLAMP
    x2 = x * x
    p = ((((((x2 * _A13 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * x
    q = ((x2 * _B6 + _B4) * x2 + _B2) * x2 + _B0
    return p / q


# exp for the float64 softmax, written so the loop vectorises (libm exp is a scalar call that
# cost ~15 % of the kernel): x = n·ln2 + r, exp(r) by its Taylor series to r¹³ (relative
# error < 1e-16 for |r| ≤ ln2/2), 2ⁿ assembled in the exponent bits. Adding 1.5·2⁵² rounds
# x·log2(e) to an integer n held in the low mantissa bits.
_SHIFT = 6755399441055744.0
_SHIFT_BITS = int(np.array(_SHIFT).view(np.int64))
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_FACT = tuple(1.0 / math.factorial(i) for i in range(14))


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _sample(lg, k, u, temperature, z, tbits, scale):
    """``inputs.sample_from_logits`` for stream k of lg (float64 softmax, cumulative sum, first
    class above u·total; argmax at temperature 0). No reassociation: the sums run in numpy's order.
    z (float64), tbits and scale (int64) are scratch arrays of length Q."""
    q = lg.shape[1]
    if temperature <= 0:
        best = 0
        vbest = np.float64(lg[k, 0])
        for i in range(1, q):
            v = np.float64(lg[k, i])
            if v > vbest:
                vbest = v
                best = i
        return best
    zmax = -np.inf
    for i in range(q):
        z[i] = np.float64(lg[k, i]) / temperature
        zmax = z[i] if z[i] > zmax else zmax
    tf = tbits.view(np.float64)
    for i in range(q):
        x = z[i] - zmax
        x = x if x > -708.0 else -708.0            # exp(-708) ~ 3e-308: below any total's ulp
        t = x * _LOG2E + _SHIFT
        n = t - _SHIFT
        r = (x - n * _LN2_HI) - n * _LN2_LO
        p = _INV_FACT[13]
        p = p * r + _INV_FACT[12]
        p = p * r + _INV_FACT[11]
        p = p * r + _INV_FACT[10]
        p = p * r + _INV_FACT[9]
        p = p * r + _INV_FACT[8]
        p = p * r + _INV_FACT[7]
        p = p * r + _INV_FACT[6]
        p = p * r + _INV_FACT[5]
        p = p * r + _INV_FACT[4]
        p = p * r + _INV_FACT[3]
        p = p * r + _INV_FACT[2]
        p = p * r + _INV_FACT[1]
        p = p * r + _INV_FACT[0]
        tf[i] = t
        z[i] = p
    for i in range(q):
        scale[i] = (tbits[i] - _SHIFT_BITS + 1023) << 52
    sf = scale.view(np.float64)
    for i in range(q):
        z[i] = z[i] * sf[i]
    c = 0.0
    for i in range(q):                              # numpy's cumsum order
        c += z[i]
        z[i] = c
    target = u * c
    for i in range(q):
        if z[i] > target:
            return i
    return q - 1


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")
def _matmul_acc(x, x0, w, wi, y, nb):
    """y[k, :] += w[wi] @ x[k, x0:x0 + K] for rows k < nb; w[wi] is (N, K), [output, input].

    Dot products, 4 outputs at a time, with the accumulators in registers. Every row runs the
    same compiled reduction, so a stream's rounding does not depend on the batch it is in
    (blocking streams together, 4 × 2, was ~15 % faster but rounded differently from a single
    stream, and same-seed samples must not depend on the batch). Rows loop inside an output
    block, so the block's weights stay in L1 for all streams.
    """
    n_out, kdim = w.shape[1], w.shape[2]
    for i in range(0, n_out, 4):
        for k in range(nb):
            a0 = a1 = a2 = a3 = np.float32(0)
            for j in range(kdim):
                v = x[k, x0 + j]
                a0 += w[wi, i, j] * v
                a1 += w[wi, i + 1, j] * v
                a2 += w[wi, i + 2, j] * v
                a3 += w[wi, i + 3, j] * v
            y[k, i] += a0
            y[k, i + 1] += a1
            y[k, i + 2] += a2
            y[k, i + 3] += a3


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")
def _axpy_acc(x, x0, w, wi, y, nb):
    """y[k, :] += x[k, x0:x0 + K] @ w[wi] for rows k < nb; w[wi] is (K, N), [input, output].

    Row-update form (the inner loop runs over contiguous outputs): no horizontal sums, so it
    beats the dot form on the short 32-input residual products; each output accumulates in
    input order, the same for every row.
    """
    kdim, n_out = w.shape[1], w.shape[2]
    for k in range(nb):
        for j in range(kdim):
            v = x[k, x0 + j]
            for i in range(n_out):
                y[k, i] += w[wi, j, i] * v


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")
def _project(rows, w, const, out):
    """out[r] = const[r mod B] + rows[r] @ w[0]: per-sample conditioning of (sample, stream) rows
    projected by every layer's cond weights, w[0] (U + E, L·G) [input, output]. Row-update form:
    the inner loop runs over the L·G contiguous outputs (no horizontal sums), ~2× the dot form
    here. In numba rather than BLAS: OpenBLAS's threads spin on a busy machine and ran these
    thin products at under 1 GMAC/s, and every row must round the same whatever its batch."""
    batch = const.shape[0]
    for r in range(rows.shape[0]):
        for i in range(out.shape[1]):
            out[r, i] = const[r % batch, i]
    _axpy_acc(rows, 0, w, 0, out, rows.shape[0])


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")
def _run(t0, t1, b0, b1, classes, uniforms, cond, cond_step, tab0, tab1, emb, wd, wr, br, ws, bs,
         w1, b1v, w2, b2, dil, qoff, queue, temperature, logits_out, paired, guidance):
    """Generate samples t0..t1-1 of streams b0..b1-1 in place (classes, queue, logits_out).

    ``paired``: streams come in (conditioned, free twin) pairs from an even b0; the pair samples
    one class from the guided logits ``free + guidance · (conditioned − free)``, and both streams
    continue from it."""
    n_streams = classes.shape[0]
    n_layers = wd.shape[0]
    r = emb.shape[1]
    g = tab0.shape[1]
    half = g // 2
    s = bs.shape[0]
    nq = b2.shape[0]
    nb = b1 - b0
    want_logits = logits_out.shape[0] > 0
    h = np.empty((nb, r), np.float32)         # residual stream
    xin = np.empty((nb, 2 * r), np.float32)   # [past input, current input] of a dilated layer
    pre = np.empty((nb, g), np.float32)       # gate pre-activations
    z = np.empty((nb, n_layers * half), np.float32)  # gated outputs of all layers (skip input)
    sk = np.empty((nb, s), np.float32)
    a1 = np.empty((nb, s), np.float32)
    lg = np.empty((nb, nq), np.float32)
    zbuf = np.empty(nq, np.float64)         # sampling scratch
    tbits = np.empty(nq, np.int64)
    scale = np.empty(nq, np.int64)
    d0 = dil[0]
    for t in range(t0, t1):
        ci = (t - t0) * cond_step
        # Layer 0: the dilated conv of embedded classes is a sum of two table rows. Input t is
        # class x[t-1] (silence at t = 0); before that the conv's zero padding (table row nq).
        for k in range(nb):
            b = b0 + k
            cur = classes[b, t - 1] if t > 0 else SILENCE_CLASS
            p = t - d0
            past = nq if p < 0 else (SILENCE_CLASS if p == 0 else classes[b, p - 1])
            for i in range(g):
                pre[k, i] = cond[ci, b, i] + tab0[past, i] + tab1[cur, i]
            for i in range(r):
                h[k, i] = emb[cur, i]
        for layer in range(n_layers):
            if layer > 0:
                # Ring buffer of this layer's inputs: slot t mod d holds the input of t - d.
                base = qoff[layer] + (t & (dil[layer] - 1)) * n_streams * r
                off = layer * g
                for k in range(nb):
                    qb = base + (b0 + k) * r
                    for i in range(r):
                        xin[k, i] = queue[qb + i]
                        xin[k, r + i] = h[k, i]
                        queue[qb + i] = h[k, i]
                    for i in range(g):
                        pre[k, i] = cond[ci, b0 + k, off + i]
                _matmul_acc(xin, 0, wd, layer, pre, nb)
            zo = layer * half
            for k in range(nb):
                for i in range(half):
                    z[k, zo + i] = _tanh(pre[k, i]) * (_HALF + _HALF * _tanh(_HALF * pre[k, half + i]))
            if layer < n_layers - 1:
                for k in range(nb):
                    for i in range(r):
                        h[k, i] += br[layer, i]
                _axpy_acc(z, zo, wr, layer, h, nb)
        # Skip sum of all layers as one product, then relu → 1×1 → relu → 1×1 → sample.
        for k in range(nb):
            for i in range(s):
                sk[k, i] = bs[i]
                a1[k, i] = b1v[i]
            for i in range(nq):
                lg[k, i] = b2[i]
        _matmul_acc(z, 0, ws, 0, sk, nb)
        for k in range(nb):
            for i in range(s):
                sk[k, i] = max(sk[k, i], np.float32(0))
        _matmul_acc(sk, 0, w1, 0, a1, nb)
        for k in range(nb):
            for i in range(s):
                a1[k, i] = max(a1[k, i], np.float32(0))
        _matmul_acc(a1, 0, w2, 0, lg, nb)
        for k in range(0, nb, 2 if paired else 1):
            b = b0 + k
            if paired:
                for i in range(nq):
                    lg[k, i] = lg[k + 1, i] + guidance * (lg[k, i] - lg[k + 1, i])
            if want_logits:
                for i in range(nq):
                    logits_out[t - t0, b, i] = lg[k, i]
            c = _sample(lg, k, uniforms[b, t], temperature, zbuf, tbits, scale)
            classes[b, t] = c
            if paired:
                classes[b + 1, t] = c


# ---- weights --------------------------------------------------------------------------------
def _pad4(n: int) -> int:
    return -(-n // 4) * 4


@dataclass
class FastWeights:
    """The model's weights as float32 contiguous [output, input] arrays for the kernel.

    (The residual 1×1 alone is [input, output].) Channel counts are padded with zero weights to
    multiples of 4 (R, S, each gate half), so the kernel's blocked loops need no remainders;
    padded channels stay exactly zero.
    """
    tab0: np.ndarray      # (Q + 1, G) embedding @ past tap of layer 0; last row = zero padding
    tab1: np.ndarray      # (Q, G) embedding @ current tap of layer 0
    emb: np.ndarray       # (Q, R) residual stream input
    wd: np.ndarray        # (L, G, 2R) dilated taps [past | current] (layer 0 unused)
    bd: np.ndarray        # (L, G) dilated biases (folded into the conditioning)
    wr: np.ndarray        # (L, G/2, R) residual 1×1, [input, output] (see _axpy_acc)
    br: np.ndarray        # (L, R)
    ws: np.ndarray        # (1, S, L·G/2) skip 1×1 of all layers (head weights carry a leading 1)
    bs: np.ndarray        # (S,) sum of skip biases
    w1: np.ndarray        # (1, S, S)
    b1: np.ndarray
    w2: np.ndarray        # (1, Q, S)
    b2: np.ndarray
    wc: np.ndarray | None  # (cond_dim, L·G) conditioning projection of all layers
    dil: np.ndarray       # (L,) int64 dilations (powers of two)

    @property
    def n_layers(self) -> int:
        return self.wd.shape[0]

    def queue_offsets(self, batch: int) -> tuple[np.ndarray, int]:
        """Offsets of each layer's ring buffer (dilation slots × batch × R) in one flat array."""
        r = self.emb.shape[1]
        sizes = [0] + [int(d) * batch * r for d in self.dil[1:]]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return offsets, int(sum(sizes))


def _f32(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().double().numpy()
    return np.ascontiguousarray(t, dtype=np.float32)


def _pad(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-pad a at the end of each axis to shape."""
    out = np.zeros(shape, dtype=np.float64)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def _gate_pad(a: np.ndarray, half: int, half_p: int) -> np.ndarray:
    """Pad the gate axis (last) of a: [filter half | gate half] → [filter half_p | gate half_p]."""
    out = np.zeros(a.shape[:-1] + (2 * half_p,), dtype=np.float64)
    out[..., :half] = a[..., :half]
    out[..., half_p: half_p + half] = a[..., half:]
    return out


@torch.no_grad()
def prepare_weights(model: WaveNet) -> FastWeights:
    cfg = model.config
    dil = np.array(cfg.dilations, dtype=np.int64)
    if np.any(dil & (dil - 1)):
        raise ValueError("The fast generator needs power-of-two dilations.")
    layers = list(model.layers)
    n = len(layers)
    r, half, s = cfg.residual_channels, cfg.gate_channels // 2, cfg.skip_channels
    rp, hp, sp = _pad4(r), _pad4(half), _pad4(s)
    gp = 2 * hp

    def np64(t):
        return t.detach().cpu().double().numpy()

    emb = np64(model.embed.weight)                                      # (Q, R)
    w0 = np64(layers[0].dilated.weight)                                 # (G, R, 2)
    tab0 = _gate_pad(np.concatenate([emb @ w0[:, :, 0].T, np.zeros((1, 2 * half))]), half, hp)
    tab1 = _gate_pad(emb @ w0[:, :, 1].T, half, hp)
    wd = np.zeros((n, gp, 2 * rp))
    wr = np.zeros((n, hp, rp))
    br = np.zeros((n, rp))
    ws = np.zeros((sp, n * hp))
    bd = np.zeros((n, gp))
    for i, lay in enumerate(layers):
        w = np64(lay.dilated.weight)                                    # (G, R, 2)
        wd[i, :, :r] = _gate_pad(w[:, :, 0].T, half, hp).T
        wd[i, :, rp: rp + r] = _gate_pad(w[:, :, 1].T, half, hp).T
        bd[i] = _gate_pad(np64(lay.dilated.bias), half, hp)
        if lay.residual is not None and i < n - 1:                      # the last residual is unused
            wr[i, :half, :r] = np64(lay.residual.weight)[:, :, 0].T
            br[i, :r] = np64(lay.residual.bias)
        ws[:s, i * hp: i * hp + half] = np64(lay.skip.weight)[:, :, 0]
    bs = sum(np64(lay.skip.bias) for lay in layers)
    wc = None
    if model.cond_dim:
        # (cond_dim, L·G): column block l is layer l's cond projection.
        wc = np.concatenate([_gate_pad(np64(lay.cond.weight)[:, :, 0].T, half, hp) for lay in layers], axis=1)
    q = cfg.n_classes
    return FastWeights(
        tab0=_f32(tab0), tab1=_f32(tab1), emb=_f32(_pad(emb, (q, rp))), wd=_f32(wd), bd=_f32(bd), wr=_f32(wr),
        br=_f32(br), ws=_f32(ws[None]), bs=_f32(_pad(bs, (sp,))),
        w1=_f32(_pad(np64(model.head1.weight)[:, :, 0], (sp, sp))[None]), b1=_f32(_pad(np64(model.head1.bias), (sp,))),
        w2=_f32(_pad(np64(model.head2.weight)[:, :, 0], (q, sp))[None]), b2=_f32(np64(model.head2.bias)),
        wc=None if wc is None else _f32(wc), dil=dil)


# ---- conditioning ---------------------------------------------------------------------------
def _rowwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w one row at a time: BLAS sums a row differently depending on how many rows come with
    it, and a stream's samples must not depend on its batch (or on streams stopped around it)."""
    return np.concatenate([x[i: i + 1] @ w for i in range(x.shape[0])]) if x.shape[0] > 1 else x @ w


class _ContextState:
    """The context stack run one frame at a time, with per-layer histories of past frames."""

    def __init__(self, model: WaveNet, batch: int):
        ctx = model.context
        self.hop = ctx.hop
        self.w_frame = _f32(ctx.frame.weight[:, 0, :].T)                  # (hop, C)
        self.b_frame = _f32(ctx.frame.bias)
        self.taps = [(_f32(lay.weight[:, :, 0].T), _f32(lay.weight[:, :, 1].T), _f32(lay.bias), lay.dilation[0])
                     for lay in ctx.layers]
        self.history: list[list[np.ndarray]] = [[] for _ in self.taps]   # inputs of each layer, per frame
        self.batch = batch

    def push(self, audio: np.ndarray) -> np.ndarray:
        """audio (B, hop) of the newest complete frame → its summary (B, C)."""
        h = np.tanh(_rowwise(audio, self.w_frame) + self.b_frame)
        for (w_past, w_cur, bias, d), hist in zip(self.taps, self.history):
            hist.append(h)
            if len(hist) > d + 1:
                del hist[0]
            past = hist[0] if len(hist) > d else None
            pre = _rowwise(h, w_cur) + bias
            if past is not None:
                pre += _rowwise(past, w_past)
            h = h + np.tanh(pre)
        return h.astype(np.float32)

    def keep(self, idx: np.ndarray) -> None:
        """Keep only streams ``idx`` (for ``fast_classes(stop=...)``)."""
        self.history = [[h[idx] for h in hist] for hist in self.history]
        self.batch = len(idx)


class _Conditioning:
    """Per-layer projected conditioning for chunks of samples: (n or 1, B, L·G) float32."""

    def __init__(self, model: WaveNet, fw: FastWeights, inputs: ModelInputs, batch: int, n_samples: int):
        cfg = model.config
        self.model, self.cfg, self.batch, self.n = model, cfg, batch, n_samples
        lg = fw.bd.size
        self.const = np.broadcast_to(fw.bd.reshape(1, lg), (batch, lg)).copy()
        self.w_local = self.w_ctx = None
        col = 0
        self.n_up = cfg.upsample_channels if cfg.local_dim else 0
        self.n_exc = cfg.excitation_dim
        if cfg.local_dim:
            if inputs.local_cond is None:
                raise ValueError("This model needs local_cond (frame features); see wavenet_core.controls.conditioning.")
            local = inputs.local_cond
            if local.dim() != 3 or local.shape[1] != cfg.local_dim or local.shape[0] != batch:
                raise ValueError(f"local_cond must have shape ({batch}, {cfg.local_dim}, frames), got {tuple(local.shape)}.")
            needed = -(-n_samples // cfg.hop_length)
            if local.shape[-1] < needed:
                raise ValueError(f"local_cond has {local.shape[-1]} frames but {n_samples} samples need {needed}.")
            self.local = local[..., :needed].float()
            self.block = None           # (start sample, upsampled (B, U, n) float32)
        if self.n_exc:
            # The excitation is built per chunk in closed form (model.sine_excitation), so every
            # chunk holds exactly the full clip's values whatever the chunking.
            self.f0 = inputs.f0_hz
            self.phase0 = inputs.phase0
            self.exc_block = None       # (block index, (B, E, block samples) float32)
            if self.f0 is not None:
                model.excitation(self.f0, n_samples, batch, self.phase0)[..., :0]   # checks the shapes
        if self.n_up or self.n_exc:
            # Per-sample inputs: [upsampled local features | excitation], as the model concatenates them.
            self.w_local = fw.wc[col: col + self.n_up + self.n_exc]
            self.w_local_t = np.ascontiguousarray(self.w_local)[None]     # (1, U + E, L·G) for _axpy_acc
            col += self.n_up + self.n_exc
        if cfg.context_layers:
            self.w_ctx = fw.wc[col: col + cfg.context_channels]
            col += cfg.context_channels
            self.context = _ContextState(model, batch)
            self.ctx_proj = np.zeros_like(self.const)
        if cfg.n_instruments or cfg.global_dim:
            with torch.no_grad():       # one stream at a time, like every per-stream product here
                model.global_vector(batch, inputs.instrument, inputs.global_cond)      # checks the shapes
                gvec = torch.cat([model.global_vector(1, *(None if t is None else t[i: i + 1]
                                                          for t in (inputs.instrument, inputs.global_cond)))
                                  for i in range(batch)])
            self.const += _rowwise(_f32(gvec), fw.wc[col:])
        self.lg = lg

    def chunk_length(self) -> int:
        """Samples per chunk: bounded work between cancellation checks, and projected
        per-sample conditioning under _COND_BYTES."""
        n = max(256, _CHUNK_WORK // self.batch)
        if self.w_local is not None:
            n = min(n, _COND_BYTES // (4 * self.batch * self.lg))
        return int(max(16, n))

    def _upsampled(self, t0: int, t1: int) -> np.ndarray:
        """Upsampled local features (B, U, t1 - t0), computed in blocks with a left margin of frames
        so that each block equals the full-clip upsampling."""
        hop = self.cfg.hop_length
        if self.block is None or not (self.block[0] <= t0 and t1 <= self.block[0] + self.block[1].shape[-1]):
            per_sample = 4 * self.batch * self.cfg.upsample_channels
            span = max(t1 - t0, _LOCAL_BYTES // per_sample)
            f_a, f_b = t0 // hop, -(-min(self.n, t0 + span) // hop)
            in0, in1 = max(0, f_a - _UPSAMPLE_MARGIN), min(self.local.shape[-1], f_b + 1)
            with torch.no_grad():
                # one stream at a time: torch's convolutions can round differently with the batch size
                up = torch.cat([self.model.upsampler(self.local[i: i + 1, :, in0:in1])
                                for i in range(self.local.shape[0])]).numpy()
            start = f_a * hop
            end = min(f_b * hop, self.n)
            self.block = (start, np.ascontiguousarray(up[..., start - in0 * hop: end - in0 * hop]))
        s0 = self.block[0]
        return self.block[1][..., t0 - s0: t1 - s0]

    def _excitation(self, t0: int, t1: int) -> np.ndarray:
        """Excitation (B, E, t1 - t0) assembled from blocks of ``_EXC_FRAMES`` frames at fixed
        positions, each computed one stream at a time: a stream's values never depend on the
        batch or the chunking (vectorised sin/cos can round a loop's tail differently)."""
        blk = _EXC_FRAMES * self.cfg.hop_length
        out = np.empty((self.batch, self.n_exc, t1 - t0), np.float32)
        for j in range(t0 // blk, -(-t1 // blk)):
            if self.exc_block is None or self.exc_block[0] != j:
                with torch.no_grad():
                    block = [sine_excitation(self.f0[i: i + 1], self.cfg.excitation_harmonics, self.cfg.hop_length,
                                             self.cfg.sample_rate, j * blk, blk,
                                             None if self.phase0 is None else self.phase0[i: i + 1])
                             for i in range(self.batch)]
                self.exc_block = (j, torch.cat(block).numpy())
            a, b = max(t0, j * blk), min(t1, (j + 1) * blk)
            out[..., a - t0: b - t0] = self.exc_block[1][..., a - j * blk: b - j * blk]
        return out

    def keep(self, idx: np.ndarray) -> None:
        """Keep only streams ``idx``: every per-stream array is indexed, nothing is recomputed."""
        self.batch = len(idx)
        self.const = np.ascontiguousarray(self.const[idx])
        if self.n_up:
            self.local = self.local[torch.from_numpy(idx)]
            if self.block is not None:
                self.block = (self.block[0], np.ascontiguousarray(self.block[1][idx]))
        if self.n_exc and self.f0 is not None:
            sel = torch.from_numpy(idx)
            self.f0 = self.f0[sel]
            self.phase0 = None if self.phase0 is None else self.phase0[sel]
            if self.exc_block is not None:
                self.exc_block = (self.exc_block[0], np.ascontiguousarray(self.exc_block[1][idx]))
        if self.w_ctx is not None:
            self.context.keep(idx)
            self.ctx_proj = self.ctx_proj[idx]

    def get(self, t0: int, t1: int, classes: np.ndarray) -> tuple[np.ndarray, int]:
        const = self.const
        if self.w_ctx is not None:
            hop = self.context.hop
            f = t0 // hop
            if t0 % hop == 0 and f >= 1:
                # The newest complete context frame (f - 1) reaches samples of frame f onwards.
                audio = mu_law_decode(classes[:, (f - 1) * hop: f * hop])
                self.ctx_proj = _rowwise(self.context.push(audio), self.w_ctx)
            const = const + self.ctx_proj
        if self.w_local is None:
            return np.ascontiguousarray(const[None], dtype=np.float32), 0
        n = t1 - t0
        parts = []
        if self.n_up:
            parts.append(self._upsampled(t0, t1))                        # (B, U, n)
        if self.n_exc:
            if self.f0 is None:
                parts.append(np.zeros((self.batch, self.n_exc, n), np.float32))
            else:
                parts.append(self._excitation(t0, t1))
        up = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        rows = np.ascontiguousarray(up.transpose(2, 0, 1)).reshape(n * self.batch, -1)
        proj = np.empty((n, self.batch, self.lg), np.float32)
        _project(rows, self.w_local_t, np.ascontiguousarray(const, dtype=np.float32), proj.reshape(n * self.batch, self.lg))
        return proj, 1


# ---- driver ---------------------------------------------------------------------------------
_PROGRESS_EVERY_S = 0.05


def default_threads(batch: int) -> int:
    """Two threads once each gets several streams (batch ≥ 8); one stream stays on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(2, cores, batch // 4))


def _keep_queue(queue: np.ndarray, fw: FastWeights, batch: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ring buffers of streams ``idx`` only: each layer's (dilation, batch, R) block is indexed."""
    old_off, _ = fw.queue_offsets(batch)
    new_off, size = fw.queue_offsets(len(idx))
    out = np.zeros(max(size, 1), np.float32)
    r = fw.emb.shape[1]
    for layer in range(1, fw.n_layers):
        d = int(fw.dil[layer])
        block = queue[old_off[layer]: old_off[layer] + d * batch * r].reshape(d, batch, r)
        out[new_off[layer]: new_off[layer] + d * len(idx) * r] = block[:, idx].ravel()
    return out, new_off


StopFn = Callable[[int, np.ndarray], "np.ndarray | None"]


def fast_classes(model: WaveNet, inputs: ModelInputs, uniforms: np.ndarray, temperature: float,
                 progress: ProgressFn | None = None, cancel: Callable[[], bool] | None = None, *,
                 return_logits: bool = False, threads: int | None = None, stop: StopFn | None = None,
                 guidance: float = 1.0):
    """μ-law classes (B, T) int64 sampled with the shared rule of ``inputs.sample_from_logits``.

    ``uniforms`` (B, T) float64 are the per-stream draws (``inputs.stream_uniforms``).
    ``progress(done, total)`` is called between chunks (at most every 50 ms, and at the end);
    ``cancel()`` returning True raises ``inputs.Cancelled``, whose ``partial_classes`` (B, t) holds the
    samples made so far. ``threads``: streams are split
    over this many threads (default ``default_threads(B)``); the result does not depend on it.
    With ``return_logits=True`` returns ``(classes, logits)``, logits (B, 256, T) float32 laid
    out like the model's output: ``logits[..., t]`` is the distribution classes[:, t] was drawn from.

    ``stop(t, classes)`` (early rejection, e.g. ``controls.sampling``) is called after every chunk with
    the samples done so far ``t`` and the (B, T) classes (columns ≥ t not generated yet); it
    returns None or a boolean (B,) array of streams to stop now. A stopped stream is no longer
    computed (the others are compacted, so it costs nothing from then on) and its row keeps
    ``SILENCE_CLASS`` after the point where it stopped; the other streams carry on from their
    exact state (every per-stream computation rounds the same whatever the batch, so they give
    exactly the samples of a run without ``stop``). Not combinable with ``return_logits``.

    ``guidance`` ≠ 1 (classifier-free guidance, see ``generate``) runs every stream with a free
    twin right after it (``inputs.free_inputs``) and samples each pair from the guided logits;
    ``return_logits`` then gives the guided logits.
    """
    if guidance != 1.0:
        return _guided(model, inputs, uniforms, temperature, progress, cancel, return_logits, threads, stop, guidance)
    return _fast_classes(model, inputs, uniforms, temperature, progress, cancel, return_logits, threads, stop,
                         False, 1.0)


def _guided(model, inputs, uniforms, temperature, progress, cancel, return_logits, threads, stop, guidance):
    """``fast_classes`` with guidance: streams 2b and 2b + 1 are stream b and its free twin."""
    from .inputs import free_inputs

    inputs = inputs.expand(np.shape(uniforms)[0])
    free = free_inputs(model, inputs)

    def pairs(a, f):
        return None if a is None else torch.stack([a, f], 1).reshape(2 * a.shape[0], *a.shape[1:])
    both = ModelInputs(inputs.n_samples, pairs(inputs.instrument, free.instrument),
                       pairs(inputs.global_cond, free.global_cond), pairs(inputs.local_cond, free.local_cond),
                       pairs(inputs.f0_hz, free.f0_hz), pairs(inputs.phase0, free.phase0))
    twin_stop = None
    if stop is not None:
        def twin_stop(t, classes):
            halt = stop(t, classes[::2])
            return None if halt is None else np.repeat(np.asarray(halt, dtype=bool), 2)
    try:
        out = _fast_classes(model, both, np.repeat(np.asarray(uniforms, dtype=np.float64), 2, axis=0), temperature,
                            progress, cancel, return_logits, threads, twin_stop, True, float(guidance))
    except Cancelled as err:
        if getattr(err, "partial_classes", None) is not None:
            err.partial_classes = np.ascontiguousarray(err.partial_classes[::2])   # the streams, not their twins
        raise
    if return_logits:
        return np.ascontiguousarray(out[0][::2]), np.ascontiguousarray(out[1][::2])
    return np.ascontiguousarray(out[::2])


def _fast_classes(model, inputs, uniforms, temperature, progress, cancel, return_logits, threads, stop,
                  paired, guidance):
    uniforms = np.ascontiguousarray(uniforms, dtype=np.float64)
    if uniforms.ndim != 2 or uniforms.shape[1] < 1:
        raise ValueError(f"uniforms must have shape (batch, samples), got {uniforms.shape}.")
    if stop is not None and return_logits:
        raise ValueError("fast_classes: stop= cannot be combined with return_logits=True.")
    batch, n = uniforms.shape
    fw = prepare_weights(model)
    cond = _Conditioning(model, fw, inputs, batch, n)
    offsets, qsize = fw.queue_offsets(batch)
    queue = np.zeros(max(qsize, 1), np.float32)
    classes = np.full((batch, n), SILENCE_CLASS, dtype=np.int64)
    result = classes                # (B, T) for the caller; `classes` holds the streams still running
    active = np.arange(batch)       # original index of each running stream
    logits = np.zeros((n if return_logits else 0, batch, fw.b2.shape[0]), np.float32)
    threads = max(1, min(threads or default_threads(batch), batch))

    unit = 2 if paired else 1       # a stream and its twin stay in one thread's slice

    def split(b: int) -> list[tuple[int, int]]:
        k = min(threads, b // unit)
        return [(unit * (b // unit * i // k), unit * (b // unit * (i + 1) // k)) for i in range(k)]

    groups = split(batch)
    step = cond.chunk_length()
    ctx_hop = model.config.context_hop if model.config.context_layers else 0
    temperature = float(temperature)

    def run(t0: int, t1: int, c: np.ndarray, c_step: int, g0: int, g1: int) -> None:
        _run(t0, t1, g0, g1, classes, uniforms, c, c_step, fw.tab0, fw.tab1, fw.emb, fw.wd, fw.wr, fw.br, fw.ws,
             fw.bs, fw.w1, fw.b1, fw.w2, fw.b2, fw.dil, offsets, queue, temperature,
             logits[t0:t1] if return_logits else logits, paired, np.float32(guidance))

    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    last_report = time.monotonic()
    try:
        t0 = 0
        while t0 < n:
            t1 = min(n, t0 + step)
            if ctx_hop:
                t1 = min(t1, (t0 // ctx_hop + 1) * ctx_hop)   # the context changes at frame boundaries
            c, c_step = cond.get(t0, t1, classes)
            if pool is None or len(groups) == 1:
                run(t0, t1, c, c_step, 0, len(active))
            else:
                for f in [pool.submit(run, t0, t1, c, c_step, g0, g1) for g0, g1 in groups]:
                    f.result()
            if classes is not result:
                result[active, t0:t1] = classes[:, t0:t1]
            t0 = t1
            if progress is not None and (t0 == n or time.monotonic() - last_report >= _PROGRESS_EVERY_S):
                progress(t0, n)
                last_report = time.monotonic()
            if cancel is not None and cancel():
                err = Cancelled("Generation cancelled.")
                err.partial_classes = result[:, :t0].copy()    # what was made: (B, t0), for callers that keep it
                raise err
            if stop is not None and t0 < n:
                halt = stop(t0, result)
                if halt is not None and np.any(np.asarray(halt, dtype=bool)[active]):
                    idx = np.flatnonzero(~np.asarray(halt, dtype=bool)[active])
                    if len(idx) == 0:
                        break
                    queue, offsets = _keep_queue(queue, fw, len(active), idx)
                    cond.keep(idx)
                    classes = np.ascontiguousarray(classes[idx])
                    uniforms = np.ascontiguousarray(uniforms[idx])
                    active = active[idx]
                    groups = split(len(active))
    finally:
        if pool is not None:
            pool.shutdown()
    if return_logits:
        return result, np.ascontiguousarray(logits.transpose(1, 2, 0))
    return result


def warmup() -> float:
    """Compile the kernel, or load it from numba's on-disk cache; returns the seconds taken."""
    from ..model.wavenet import WaveNetConfig
    start = time.perf_counter()
    cfg = WaveNetConfig(layers_per_stack=2, stacks=1, residual_channels=2, gate_channels=2, skip_channels=2)
    fast_classes(WaveNet(cfg).eval(), ModelInputs(n_samples=4), np.full((1, 4), 0.5), 1.0)
    return time.perf_counter() - start
