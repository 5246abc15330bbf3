"""The small set of primitive operations the MC-JEPA model is built from.

The Swift engine mirrors exactly these, so nothing else (no BatchNorm, no custom CUDA kernels) may appear in the
model. Tensor layout is always NCHW; flow has 2 channels, channel 0 = u (along x, width), channel 1 = v (along y).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

CORRELATION_RADIUS = 4
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (ConvNeXt's channels_first LayerNorm, eps 1e-6).

    y[n,c,y,x] = (x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c], var is the biased (1/C) variance.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Permuting to channels-last lets PyTorch use its fused layer_norm kernel; the maths is the formula above.
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        # Back to contiguous NCHW: strided channels-last views make the correlation's slices several times slower.
        return y.permute(0, 3, 1, 2).contiguous()


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    return F.gelu(x, approximate="none")


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


def resize_bilinear(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize with align_corners=True (corner pixels map onto corner pixels)."""
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=True)


def upsample_flow(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a flow field and rescale its values into pixels of the new grid.

    u is multiplied by width / old_width and v by height / old_height (the ratio of sizes, not of size - 1, so
    that an exact x2 pyramid step multiplies by exactly 2).
    """
    old_h, old_w = flow.shape[-2:]
    up = resize_bilinear(flow, height, width)
    scale = torch.tensor([width / old_w, height / old_h], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    return up * scale


class _Correlation(torch.autograd.Function):
    """Cost volume with a hand-written backward: autograd through 81 slices of a padded tensor zero-fills a full
    gradient buffer per slice, which made it the most expensive op of a training step."""

    @staticmethod
    def forward(ctx, f1: torch.Tensor, f2: torch.Tensor, radius: int) -> torch.Tensor:
        n, c, h, w = f1.shape
        size = 2 * radius + 1
        f2p = F.pad(f2, (radius, radius, radius, radius))
        out = f1.new_empty(n, size * size, h, w)
        for dy in range(size):
            for dx in range(size):
                torch.sum(f1 * f2p[:, :, dy:dy + h, dx:dx + w], dim=1, out=out[:, dy * size + dx])
        ctx.save_for_backward(f1, f2p)
        ctx.radius = radius
        return out.div_(c)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        f1, f2p = ctx.saved_tensors
        radius = ctx.radius
        n, c, h, w = f1.shape
        size = 2 * radius + 1
        g = grad_out / c
        grad_f1 = torch.zeros_like(f1)
        grad_f2p = torch.zeros_like(f2p)
        for dy in range(size):
            for dx in range(size):
                gd = g[:, dy * size + dx].unsqueeze(1)
                grad_f1.addcmul_(gd, f2p[:, :, dy:dy + h, dx:dx + w])
                grad_f2p[:, :, dy:dy + h, dx:dx + w].addcmul_(gd, f1)
        return grad_f1, grad_f2p[:, :, radius:radius + h, radius:radius + w], None


def correlation(f1: torch.Tensor, f2: torch.Tensor, radius: int = CORRELATION_RADIUS) -> torch.Tensor:
    """Local cost volume: out[n, d, y, x] = mean_c f1[n,c,y,x] * f2[n,c,y+dy,x+dx], zero outside f2.

    d = (dy + radius) * (2 * radius + 1) + (dx + radius), dy and dx in [-radius, radius]: 81 channels for radius 4.
    Backward: grad_f1 = sum_d g_d * shift_d(f2) / C and grad_f2[y+dy, x+dx] += g_d[y, x] * f1[y, x] / C.
    """
    return _Correlation.apply(f1.contiguous(), f2.contiguous(), radius)


def correlation_naive(f1: torch.Tensor, f2: torch.Tensor, radius: int = CORRELATION_RADIUS) -> torch.Tensor:
    """The same cost volume through plain autograd, to test the hand-written backward against."""
    n, c, h, w = f1.shape
    size = 2 * radius + 1
    f2p = F.pad(f2, (radius, radius, radius, radius))
    out = [(f1 * f2p[:, :, dy:dy + h, dx:dx + w]).sum(dim=1) for dy in range(size) for dx in range(size)]
    return torch.stack(out, dim=1) / c


def backward_warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample x at (px + u, py + v): out[n,:,py,px] = bilinear(x[n], px + u[n,py,px], py + v[n,py,px]).

    Samples outside the image read zeros (grid_sample padding_mode="zeros", align_corners=True). Coordinates are
    normalised with 2 * p / max(size - 1, 1) - 1 so that a 1-pixel-wide map does not divide by zero.
    """
    n, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, h, 1).expand(n, h, w)
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, w).expand(n, h, w)
    gx = 2.0 * (xs + flow[:, 0]) / max(w - 1, 1) - 1.0
    gy = 2.0 * (ys + flow[:, 1]) / max(h - 1, 1) - 1.0
    grid = torch.stack((gx, gy), dim=3)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def normalize_image(rgb01: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> (x - ImageNet mean) / ImageNet std, per channel."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
    return (rgb01 - mean) / std


class InputPadder:
    """Pads H and W up to a multiple of `multiple` with edge replication, split evenly (RAFT's InputPadder).

    For a deficit d the padding is d // 2 before and d - d // 2 after, on each axis. `unpad` crops it back.
    """

    def __init__(self, height: int, width: int, multiple: int = 64):
        pad_h = (-height) % multiple
        pad_w = (-width) % multiple
        self.pad = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)  # left, right, top, bottom
        self.height, self.width = height, width

    def pad_tensor(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad == (0, 0, 0, 0):
            return x
        return F.pad(x, self.pad, mode="replicate")

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        left, _, top, _ = self.pad
        return x[..., top:top + self.height, left:left + self.width]
