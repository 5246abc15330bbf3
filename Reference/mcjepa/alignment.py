"""Feature alignment: a parameter-free Gauss-Newton (Lucas-Kanade) correction of the network's full-size flow on the
encoder's level-1 features (stride 2), the last step of the network's flow at inference.

Why: the decoder stops at 1/8, where the features are aliased. Warping frame 2's level-3 features by the exact
motion of a pure sub-cell translation still leaves 11-20% of their norm as residual, so the decoder regresses
sub-cell motion with about 0.6-1.5 px of noise even on a translated photo (0.9 px on two identical frames). Level 1
is four times finer; a least-squares step on its features over a window removes most of that noise without
training (held-out synthetic pairs, network alone against DIS medium, geometric mean of per-pair ratios: moderate
motion 2.84x -> 2.22x, stage-3 pairs 1.059x -> 0.986x).

Each iteration, at level 1 (the full flow area-averaged over 2x2 blocks, in level-1 pixels):
    r  = backward_warp(f2, flow) - f1                 the features' residual, C channels
    gx, gy                                             central differences of the warped f2 (0 on the border)
    m  = 1 where p + flow(p) falls inside frame 2's grid, else 0 (the warp reads zeros there, not features)
    A  = box(m [sum_c gx gx, sum_c gx gy; sum_c gx gy, sum_c gy gy]) + damping * C * I
    b  = box(m [sum_c gx r, sum_c gy r])
    flow += clamp(-A^-1 b, -max_step, max_step)
box: the mean over a WINDOW x WINDOW window of the valid pixels (avg_pool2d, count_include_pad=False). The
correction (flow - start) goes back to full size with `upsample_flow` and is added to the decoder's flow, so its
motion edges stay. The Swift port is Sources/MCJEPA/FeatureAlignment.swift.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .ops import backward_warp, upsample_flow

LEVEL = 1           # stride 2: the finest encoder level
WINDOW = 11         # level-1 pixels (22 input pixels): enough texture for a well-posed 2x2 system
DAMPING = 1e-2      # per channel, in squared feature units (the level-1 features are layer-normalised)
MAX_STEP = 1.0      # level-1 pixels per iteration: a Gauss-Newton step is only trusted within its linearisation
ITERATIONS = 3      # what `estimate_flow` and the Swift FlowEstimator run by default


def central_differences(x: torch.Tensor):
    """d/dx and d/dy of [N,C,H,W] as (x[i+1] - x[i-1]) / 2, 0 on the first and last column (row)."""
    gx = torch.zeros_like(x)
    gy = torch.zeros_like(x)
    gx[..., 1:-1] = 0.5 * (x[..., 2:] - x[..., :-2])
    gy[..., 1:-1, :] = 0.5 * (x[..., 2:, :] - x[..., :-2, :])
    return gx, gy


def box_mean(x: torch.Tensor, window: int = WINDOW) -> torch.Tensor:
    return F.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)


def sampled_inside(flow: torch.Tensor) -> torch.Tensor:
    """[N,1,h,w]: 1 where p + flow(p) lies in [0, w-1] x [0, h-1], else 0. Outside, the warp reads zeros, which are
    not frame 2's features: those pixels would pull the step towards nonsense, so they do not count."""
    height, width = flow.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height, dtype=flow.dtype), torch.arange(width, dtype=flow.dtype), indexing="ij")
    sx, sy = xs + flow[:, 0:1], ys + flow[:, 1:2]
    return ((sx >= 0) & (sx <= width - 1) & (sy >= 0) & (sy <= height - 1)).to(flow.dtype)


def gauss_newton_step(flow: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """The unclamped step -A^-1 b at level 1 ([N,2,h,w], level-1 pixels) for the current level-1 `flow`."""
    channels = f1.shape[1]
    warped = backward_warp(f2, flow)
    gx, gy = central_differences(warped)
    residual = warped - f1
    inside = sampled_inside(flow)
    sxx = box_mean(inside * (gx * gx).sum(1, keepdim=True)) + DAMPING * channels
    syy = box_mean(inside * (gy * gy).sum(1, keepdim=True)) + DAMPING * channels
    sxy = box_mean(inside * (gx * gy).sum(1, keepdim=True))
    bx = box_mean(inside * (gx * residual).sum(1, keepdim=True))
    by = box_mean(inside * (gy * residual).sum(1, keepdim=True))
    det = sxx * syy - sxy * sxy  # > 0: the damping makes A positive definite
    return torch.cat([-(syy * bx - sxy * by) / det, -(sxx * by - sxy * bx) / det], 1)


def align_flow(full: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor, iterations: int = ITERATIONS) -> torch.Tensor:
    """full: [N,2,H,W] flow in input pixels; f1, f2: the two frames' level-1 features [N,C,H/2,W/2]."""
    if iterations == 0:
        return full
    height, width = full.shape[-2:]
    start = F.avg_pool2d(full, 2) / 2
    flow = start
    for _ in range(iterations):
        flow = flow + gauss_newton_step(flow, f1, f2).clamp(-MAX_STEP, MAX_STEP)
    return full + upsample_flow(flow - start, height, width)
