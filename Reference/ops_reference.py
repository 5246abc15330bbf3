#!/usr/bin/env python3
"""PyTorch reference for the Swift NN kernels (Sources/NN).

Default mode: runs every operation on fixed, seeded inputs and writes inputs, outputs and the gradients of a
random upstream gradient to Tests/NNTests/Fixtures/ops.safetensors. Tensor names are "<case>.<role>"; the
metadata holds each case's settings as JSON under the case name. The Swift tests (ParityTests) compare tensor
by tensor. Regenerate with:  python3 Reference/ops_reference.py      (torch==2.13.0+cpu, safetensors)
The tensors are reproducible bit for bit; the file bytes are not (safetensors orders metadata keys by hash).

Benchmark mode (used by `mcjepa-bench nn`):  python3 Reference/ops_reference.py --bench --threads 2
times forward+backward of the conv stack defined in STACK below (the Swift benchmark runs the same stack) and
prints one line "pytorch_ms <fastest run in milliseconds>".
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NNTests", "Fixtures",
                       "ops.safetensors")

# (name, N, C, H, W, O, kernel, stride, padding, dilation, groups, bias)
CONV_CASES = [
    ("conv3x3", 2, 3, 7, 9, 4, 3, 1, 1, 1, 1, True),
    ("conv3x3_stride2", 1, 4, 9, 8, 5, 3, 2, 1, 1, 1, True),
    ("conv3x3_dilation2", 1, 3, 8, 7, 4, 3, 1, 2, 2, 1, True),
    ("conv3x3_groups2", 1, 4, 6, 7, 6, 3, 1, 1, 1, 2, False),
    ("conv4x4_stride2_stem", 1, 3, 10, 12, 4, 4, 2, 1, 1, 1, True),
    ("conv2x2_stride2_down", 2, 4, 6, 8, 6, 2, 2, 0, 1, 1, True),
    ("conv1x1", 2, 6, 5, 7, 8, 1, 1, 0, 1, 1, True),
    ("depthwise7x7", 2, 5, 9, 11, 5, 7, 1, 3, 1, 5, True),
    ("depthwise3x3_stride2", 1, 3, 8, 9, 3, 3, 2, 1, 1, 3, False),
    ("depthwise3x3_dilation2", 1, 4, 9, 8, 4, 3, 1, 2, 2, 4, True),
]


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def record(out, meta, name, settings, **tensors):
    meta[name] = json.dumps(settings)
    for role, t in tensors.items():
        if t is not None:
            out[f"{name}.{role}"] = t.detach().contiguous().float()


def backward_with_random_gradient(y, gen):
    gy = torch.randn(y.shape, generator=gen)
    y.backward(gy)
    return gy


def make_fixtures():
    gen = torch.Generator().manual_seed(1234)
    rand = lambda *shape: torch.randn(*shape, generator=gen)
    out, meta = {}, {}

    for name, N, C, H, W, O, k, s, p, d, g, has_bias in CONV_CASES:
        x, w = leaf(rand(N, C, H, W)), leaf(rand(O, C // g, k, k) * 0.3)
        b = leaf(rand(O)) if has_bias else None
        y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        gy = backward_with_random_gradient(y, gen)
        record(out, meta, name, {"stride": s, "padding": p, "dilation": d, "groups": g},
               x=x, w=w, b=b, y=y, gy=gy, gx=x.grad, gw=w.grad, gb=None if b is None else b.grad)

    x, w, b = leaf(rand(3, 2, 6)), leaf(rand(4, 6)), leaf(rand(4))
    y = F.linear(x, w, b)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "linear", {}, x=x, w=w, b=b, y=y, gy=gy, gx=x.grad, gw=w.grad, gb=b.grad)

    # ConvNeXt channels_first LayerNorm, written as in the ConvNeXt repository.
    x, w, b = leaf(rand(2, 5, 3, 4) * 2 + 0.5), leaf(rand(5)), leaf(rand(5))
    u = x.mean(1, keepdim=True)
    var = (x - u).pow(2).mean(1, keepdim=True)
    y = w[:, None, None] * ((x - u) / torch.sqrt(var + 1e-6)) + b[:, None, None]
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "layernorm", {"eps": 1e-6}, x=x, w=w, b=b, y=y, gy=gy, gx=x.grad, gw=w.grad, gb=b.grad)

    x = leaf(rand(2, 3, 4, 5) * 2)
    y = F.gelu(x)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "gelu", {}, x=x, y=y, gy=gy, gx=x.grad)

    x = leaf(rand(2, 3, 4, 5))
    y = F.leaky_relu(x, 0.1)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "leaky_relu", {"slope": 0.1}, x=x, y=y, gy=gy, gx=x.grad)

    for name, shape, size in [("resize_up", (1, 2, 5, 7), (9, 13)), ("resize_down", (2, 2, 8, 9), (3, 4)),
                              ("resize_to_one_row", (1, 1, 4, 5), (1, 3))]:
        x = leaf(rand(*shape))
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        gy = backward_with_random_gradient(y, gen)
        record(out, meta, name, {"height": size[0], "width": size[1]}, x=x, y=y, gy=gy, gx=x.grad)

    for name, shape in [("correlation", (1, 3, 7, 8)), ("correlation_batch2", (2, 4, 10, 11))]:
        f1, f2 = leaf(rand(*shape)), leaf(rand(*shape))
        y = correlation(f1, f2, 4)
        gy = backward_with_random_gradient(y, gen)
        record(out, meta, name, {"radius": 4}, f1=f1, f2=f2, y=y, gy=gy, gf1=f1.grad, gf2=f2.grad)

    img, flow = leaf(rand(2, 3, 6, 7)), leaf(rand(2, 2, 6, 7) * 2.5)
    y, mask = warp(img, flow)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "warp", {}, img=img, flow=flow, y=y, mask=mask, gy=gy, gimg=img.grad, gflow=flow.grad)

    x = leaf(rand(1, 2, 6, 7))
    y = F.avg_pool2d(x, 2)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "avgpool2", {"kernel": 2}, x=x, y=y, gy=gy, gx=x.grad)

    x = leaf(rand(2, 3, 4, 5))
    y = x.mean((2, 3), keepdim=True)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "global_avgpool", {}, x=x, y=y, gy=gy, gx=x.grad)

    a = torch.rand(1, 3, 7, 8, generator=gen)
    x, y_in = leaf(a), leaf((a + 0.2 * rand(1, 3, 7, 8)).clamp(0, 1))
    y = ssim(x, y_in)
    gy = backward_with_random_gradient(y, gen)
    record(out, meta, "ssim", {}, x=x, y_in=y_in, y=y, gy=gy, gx=x.grad, gy_in=y_in.grad)

    # AdamW: three steps with fixed gradients, parameters recorded after each step.
    p = torch.nn.Parameter(rand(5, 4))
    p0 = p.detach().clone()
    opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    steps = {"p0": p0}
    for i in range(3):
        g = rand(5, 4) * (i + 1)
        p.grad = g.clone()
        opt.step()
        steps[f"g{i + 1}"] = g
        steps[f"p{i + 1}"] = p.detach().clone()
    record(out, meta, "adamw", {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}, **steps)
    return out, meta


def correlation(f1, f2, radius):
    """out[n, d, y, x] = mean_c f1[n,c,y,x] * f2[n,c,y+dy,x+dx], d = (dy+R)*(2R+1) + (dx+R), zero outside."""
    _, C, H, W = f1.shape
    f2p = F.pad(f2, (radius, radius, radius, radius))
    planes = []
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = f2p[:, :, radius + dy:radius + dy + H, radius + dx:radius + dx + W]
            planes.append((f1 * shifted).sum(1) / C)
    return torch.stack(planes, 1)


def warp(img, flow):
    """grid_sample with align_corners=True and zeros padding, flow in pixels; plus the validity mask."""
    _, _, H, W = img.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    sx, sy = xs + flow[:, 0], ys + flow[:, 1]
    grid = torch.stack([2 * sx / (W - 1) - 1, 2 * sy / (H - 1) - 1], -1)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    mask = ((sx >= 0) & (sx <= W - 1) & (sy >= 0) & (sy <= H - 1)).float().unsqueeze(1)
    return out, mask


def ssim(x, y):
    """monodepth2 / ARFlow SSIM: 3x3 means over reflect-padded inputs, clamp((1 - SSIM) / 2, 0, 1)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x ** 2, 3, 1) - mu_x ** 2
    sigma_y = F.avg_pool2d(y ** 2, 3, 1) - mu_y ** 2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    n = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    d = (mu_x ** 2 + mu_y ** 2 + c1) * (sigma_x + sigma_y + c2)
    return torch.clamp((1 - n / d) / 2, 0, 1)


