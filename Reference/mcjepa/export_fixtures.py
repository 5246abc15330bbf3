"""Writes the model-level parity fixture the Swift tests compare against, tensor by tensor.

  cd Reference && python3 -m mcjepa.export_fixtures   # -> ../Tests/MCJEPATests/Fixtures/tiny_parity.safetensors,
                                                     #    tiny_parity_l2.safetensors (decoder down to level 2) and
                                                     #    tiny_parity_convex.safetensors (convex upsampling)

Contents (all float32; names are listed in the file's metadata, see MODEL.md "Parity fixture"):
  <state_dict name>            initial weights of the `test` preset (seed 0), exactly the names a model file has
  io.img1, io.img2             the input pair [2,3,64,128], RGB in [0,1]
  io.feats1.l1 .. io.feats1.l6 encoder features of img1 (io.feats2.* of img2)
  io.flow_fw.l6 .. l3, io.flow_fw.full   decoder flows img1 -> img2 (io.flow_bw.* img2 -> img1); to l2 in the
                                         _l2 fixture, whose decoder goes down to level 2 (train --decoder-stop-level 2)
  io.mask_fw.full, io.mask_fw.l6 .. l3   occlusion masks (1 = visible) of the forward direction
  io.rep1, io.emb1             content representation (pooled level 6) and expander embedding of img1
  loss.<term>                  every loss term (scalars, shape [1]) and loss.total = content + flow
  grad.<state_dict name>       gradient of loss.total with respect to every parameter
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .losses import LossConfig, content_losses, flow_losses, occlusion_mask
from .model import MCJEPA, PRESETS
from .ops import backward_warp
from .weights import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MCJEPATests", "Fixtures")
DEFAULT_OUT = os.path.join(FIXTURES, "tiny_parity.safetensors")
# The same preset with its decoder down to level 2 (a finer level than the preset's 3).
LEVEL2_OUT = os.path.join(FIXTURES, "tiny_parity_l2.safetensors")
# The same preset with the convex upsampler (`upsampler_width`, train --upsampler-width) instead of bilinear.
CONVEX_OUT = os.path.join(FIXTURES, "tiny_parity_convex.safetensors")
CONVEX_WIDTH = 8
# The convex fixture's network with one flow estimator per decoded level (`per_level_estimators`), each drawn
# separately, so that every level must read its own.
PER_LEVEL_OUT = os.path.join(FIXTURES, "tiny_parity_per_level.safetensors")
PRESET = "test"
SEED = 0


def fixture_frames(batch: int = 2, height: int = 64, width: int = 128, seed: int = SEED):
    """A smooth random texture and the same texture moved by a sub-pixel shift, plus a little noise: a pair with
    real, learnable motion (pure noise would make every flow and mask degenerate)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(batch, 3, height // 4 + 4, width // 4 + 4, generator=g)
    big = F.interpolate(base, size=(height + 16, width + 16), mode="bicubic", align_corners=False).clamp(0, 1)
    img1 = big[:, :, 8:8 + height, 8:8 + width]
    ys = torch.arange(height, dtype=torch.float32).view(1, height, 1).expand(batch, height, width)
    xs = torch.arange(width, dtype=torch.float32).view(1, 1, width).expand(batch, height, width)
    # Frame 2 shows the texture moved by (+2.5, +1.25) px: frame2(p) = big(p + 8 - shift).
    gx = 2 * (xs + 8 - 2.5) / (width + 15) - 1
    gy = 2 * (ys + 8 - 1.25) / (height + 15) - 1
    img2 = F.grid_sample(big, torch.stack((gx, gy), 3), mode="bilinear", align_corners=True)
    img2 = (img2 + 0.01 * torch.randn(img2.shape, generator=g)).clamp(0, 1)
    return img1.contiguous(), img2.contiguous()


def occlusion_margin(flow_fw, flow_bw, cfg: LossConfig) -> float:
    """Smallest |(|f + b'|^2) - bound| over all pixels: how far the closest pixel is from flipping."""
    with torch.no_grad():
        bw = backward_warp(flow_bw, flow_fw)
        diff = (flow_fw + bw).pow(2).sum(1)
        bound = cfg.occ_alpha1 * (flow_fw.pow(2).sum(1) + bw.pow(2).sum(1)) + cfg.occ_alpha2
        return (diff - bound).abs().min().item()


def build_fixture(decoder_stop_level: Optional[int] = None, upsampler_width: int = 0,
                  per_level_estimators: bool = False) -> tuple:
    """decoder_stop_level: the preset's when None; upsampler_width > 0: convex upsampling of that width;
    per_level_estimators: one estimator per decoded level."""
    torch.manual_seed(SEED)
    cfg_model = PRESETS[PRESET]()
    if decoder_stop_level is not None:
        cfg_model = dataclasses.replace(cfg_model, decoder_stop_level=decoder_stop_level)
    cfg_model = dataclasses.replace(cfg_model, upsampler_width=upsampler_width, per_level_estimators=per_level_estimators)
    model = MCJEPA(cfg_model)
    if model.decoder.upsampler is not None:
        # Its initial mask weights are zero (a fixed bilinear stencil): random ones make every full-size pixel's
        # softmax depend on the input, so the fixture tests the mask path and not only the stencil.
        with torch.no_grad():
            model.decoder.upsampler.mask.weight.normal_(0, 0.5)
    cfg = LossConfig()
    img1, img2 = fixture_frames()
    tensors = {name: p.detach().clone() for name, p in model.state_dict().items()}
    tensors["io.img1"], tensors["io.img2"] = img1, img2

    flow_total, flow_terms, out = flow_losses(model, img1, img2, cfg, return_outputs=True)
    content_total, content_terms = content_losses(model, img1, img2, cfg)
    total = content_total + flow_total
    total.backward()

    levels = model.decoder.decoded_levels
    for i in range(6):
        tensors[f"io.feats1.l{i + 1}"] = out["feats1"][i]
        tensors[f"io.feats2.l{i + 1}"] = out["feats2"][i]
    for direction, key, other in (("fw", "fw", "bw"), ("bw", "bw", "fw")):
        flows, full = out[key]
        for lv, flow in zip(levels, flows):
            tensors[f"io.flow_{direction}.l{lv}"] = flow
        tensors[f"io.flow_{direction}.full"] = full
    for lv, f, b in zip(levels, out["fw"][0], out["bw"][0]):
        tensors[f"io.mask_fw.l{lv}"] = occlusion_mask(f, b, cfg.occ_alpha1, cfg.occ_alpha2)
    tensors["io.mask_fw.full"] = occlusion_mask(out["fw"][1], out["bw"][1], cfg.occ_alpha1, cfg.occ_alpha2)
    with torch.no_grad():
        rep, emb = model.content(out["feats1"])
    tensors["io.rep1"], tensors["io.emb1"] = rep, emb

    for name, value in list(flow_terms.items()) + list(content_terms.items()):
        tensors[f"loss.{name}"] = value.reshape(1)
    tensors["loss.flow"] = flow_total.reshape(1)
    tensors["loss.content"] = content_total.reshape(1)
    tensors["loss.total"] = total.reshape(1)
    for name, p in model.named_parameters():
        tensors[f"grad.{name}"] = p.grad
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    metadata = {
        # The occlusion test is a hard threshold: a pixel this close to it may flip under float32 rounding
        # differences, so the Swift test tolerates mask mismatches only where its own margin is this small.
        "mask_margin_min": f"{occlusion_margin(out['fw'][1], out['bw'][1], cfg):.3e}",
        "preset": PRESET,
        "config": json.dumps(model.cfg.to_dict()),
        "loss_config": json.dumps(cfg.to_dict()),
        "decoded_levels": json.dumps(levels),
        "torch": torch.__version__,
        "generator": "Reference/mcjepa/export_fixtures.py",
        "note": "loss.total = loss.content + loss.flow; grad.* = d loss.total / d parameter",
    }
    return tensors, metadata


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write one fixture here (default: every committed fixture)")
    ap.add_argument("--decoder-stop-level", type=int, help="with --out: decode down to this level")
    ap.add_argument("--upsampler-width", type=int, default=0, help="with --out: convex upsampling of this width")
    ap.add_argument("--per-level-estimators", action="store_true", help="with --out: one estimator per level")
    args = ap.parse_args()
    torch.set_num_threads(1)  # single-threaded reductions: the same bits on every run of this machine
    jobs = [(args.out, args.decoder_stop_level, args.upsampler_width, args.per_level_estimators)] if args.out else [
        (DEFAULT_OUT, None, 0, False), (LEVEL2_OUT, 2, 0, False),
        (CONVEX_OUT, None, CONVEX_WIDTH, False), (PER_LEVEL_OUT, None, CONVEX_WIDTH, True)]
    for out, level, width, per_level in jobs:
        tensors, metadata = build_fixture(level, width, per_level)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        save_file(tensors, out, metadata)
        size = os.path.getsize(out)
        print(f"wrote {os.path.abspath(out)}: {len(tensors)} tensors, {size / 1e6:.2f} MB")
        for key in sorted(k for k in tensors if k.startswith("loss.")):
            print(f"  {key} = {tensors[key].item():.6g}")


if __name__ == "__main__":
    main()
