"""Writes the dense content loss's parity fixture for the Swift port:

  cd Reference && python3 -m mcjepa.export_dense_fixture   # -> ../Tests/MCJEPATests/Fixtures/dense_parity.safetensors

The `test` preset with a local projector at level 3 (`with_local_projector(3)`), weights from torch.manual_seed(3);
two 64x64 views of three items (level 3: 8x8 cells) whose boxes overlap in two items (one view mirrored) and
belong to a temporal positive in the third (no located pairs). The file holds the weights, io.view_a/io.view_b,
io.boxes_a/io.boxes_b ([3, 5]: x, y, w, h, flipped), io.same_frame, io.matches ([P, 2], float), io.nn_matches (the
feature-space pairs, 5 per item and direction), loss.<term> for every term of `content_losses` with the dense loss at
weight 0.7 and those pairs, and grad.<name> = d total / d every parameter the content loss reaches.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch

from .losses import LossConfig, content_losses, dense_cell_matches, dense_nn_matches
from .model import MCJEPA, test_config, weights_metadata
from .weights import save_file

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "Tests", "MCJEPATests", "Fixtures")
DENSE_WEIGHT = 0.7
NEAREST = 5


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(3)
    model = MCJEPA(test_config().with_local_projector(3))
    g = torch.Generator().manual_seed(4)
    view_a, view_b = torch.rand(3, 3, 64, 64, generator=g), torch.rand(3, 3, 64, 64, generator=g)
    boxes_a = np.array([[0, 0, 96, 96, 0], [24, 12, 80, 80, 1], [0, 0, 96, 96, 0]], np.float32)
    boxes_b = np.array([[24, 12, 80, 80, 1], [0, 0, 96, 96, 0], [24, 12, 80, 80, 1]], np.float32)
    same_frame = np.array([True, True, False])
    dense = {"weight": DENSE_WEIGHT, "boxes_a": boxes_a, "boxes_b": boxes_b, "same_frame": same_frame,
             "nearest_neighbours": NEAREST}
    total, terms = content_losses(model, view_a, view_b, LossConfig(), dense)
    total.backward()
    out = {"io.view_a": view_a, "io.view_b": view_b, "io.boxes_a": torch.from_numpy(boxes_a),
           "io.boxes_b": torch.from_numpy(boxes_b), "io.same_frame": torch.from_numpy(same_frame.astype(np.float32)),
           "io.matches": dense_cell_matches(boxes_a, boxes_b, same_frame, 8, 8).float(),
           "loss.total": total.reshape(1)}
    out.update({f"loss.{k}": v.reshape(1) for k, v in terms.items()})
    for name, p in model.named_parameters():
        out[name] = p
        if p.grad is not None:  # the decoder gets none: the content loss does not reach it
            out[f"grad.{name}"] = p.grad
    out = {k: v.detach().float().contiguous() for k, v in out.items()}
    path = os.path.join(FIXTURES, "dense_parity.safetensors")
    with torch.no_grad():
        nn = dense_nn_matches(model.local_embedding(model.encode(view_a)), model.local_embedding(model.encode(view_b)),
                              64, NEAREST)
    out["io.nn_matches"] = nn.float()
    metadata = dict(weights_metadata(model.cfg), dense_weight=str(DENSE_WEIGHT), nearest_neighbours=str(NEAREST),
                    generator="Reference/mcjepa/export_dense_fixture.py", torch=torch.__version__)
    save_file(out, path, metadata)
    print(f"wrote {os.path.abspath(path)}: {len(out)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
