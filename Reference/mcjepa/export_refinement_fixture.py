"""Writes the recurrent refinement's parity fixture for the Swift port (the flow decoder only, both passes):

  cd Reference && python3 -m mcjepa.export_refinement_fixture   # -> ../Tests/MCJEPATests/Fixtures/refinement_parity.safetensors

The network is the `test` preset with a convex upsampler of width 8 and `refinement_iterations` 3 of width 8 (seed 0),
its refinement `out` conv and upsampler mask drawn at random instead of their zero starts, so that every iteration
moves the flow and the full-size flow depends on it. The decoder reads encoder features of one 64x128 pair of
`export_fixtures.fixture_frames` (levels 3..6; the decoder reads nothing finer). With fixed random cotangents,
L = sum(full * ct.full) + sum_l sum(flow.l * ct.flow.l). The file holds:
  decoder.*                  the decoder's weights (the encoder and expander are not part of this check)
  io.feats1.l3 .. l6, io.feats2.*   the input features
  io.flow.l6 .. l3, io.flow.full    the decoder's flows (l3 after the refinement)
  ct.flow.l*, ct.full        the cotangents
  grad.decoder.*             dL/dparameter; grad.feats1.l*, grad.feats2.l*: dL/dfeatures
Kept small (one pair, decoder only): a few hundred KB.
"""
from __future__ import annotations

import dataclasses
import json
import os

import torch

from .export_fixtures import fixture_frames
from .model import MCJEPA, PRESETS
from .weights import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MCJEPATests", "Fixtures")
OUT = os.path.join(FIXTURES, "refinement_parity.safetensors")
ITERATIONS = 3
WIDTH = 8


def decoder_parity_tensors(model, read_levels):
    """The decoder-only parity check of `model` on one pair of `fixture_frames`: its decoder weights, flows, fixed
    random cotangents (L = sum(full * ct.full) + sum_l sum(flow.l * ct.flow.l)), dL/dparameter, and the input features
    and dL/dfeatures of `read_levels`, as float tensors named as this module's docstring lists them. Returns them with
    L, both frames' features, the flows and the full-size flow."""
    img1, img2 = fixture_frames(batch=1)
    with torch.no_grad():
        feats1, feats2 = model.encode(img1), model.encode(img2)
    levels = model.decoder.decoded_levels
    f1 = [f.clone().requires_grad_(True) for f in feats1]
    f2 = [f.clone().requires_grad_(True) for f in feats2]
    flows, full = model.flow(f1, f2)

    g = torch.Generator().manual_seed(1)
    out = {name: p.detach().clone() for name, p in model.state_dict().items() if name.startswith("decoder.")}
    loss = 0
    for lv, flow in zip(levels, flows):
        ct = torch.randn(flow.shape, generator=g)
        out[f"io.flow.l{lv}"], out[f"ct.flow.l{lv}"] = flow, ct
        loss = loss + (flow * ct).sum()
    ct = torch.randn(full.shape, generator=g)
    out["io.flow.full"], out["ct.full"] = full, ct
    loss = loss + (full * ct).sum()
    loss.backward()
    for lv in read_levels:
        out[f"io.feats1.l{lv}"], out[f"io.feats2.l{lv}"] = feats1[lv - 1], feats2[lv - 1]
        out[f"grad.feats1.l{lv}"], out[f"grad.feats2.l{lv}"] = f1[lv - 1].grad, f2[lv - 1].grad
    for name, p in model.decoder.named_parameters():
        out[f"grad.decoder.{name}"] = p.grad
    out = {k: v.detach().float().contiguous() for k, v in out.items()}
    return out, loss, feats1, feats2, flows, full


def main() -> None:
    torch.set_num_threads(1)  # single-threaded reductions: the same bits on every run of this machine
    torch.manual_seed(0)
    cfg = dataclasses.replace(PRESETS["test"](), upsampler_width=8, refinement_iterations=ITERATIONS,
                              refinement_width=WIDTH)
    model = MCJEPA(cfg)
    with torch.no_grad():
        model.decoder.upsampler.mask.weight.normal_(0, 0.5)
        # About a pixel per iteration at level 3, so the warps of later iterations sample other cells.
        model.decoder.refinement.out.weight.normal_(0, 0.05)
        model.decoder.refinement.out.bias.normal_(0, 0.1)
    levels = model.decoder.decoded_levels
    out, loss, feats1, feats2, flows, _ = decoder_parity_tensors(model, read_levels=levels)
    save_file(out, OUT, {"config": json.dumps(cfg.to_dict()), "loss": f"{loss.item():.6g}",
                         "generator": "Reference/mcjepa/export_refinement_fixture.py", "torch": torch.__version__})
    with torch.no_grad():  # how far the iterations moved the stop level's flow: the check must see them
        model.decoder.refinement.iterations = 0
        moved = (flows[-1] - model.flow(feats1, feats2)[0][-1]).abs().max().item()
    print(f"wrote {os.path.abspath(OUT)}: {len(out)} tensors, {os.path.getsize(OUT) / 1e3:.0f} KB; the refinement "
          f"moved the level-{levels[-1]} flow by up to {moved:.3f} px")


if __name__ == "__main__":
    main()
