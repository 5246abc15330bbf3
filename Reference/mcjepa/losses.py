"""MC-JEPA losses, each a plain function of tensors; `flow_losses` and `content_losses` combine them.

Conventions: images are RGB in [0, 1] (not normalised), flows are [N,2,H,W] in pixels of their own grid with
channel 0 = u (x) and channel 1 = v (y), masks are [N,1,H,W] with 1 = visible (not occluded). A masked mean is
sum(loss * mask) / (sum(mask) + 1e-6) over the whole batch.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .alignment import ITERATIONS as ALIGNMENT_ITERATIONS, align_flow
from .ops import backward_warp, resize_bilinear

MASK_EPS = 1e-6
STD_EPS = 1e-4
SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2


@dataclass
class LossConfig:
    photo_weight: float = 1.0
    photo_l1: float = 0.15          # share of the per-pixel L1 term in the photometric loss
    photo_ssim: float = 0.85        # share of the per-pixel SSIM term
    feature_weights: Tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)  # levels 1..6; only decoded levels count
    smooth_weight: float = 75.0
    smooth_edge: float = 10.0       # edge-awareness constant: weight exp(-edge * mean_c |image gradient|)
    cycle_weight: float = 0.2
    var_weights: Tuple[float, ...] = (0.01, 0.01, 0.01, 0.01, 0.001, 0.0001)  # levels 1..6
    cov_weights: Tuple[float, ...] = (0.04, 0.04, 0.001, 0.0, 0.0, 0.0)       # levels 1..6
    vicreg_inv: float = 25.0
    vicreg_var: float = 25.0
    vicreg_cov: float = 1.0
    occ_alpha1: float = 0.01        # UnFlow occlusion test: |f + b'|^2 < a1 (|f|^2 + |b'|^2) + a2
    occ_alpha2: float = 0.5
    # At initialisation forward and backward flows are not yet opposite, so the test marks almost every pixel
    # occluded; the trainer switches masking on after a number of flow steps (--occlusion-start).
    use_occlusion: bool = True
    # > 0: the supervised end-point error is truncated per pixel at this many pixels (min(EPE, cap)), so errors
    # beyond a local head's reach give no gradient; 0 = off.
    epe_cap: float = 0.0

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def has_self_supervised_flow_terms(self) -> bool:
        """Whether any flow term besides the supervised one has a non-zero weight (else the trainer can take the
        cheaper supervised-only path)."""
        return self.photo_weight != 0 or self.smooth_weight != 0 or self.cycle_weight != 0 \
            or any(w != 0 for w in self.feature_weights + self.var_weights + self.cov_weights)

    def has_content_terms(self) -> bool:
        """Whether any VICReg weight is non-zero (else the content pass contributes nothing)."""
        return self.vicreg_inv != 0 or self.vicreg_var != 0 or self.vicreg_cov != 0


def masked_mean(loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """loss and mask are [N,1,H,W]."""
    return (loss * mask).sum() / (mask.sum() + MASK_EPS)


@torch.no_grad()
def occlusion_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor, alpha1: float = 0.01,
                   alpha2: float = 0.5) -> torch.Tensor:
    """Forward-backward consistency (Meister et al., UnFlow): 1 where frame-1 pixels are visible in frame 2.

    b' = backward_warp(flow_bw, flow_fw); visible iff |f + b'|^2 < alpha1 (|f|^2 + |b'|^2) + alpha2, with |.|^2
    the sum over the two flow channels. No gradient flows through the mask.
    """
    bw_warped = backward_warp(flow_bw, flow_fw)
    diff = (flow_fw + bw_warped).pow(2).sum(1, keepdim=True)
    bound = alpha1 * (flow_fw.pow(2).sum(1, keepdim=True) + bw_warped.pow(2).sum(1, keepdim=True)) + alpha2
    return (diff < bound).to(flow_fw.dtype)


def ssim_loss_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel (1 - SSIM) / 2 clamped to [0, 1], statistics from 3x3 averages without padding.

    [N,C,H,W] -> [N,C,H-2,W-2]; sigma terms are E[x^2] - E[x]^2 (biased), C1 = 0.01^2, C2 = 0.03^2.
    """
    mu_x = F.avg_pool2d(x, 3, 1)
    mu_y = F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x * mu_x
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y * mu_y
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * sigma_xy + SSIM_C2)
    den = (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (sigma_x + sigma_y + SSIM_C2)
    return torch.clamp((1 - num / den) / 2, 0, 1)


def photometric_loss(target: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor,
                     l1_weight: float = 0.15, ssim_weight: float = 0.85) -> torch.Tensor:
    """ARFlow's photometric loss on the interior pixels [1:-1, 1:-1] (where the 3x3 SSIM window fits).

    per pixel: l1_weight * mean_c |target - reconstruction| + ssim_weight * mean_c ssim_loss_map, then a masked
    mean with the mask's interior.
    """
    l1 = (target - reconstruction).abs().mean(1, keepdim=True)[:, :, 1:-1, 1:-1]
    ssim = ssim_loss_map(target, reconstruction).mean(1, keepdim=True)
    return masked_mean(l1_weight * l1 + ssim_weight * ssim, mask[:, :, 1:-1, 1:-1])


def feature_regression_loss(target: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over pixels of the mean over channels of (target - warped)^2. Both sides get gradients."""
    return masked_mean((target - warped).pow(2).mean(1, keepdim=True), mask)


def smoothness_loss(flow: torch.Tensor, image: torch.Tensor, edge: float = 10.0) -> torch.Tensor:
    """Edge-aware second-order smoothness (ARFlow's smooth_grad_2nd); image at the flow's resolution.

    wx = exp(-edge * mean_c |I[x+1] - I[x]|) on [N,1,H,W-1]; d2x = F[x+2] - 2 F[x+1] + F[x] on [N,2,H,W-2];
    loss = mean(wx[..., 1:] * |d2x|) / 2 + mean(wy[..., 1:, :] * |d2y|) / 2 (means over all elements).
    """
    wx = torch.exp(-edge * (image[:, :, :, 1:] - image[:, :, :, :-1]).abs().mean(1, keepdim=True))
    wy = torch.exp(-edge * (image[:, :, 1:, :] - image[:, :, :-1, :]).abs().mean(1, keepdim=True))
    d2x = flow[:, :, :, 2:] - 2 * flow[:, :, :, 1:-1] + flow[:, :, :, :-2]
    d2y = flow[:, :, 2:, :] - 2 * flow[:, :, 1:-1, :] + flow[:, :, :-2, :]
    return (wx[:, :, :, 1:] * d2x.abs()).mean() / 2 + (wy[:, :, 1:, :] * d2y.abs()).mean() / 2


def cycle_loss(flow_fw: torch.Tensor, flow_bw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Forward-backward cycle consistency: mean over all pixels of mask * mean_uv |f + backward_warp(b, f)|.

    Divided by the pixel count, not by sum(mask): early in training few pixels pass the occlusion test, and a
    masked mean would put the whole loss on those few pixels and blow their gradients up.
    """
    residual = (flow_fw + backward_warp(flow_bw, flow_fw)).abs().mean(1, keepdim=True)
    return (residual * mask).mean()


def variance_loss(x: torch.Tensor) -> torch.Tensor:
    """x: [M, D] samples. mean_d relu(1 - sqrt(var_d + 1e-4)), var unbiased (divide by M - 1)."""
    std = torch.sqrt(x.var(dim=0) + STD_EPS)
    return F.relu(1 - std).mean()


def covariance_loss(x: torch.Tensor) -> torch.Tensor:
    """x: [M, D]. Sum of squared off-diagonal entries of the (unbiased) covariance matrix, divided by D."""
    m, d = x.shape
    xc = x - x.mean(dim=0)
    cov = xc.t() @ xc / (m - 1)
    off = cov - torch.diag(torch.diagonal(cov))
    return off.pow(2).sum() / d


def pixels_as_samples(feats: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] -> [N*H*W, C] (every pixel of every image is one sample)."""
    return feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1])


def vicreg_terms(za: torch.Tensor, zb: torch.Tensor) -> Dict[str, torch.Tensor]:
    """VICReg on two views' embeddings [B, D]: invariance (MSE), variance and covariance (both views summed;
    variance averaged over the two views)."""
    return {"vicreg_inv": F.mse_loss(za, zb),
            "vicreg_var": (variance_loss(za) + variance_loss(zb)) / 2,
            "vicreg_cov": covariance_loss(za) + covariance_loss(zb)}


def vicreg_multiview_terms(za: torch.Tensor, zb: torch.Tensor, local: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
    """VICReg with multi-crop (the Swift `vicregMultiViewTerms`): two global views' embeddings [B, D] and M local
    views' [B, D] each, in the same item order. With V = 2 + M views and P = 1 + 2M positive pairs (the two global
    views, and every local view with each global view):
      vicreg_inv = mean over the P pairs of MSE(pair);  vicreg_var = mean over the V views of `variance_loss`;
      vicreg_cov = 2 x mean over the V views of `covariance_loss`;  vicreg_inv_local (logged, with M > 0) = mean
      of the 2M local pairs' MSE.
    With M = 0 these are `vicreg_terms` exactly; averaging instead of summing keeps the loss's scale, and so the
    tuned weights, the same for any M."""
    views = [za, zb] + list(local)
    pairs = [(0, 1)] + [(m + 2, g) for m in range(len(local)) for g in (0, 1)]
    mse = [F.mse_loss(views[i], views[j]) for i, j in pairs]
    terms = {"vicreg_inv": sum(mse[1:], mse[0]) / len(pairs),
             "vicreg_var": sum(variance_loss(v) for v in views) / len(views),
             "vicreg_cov": 2 * sum(covariance_loss(v) for v in views) / len(views)}
    if local:
        terms["vicreg_inv_local"] = sum(mse[2:], mse[1]) / (len(pairs) - 1)
    return terms


def content_losses(model, view_a: torch.Tensor, view_b: torch.Tensor, cfg: LossConfig, dense: Optional[dict] = None,
                   local: Optional[torch.Tensor] = None):
    """Two augmented views [B,3,H,W] (B >= 2) -> (weighted VICReg total, terms). With `local` (multi-crop: [M*B,3,h,w]
    local views, view-major, rows m*B..(m+1)*B are local view m), encoded in one pass of their own, the VICReg terms
    are `vicreg_multiview_terms` (without, the two-view `vicreg_terms`). With `dense` ({"weight" > 0,
    "boxes_a", "boxes_b": [B, 5] (x, y, w, h, flipped) of each view in its frame, "same_frame": [B] bools, optional
    "nearest_neighbours": K for `dense_nn_matches`; the model needs a local projector), adds weight x the dense VICReg
    of the two global views' cells at the projector's level."""
    feats_a, feats_b = model.encode(view_a), model.encode(view_b)
    _, za = model.content(feats_a)
    _, zb = model.content(feats_b)
    if local is not None and len(local):
        if len(local) % len(view_a):
            raise ValueError(f"local views: {len(local)} rows for {len(view_a)} items")
        _, zl = model.content(model.encode(local))
        terms = vicreg_multiview_terms(za, zb, list(zl.split(len(view_a))))
    else:
        terms = vicreg_terms(za, zb)
    total = cfg.vicreg_inv * terms["vicreg_inv"] + cfg.vicreg_var * terms["vicreg_var"] \
        + cfg.vicreg_cov * terms["vicreg_cov"]
    if dense is not None and dense["weight"] > 0:
        fmap = feats_a[model.cfg.local_projector_level - 1]
        host = [torch.as_tensor(dense[k]).cpu().numpy() for k in ("boxes_a", "boxes_b", "same_frame")]
        matches = dense_cell_matches(*host, fmap.shape[2], fmap.shape[3])
        la, lb = model.local_embedding(feats_a), model.local_embedding(feats_b)
        keep = dense.get("nearest_neighbours", 0)
        nn_matches = dense_nn_matches(la, lb, fmap.shape[2] * fmap.shape[3], keep).to(fmap.device) if keep else None
        local = dense_vicreg_terms(la, lb, matches.to(fmap.device), nn_matches)
        dense_total = cfg.vicreg_inv * (local["dense_inv"] + local.get("dense_inv_nn", 0)) \
            + cfg.vicreg_var * local["dense_var"] + cfg.vicreg_cov * local["dense_cov"]
        terms.update(local)
        terms["dense"] = dense_total
        terms["dense_pairs"] = torch.tensor(float(len(matches)))
        total = total + dense["weight"] * dense_total
    return total, terms


def _box_centres(boxes: np.ndarray, rows: int, cols: int):
    """Frame positions (x, y) [rows*cols] of the cell centres of a view whose box is (x, y, w, h, flipped): the
    view's coordinates scale linearly onto the box, mirrored first when the view was (float32, as the Swift
    `ViewBox.centre`)."""
    x, y, w, h, flipped = (np.float32(v) for v in boxes)
    r, c = np.meshgrid(np.arange(rows, dtype=np.float32), np.arange(cols, dtype=np.float32), indexing="ij")
    u = (c.reshape(-1) + np.float32(0.5)) / np.float32(cols)
    if flipped:
        u = np.float32(1) - u
    return x + u * w, y + (r.reshape(-1) + np.float32(0.5)) / np.float32(rows) * h


def _box_cells(boxes: np.ndarray, px: np.ndarray, py: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The cell index (row * cols + col) of the view with this box that holds each frame position, -1 outside."""
    x, y, w, h, flipped = (np.float32(v) for v in boxes)
    u, v = (px - x) / w, (py - y) / h
    inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    if flipped:
        u = np.float32(1) - u
    row = np.minimum((v * np.float32(rows)).astype(np.int64), rows - 1)
    col = np.clip((u * np.float32(cols)).astype(np.int64), 0, cols - 1)
    return np.where(inside, row * cols + col, -1)


def dense_cell_matches(boxes_a: np.ndarray, boxes_b: np.ndarray, same_frame, rows: int, cols: int) -> torch.Tensor:
    """[P, 2] matched rows (view A's, view B's) of the local embeddings (row n*rows*cols + cell): each cell of
    view A with the cell of view B whose box holds A's cell centre in the frame, then the same from B to A. Items
    whose views come from different frames (same_frame false) give none. Boxes: [N, 5] (x, y, w, h, flipped)."""
    plane, pairs = rows * cols, []
    for n in range(len(boxes_a)):
        if not same_frame[n]:
            continue
        cells = np.arange(plane)
        hit = _box_cells(boxes_b[n], *_box_centres(boxes_a[n], rows, cols), rows, cols)
        keep = hit >= 0
        pairs.append(np.stack([n * plane + cells[keep], n * plane + hit[keep]], 1))
        hit = _box_cells(boxes_a[n], *_box_centres(boxes_b[n], rows, cols), rows, cols)
        keep = hit >= 0
        pairs.append(np.stack([n * plane + hit[keep], n * plane + cells[keep]], 1))
    return torch.from_numpy(np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64))