# The benchmark's conv stack at tiny-model shapes (quarter resolution of 384x640); the Swift side mirrors it.
# (in channels, out channels, kernel, stride, padding, groups, activation)
STACK = [
    (32, 64, 3, 1, 1, 1, "leaky"),
    (64, 64, 7, 1, 3, 64, "none"),
    (64, 256, 1, 1, 0, 1, "gelu"),
    (256, 64, 1, 1, 0, 1, "none"),
    (64, 96, 3, 2, 1, 1, "leaky"),
]


def bench(threads, height, width, reps):
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, STACK[0][0], height, width, generator=gen)
    layers = []
    for cin, cout, k, s, p, g, act in STACK:
        w = (torch.randn(cout, cin // g, k, k, generator=gen) * 0.1).requires_grad_(True)
        b = torch.zeros(cout).requires_grad_(True)
        layers.append((w, b, s, p, g, act))

    def step():
        h = x
        for w, b, s, p, g, act in layers:
            h = F.conv2d(h, w, b, stride=s, padding=p, groups=g)
            if act == "leaky":
                h = F.leaky_relu(h, 0.1)
            elif act == "gelu":
                h = F.gelu(h)
        h.backward(torch.ones_like(h))

    for _ in range(3):
        step()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    # The minimum, like the Swift side: on a shared machine it is the least disturbed run.
    print(f"pytorch_ms {1000 * min(times):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", action="store_true", help="time the conv stack instead of writing fixtures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    if args.bench:
        bench(args.threads, args.height, args.width, args.reps)
        return
    from safetensors.torch import save_file
    torch.set_num_threads(1)
    tensors, meta = make_fixtures()
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    save_file(tensors, FIXTURE, metadata=meta)
    print(f"wrote {len(tensors)} tensors ({os.path.getsize(FIXTURE)} bytes) to {os.path.normpath(FIXTURE)}")


if __name__ == "__main__":
    main()
