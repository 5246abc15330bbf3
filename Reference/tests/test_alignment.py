"""The feature alignment (mcjepa/alignment.py): identity at zero iterations, the box mean's valid-pixel count, and a
translated scene whose motion it must recover."""
import math

import torch

from mcjepa.alignment import align_flow, box_mean


def test_zero_iterations_return_the_flow():
    flow = torch.randn(1, 2, 8, 8)
    features = torch.randn(1, 3, 4, 4)
    assert align_flow(flow, features, features, 0) is flow


def test_box_mean_counts_only_valid_pixels():
    x = torch.arange(35.0).view(1, 1, 5, 7)
    boxed = box_mean(x, 3)
    assert torch.isclose(boxed[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    assert torch.isclose(boxed[0, 0, 2, 3], x[0, 0, 1:4, 2:5].mean())


def test_recovers_a_translation_from_an_offset_flow():
    c, h, w = 4, 32, 40
    du, dv = 1.3, -0.6
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")

    def texture(x, y):
        return torch.stack([torch.sin(0.45 * x + 1.3 * k) + torch.cos(0.37 * y - 0.8 * k)
                            + 0.5 * torch.sin(0.21 * (x + y) + k) for k in range(c)])[None]

    f1, f2 = texture(xs, ys), texture(xs - du, ys - dv)  # frame 2 at p + d shows frame 1 at p
    truth = torch.tensor([2 * du, 2 * dv]).view(1, 2, 1, 1)
    start = truth + torch.tensor([0.8, -0.8]).view(1, 2, 1, 1)
    aligned = align_flow(start.expand(1, 2, 2 * h, 2 * w).clone(), f1, f2, 3)
    error = (aligned - truth).norm(dim=1)[0, 12:-12, 12:-12].mean().item()
    assert error < 0.1 * math.hypot(0.8, 0.8), error