@torch.no_grad()
def dense_nn_matches(za: torch.Tensor, zb: torch.Tensor, plane: int, keep: int) -> torch.Tensor:
    """VICRegL's feature-space matching: [P, 2] rows (view A's, view B's). Per item (`plane` rows each), each cell of
    A with its nearest cell of B in embedding space (squared Euclidean distance), the `keep` closest such pairs; then
    the same from B to A. Pairs by item, A -> B then B -> A, each by increasing distance (ties: lower row first)."""
    pairs = []
    for base in range(0, za.shape[0], plane):
        a, b = za[base:base + plane], zb[base:base + plane]
        dist = (a[:, None, :] - b[None, :, :]).pow(2).sum(-1)           # [plane (A), plane (B)]
        for d, own_first in ((dist, True), (dist.t(), False)):
            best, match = d.min(dim=1)                                     # first minimum, as the Swift loop
            rows = torch.arange(plane)
            order = sorted(range(plane), key=lambda i: (best[i].item(), i))[:keep]
            kept = torch.stack([rows[order], match[order]], 1) + base
            pairs.append(kept if own_first else kept.flip(1))
    return torch.cat(pairs) if pairs else torch.zeros(0, 2, dtype=torch.long)


def dense_vicreg_terms(za: torch.Tensor, zb: torch.Tensor, matches: torch.Tensor,
                       nn_matches: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """VICRegL-style dense VICReg on two views' local embeddings [M, D] (every cell of a batch's feature maps):
    invariance = MSE over the matched pairs (0 without any), variance (averaged over the two views) and covariance
    (summed) over all cells of each view, as `vicreg_terms`; with `nn_matches` (feature-space pairs) also their own
    invariance "dense_inv_nn", weighted as the invariance."""
    def invariance(pairs):
        return F.mse_loss(za[pairs[:, 0]], zb[pairs[:, 1]]) if len(pairs) else za.new_zeros(())
    terms = {"dense_inv": invariance(matches),
             "dense_var": (variance_loss(za) + variance_loss(zb)) / 2,
             "dense_cov": covariance_loss(za) + covariance_loss(zb)}
    if nn_matches is not None:
        terms["dense_inv_nn"] = invariance(nn_matches)
    return terms


def _direction_terms(model, img_a, img_b, feats_a, feats_b, out_ab, out_ba, cfg: LossConfig):
    """Losses of the flow from frame a to frame b (out_ab), using the reverse flow (out_ba) for occlusions."""
    levels_ab, full_ab = out_ab
    levels_ba, full_ba = out_ba
    # The cycle term always uses the forward-backward mask: unmasked, it pulls the (initially equal, not opposite)
    # forward and backward flows to zero faster than the photometric term can teach them. `use_occlusion` only
    # decides whether the photometric and feature terms are masked too.
    mask_full = occlusion_mask(full_ab, full_ba, cfg.occ_alpha1, cfg.occ_alpha2)
    mask_of = lambda f, b: occlusion_mask(f, b, cfg.occ_alpha1, cfg.occ_alpha2) if cfg.use_occlusion \
        else torch.ones_like(f[:, :1])
    photo_mask = mask_full if cfg.use_occlusion else torch.ones_like(mask_full)
    photo = photometric_loss(img_a, backward_warp(img_b, full_ab), photo_mask, cfg.photo_l1, cfg.photo_ssim)
    feature = img_a.new_zeros(())
    for lv, flow_ab, flow_ba in zip(model.decoder.decoded_levels, levels_ab, levels_ba):
        mask = mask_of(flow_ab, flow_ba)
        warped = backward_warp(feats_b[lv - 1], flow_ab)
        feature = feature + cfg.feature_weights[lv - 1] * feature_regression_loss(feats_a[lv - 1], warped, mask)
    finest = levels_ab[-1]
    image_small = resize_bilinear(img_a, finest.shape[-2], finest.shape[-1])
    smooth = smoothness_loss(finest, image_small, cfg.smooth_edge)
    cycle = cycle_loss(full_ab, full_ba, mask_full)
    return {"photo": photo, "feature": feature, "smooth": smooth, "cycle": cycle,
            "visible": mask_full.mean()}


def variance_covariance_terms(feats1: List[torch.Tensor], feats2: List[torch.Tensor],
                              cfg: LossConfig) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Per level: samples = every pixel of both frames; weighted sum over the six levels."""
    total = feats1[0].new_zeros(())
    terms = {}
    for i, (a, b) in enumerate(zip(feats1, feats2)):
        x = torch.cat([pixels_as_samples(a), pixels_as_samples(b)], dim=0)
        v, c = variance_loss(x), covariance_loss(x)
        terms[f"var_l{i + 1}"], terms[f"cov_l{i + 1}"] = v, c
        total = total + cfg.var_weights[i] * v + cfg.cov_weights[i] * c
    return total, terms


def aligned_output(output, feats_a: List[torch.Tensor], feats_b: List[torch.Tensor], iterations: int):
    """(levels, full) with `full` replaced by the feature alignment's (alignment.py) on the level-1 features, as the
    network's flow at inference; with 0 iterations `output` itself. Autograd carries the losses' gradient through it
    into the decoder's full flow and both frames' level-1 features."""
    if iterations == 0:
        return output
    levels, full = output
    return levels, align_flow(full, feats_a[0], feats_b[0], iterations)


def flow_losses(model, img1: torch.Tensor, img2: torch.Tensor, cfg: LossConfig, return_outputs: bool = False,
                align_iterations: int = 0):
    """Frame pair [N,3,H,W] in [0,1], H and W multiples of 64 -> (weighted total, terms[, outputs]).

    With `align_iterations` > 0 (`train.py --train-through-alignment`), the full-resolution flows of both directions
    that the photometric and cycle terms (and the returned outputs) see are the aligned ones.

    Flow is estimated in both directions from features computed once per frame; photo/feature/smooth/cycle are
    the mean of the two directions. total = photo_weight * photo + feature + smooth_weight * smooth
    + cycle_weight * cycle + varcov (feature and varcov carry their per-level weights already).
    """
    feats1, feats2 = model.encode(img1), model.encode(img2)
    out_fw = aligned_output(model.flow(feats1, feats2), feats1, feats2, align_iterations)
    out_bw = aligned_output(model.flow(feats2, feats1), feats2, feats1, align_iterations)
    fw = _direction_terms(model, img1, img2, feats1, feats2, out_fw, out_bw, cfg)
    bw = _direction_terms(model, img2, img1, feats2, feats1, out_bw, out_fw, cfg)
    terms = {k: (fw[k] + bw[k]) / 2 for k in fw}
    varcov, vc_terms = variance_covariance_terms(feats1, feats2, cfg)
    terms["varcov"] = varcov
    terms.update(vc_terms)
    total = cfg.photo_weight * terms["photo"] + terms["feature"] + cfg.smooth_weight * terms["smooth"] \
        + cfg.cycle_weight * terms["cycle"] + varcov
    if return_outputs:
        return total, terms, {"feats1": feats1, "feats2": feats2, "fw": out_fw, "bw": out_bw}
    return total, terms


def end_point_error(flow: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None,
                    cap: float = 0.0) -> torch.Tensor:
    """Mean over pixels of |flow - target| (Euclidean over the two channels); [N,2,H,W] each. With `mask` ([N]
    bool), only the flagged items count (a batch that mixes pairs with and without exact flow); 0 when none is.
    With `cap` > 0 each pixel counts min(error, cap): no gradient past the cap. A non-finite target value marks its
    pixel unknown (a teacher's flow that failed its forward-backward check, `preprocess --flow
    --mask-inconsistent`): the mean is over the known pixels, and unknown ones get no gradient (as in Swift)."""
    known = torch.isfinite(target).all(dim=1)
    errors = (flow - torch.where(known.unsqueeze(1), target, torch.zeros_like(target))).norm(dim=1)
    if cap > 0:
        errors = errors.clamp(max=cap)
    if mask is not None:
        known = known & mask.view(-1, 1, 1)
    if not bool(known.any()):
        return errors.sum() * 0
    return errors[known].mean()


def level_end_point_error(flow: torch.Tensor, target: torch.Tensor, level: int,
                          mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """End-point error of a level-`level` flow (level pixels) against a full-resolution target, in full-resolution
    pixels: the target average-pooled over 2^level x 2^level blocks, the flow times 2^level; `mask` as in
    `end_point_error`."""
    factor = 2 ** level
    return end_point_error(flow * factor, F.avg_pool2d(target, factor), mask)


def supervised_flow_losses(model, img1: torch.Tensor, img2: torch.Tensor, target: torch.Tensor,
                           level_weight: float = 0.0,
                           mask: Optional[torch.Tensor] = None, epe_cap: float = 0.0,
                           align_iterations: int = 0) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Supervised training on pairs with exact flow: the forward flow only (one decoder pass, not the two of
    `flow_losses`). total = supervised_epe + level_weight * level_epe, where level_epe is the mean over decoded
    levels of `level_end_point_error` (PWC-Net's multi-scale supervision: the coarse levels, which find the large
    motions, get a direct signal instead of only what reaches them through the finer levels' warps). With
    `align_iterations` > 0 the full-resolution EPE is the aligned flow's (as in `flow_losses`)."""
    feats1, feats2 = model.encode(img1), model.encode(img2)
    levels, full = aligned_output(model.flow(feats1, feats2), feats1, feats2, align_iterations)
    epe = end_point_error(full, target, mask, epe_cap)
    terms = {"supervised_epe": epe}
    total = epe
    if level_weight != 0:
        per_level = [level_end_point_error(f, target, lv, mask) for lv, f in zip(model.decoder.decoded_levels, levels)]
        terms.update({f"level_epe_l{lv}": v for lv, v in zip(model.decoder.decoded_levels, per_level)})
        terms["level_epe"] = torch.stack(per_level).mean()
        total = total + level_weight * terms["level_epe"]
    return total, terms
