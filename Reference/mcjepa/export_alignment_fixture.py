"""Writes the feature alignment's parity fixture for the Swift port:

  cd Reference && python3 -m mcjepa.export_alignment_fixture   # -> ../Tests/MCJEPATests/Fixtures/alignment_parity.safetensors

Two items of smooth random level-1 features (8 channels, 24x40), frame 2's being frame 1's moved by a smooth
sub-pixel motion plus noise, and a full-size (48x80) flow near that motion: the alignment has something to correct,
some first steps hit the step clamp and some samples fall outside frame 2's grid. The file holds io.features1, io.features2, io.flow and
io.aligned.k{1,3} (the aligned full-size flow after 1 and 3 iterations) and, for the backward pass, a random
cotangent grad.cotangent.k{1,3} of each aligned flow with autograd's gradients of <cotangent, aligned> with respect to
the flow and both feature maps: grad.flow.k{1,3}, grad.features1.k{1,3}, grad.features2.k{1,3}. A few hundred KB.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .alignment import MAX_STEP, align_flow, gauss_newton_step, sampled_inside
from .ops import backward_warp, upsample_flow
from .weights import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MCJEPATests", "Fixtures")
OUT = os.path.join(FIXTURES, "alignment_parity.safetensors")


def smooth_noise(generator: torch.Generator, shape, passes: int = 2) -> torch.Tensor:
    x = torch.randn(shape, generator=generator)
    for _ in range(passes):
        x = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    return x / x.std()


def main() -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    n, c, h, w = 2, 8, 24, 40
    features1 = smooth_noise(g, (n, c, h, w))
    motion = 1.5 * smooth_noise(g, (n, 2, h, w), passes=6)           # level-1 pixels
    # frame 2 at p + motion(p) shows frame 1 at p: sample frame 1 at p - motion (close enough for a test scene)
    features2 = backward_warp(features1, -motion) + 0.05 * torch.randn((n, c, h, w), generator=g)
    flow = upsample_flow(motion + 2.0 * smooth_noise(g, (n, 2, h, w), passes=3), 2 * h, 2 * w)
    tensors = {"io.features1": features1, "io.features2": features2, "io.flow": flow}
    for k in (1, 3):
        inputs = [t.clone().requires_grad_(True) for t in (flow, features1, features2)]
        aligned = align_flow(*inputs, k)
        cotangent = torch.randn(aligned.shape, generator=g)
        grads = torch.autograd.grad((aligned * cotangent).sum(), inputs)
        tensors[f"io.aligned.k{k}"] = aligned.detach()
        tensors[f"grad.cotangent.k{k}"] = cotangent
        for name, grad in zip(("flow", "features1", "features2"), grads):
            tensors[f"grad.{name}.k{k}"] = grad
    first_step = gauss_newton_step(F.avg_pool2d(flow, 2) / 2, features1, features2)
    outside = 1 - sampled_inside(F.avg_pool2d(flow, 2) / 2).mean().item()
    assert 0 < outside < 0.2, f"{outside:.1%} of the first samples outside frame 2: the fixture would not test the mask"
    clamped = (first_step.abs() > MAX_STEP).float().mean().item()
    assert 0 < clamped < 0.5, f"{clamped:.0%} of the first steps clamped: the fixture would not test the clamp and the solve"
    save_file(tensors, OUT, {"generator": "Reference/mcjepa/export_alignment_fixture.py", "torch": torch.__version__})
    moved = (tensors["io.aligned.k3"] - flow).abs().max().item()
    print(f"wrote {os.path.abspath(OUT)}: {os.path.getsize(OUT) / 1e3:.0f} KB; 3 iterations moved the flow by up to {moved:.2f} px")


if __name__ == "__main__":
    main()
