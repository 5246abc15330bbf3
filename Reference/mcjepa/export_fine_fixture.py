"""Writes the fine head's parity fixture for the Swift port (the flow decoder only, both passes):

  cd Reference && python3 -m mcjepa.export_fine_fixture   # -> ../Tests/MCJEPATests/Fixtures/fine_parity.safetensors

The network is the `test` preset with a convex upsampler of width 8 and `fine_iterations` 2 of width 8 (seed 0), its
fine `out` conv and upsampler mask drawn at random instead of their zero starts, so that every iteration moves the
flow and the full-size flow depends on both. The decoder reads encoder features of one 64x128 pair of
`export_fixtures.fixture_frames` (levels 2..6; the decoder reads nothing finer). With fixed random cotangents,
L = sum(full * ct.full) + sum_l sum(flow.l * ct.flow.l). The file holds:
  decoder.*                  the decoder's weights (the encoder and expander are not part of this check)
  io.feats1.l2 .. l6, io.feats2.*   the input features
  io.flow.l6 .. l3, io.flow.full    the decoder's flows (full with the fine head's correction)
  ct.flow.l*, ct.full        the cotangents
  grad.decoder.*             dL/dparameter; grad.feats1.l*, grad.feats2.l*: dL/dfeatures
Kept small (one pair, decoder only): a few hundred KB.
"""
from __future__ import annotations

import dataclasses
import json
import os

import torch

from .export_refinement_fixture import decoder_parity_tensors
from .model import FINE_LEVEL, MCJEPA, PRESETS
from .weights import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MCJEPATests", "Fixtures")
OUT = os.path.join(FIXTURES, "fine_parity.safetensors")
ITERATIONS = 2
WIDTH = 8


def main() -> None:
    torch.set_num_threads(1)  # single-threaded reductions: the same bits on every run of this machine
    torch.manual_seed(0)
    cfg = dataclasses.replace(PRESETS["test"](), upsampler_width=8, fine_iterations=ITERATIONS, fine_width=WIDTH)
    model = MCJEPA(cfg)
    with torch.no_grad():
        model.decoder.upsampler.mask.weight.normal_(0, 0.5)
        # About a pixel per iteration at level 2, so the warps of the second iteration sample other cells.
        model.decoder.fine.out.weight.normal_(0, 0.05)
        model.decoder.fine.out.bias.normal_(0, 0.1)
    levels = model.decoder.decoded_levels
    out, loss, feats1, feats2, _, full = decoder_parity_tensors(model, read_levels=range(FINE_LEVEL, levels[0] + 1))
    save_file(out, OUT, {"config": json.dumps(cfg.to_dict()), "loss": f"{loss.item():.6g}",
                         "generator": "Reference/mcjepa/export_fine_fixture.py", "torch": torch.__version__})
    with torch.no_grad():  # how far the head moved the full-size flow: the check must see it
        model.decoder.fine.iterations = 0
        moved = (full - model.flow(feats1, feats2)[1]).abs().max().item()
    print(f"wrote {os.path.abspath(OUT)}: {len(out)} tensors, {os.path.getsize(OUT) / 1e3:.0f} KB; the fine head "
          f"moved the full-size flow by up to {moved:.3f} px")


if __name__ == "__main__":
    main()
