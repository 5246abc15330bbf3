import pytest
import torch

from mcjepa.ops import (InputPadder, LayerNorm2d, backward_warp, correlation, correlation_naive, upsample_flow)


def test_correlation_matches_definition_at_every_offset():
    torch.manual_seed(0)
    f1, f2 = torch.randn(2, 5, 7, 9), torch.randn(2, 5, 7, 9)
    out = correlation(f1, f2)
    assert out.shape == (2, 81, 7, 9)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            d = (dy + 4) * 9 + (dx + 4)
            for y, x in [(0, 0), (3, 4), (6, 8), (2, 7)]:
                yy, xx = y + dy, x + dx
                inside = 0 <= yy < 7 and 0 <= xx < 9
                expected = (f1[:, :, y, x] * f2[:, :, yy, xx]).mean(1) if inside else torch.zeros(2)
                assert torch.allclose(out[:, d, y, x], expected, atol=1e-6), (dy, dx, y, x)


def test_correlation_backward_matches_autograd_and_finite_differences():
    torch.manual_seed(1)
    f1 = torch.randn(1, 3, 5, 6, dtype=torch.double, requires_grad=True)
    f2 = torch.randn(1, 3, 5, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: correlation(a, b, 2), (f1, f2))
    g = torch.randn(1, 81, 5, 6, dtype=torch.double)
    ga = torch.autograd.grad((correlation(f1, f2) * g).sum(), (f1, f2))
    gb = torch.autograd.grad((correlation_naive(f1, f2) * g).sum(), (f1, f2))
    for a, b in zip(ga, gb):
        assert torch.allclose(a, b, atol=1e-12)


def test_backward_warp_by_integer_flow_reads_shifted_pixels_and_zeros_outside():
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).view(1, 2, 4, 6)
    flow = torch.zeros(1, 2, 4, 6)
    flow[:, 0] = 2.0   # u: read two pixels to the right
    flow[:, 1] = -1.0  # v: read one pixel up
    out = backward_warp(x, flow)
    assert torch.allclose(out[:, :, 1:, :4], x[:, :, :3, 2:])
    assert torch.all(out[:, :, 0, :] == 0) and torch.all(out[:, :, :, 4:] == 0)


def test_backward_warp_interpolates_bilinearly():
    x = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])
    flow = torch.tensor([0.25, 0.5]).view(1, 2, 1, 1).expand(1, 2, 2, 2).contiguous()
    # pixel (0, 0) samples (x=0.25, y=0.5): 0.5 * (0 + 2.5) + 0.5 * (20 + 2.5)
    assert torch.allclose(backward_warp(x, flow)[0, 0, 0, 0], torch.tensor(12.5))


def test_upsample_flow_scales_values_by_the_size_ratio():
    flow = torch.ones(1, 2, 3, 5)
    flow[:, 1] = 2.0
    up = upsample_flow(flow, 6, 20)
    assert up.shape == (1, 2, 6, 20)
    assert torch.allclose(up[:, 0], torch.full((1, 6, 20), 4.0))
    assert torch.allclose(up[:, 1], torch.full((1, 6, 20), 4.0))


def test_layernorm2d_normalises_over_channels_with_affine():
    torch.manual_seed(2)
    ln = LayerNorm2d(4)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        ln.bias.copy_(torch.tensor([0.5, 0.0, -0.5, 1.0]))
    x = torch.randn(2, 4, 3, 5)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-6) * ln.weight.view(1, 4, 1, 1) + ln.bias.view(1, 4, 1, 1)
    out = ln(x)
    assert out.is_contiguous()
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("h,w", [(360, 640), (436, 1024), (64, 128), (1, 65)])
def test_input_padder_pads_to_multiple_of_64_and_unpads_exactly(h, w):
    x = torch.rand(1, 3, h, w)
    padder = InputPadder(h, w)
    padded = padder.pad_tensor(x)
    assert padded.shape[-2] % 64 == 0 and padded.shape[-1] % 64 == 0
    assert torch.equal(padder.unpad(padded), x)
    if (h, w) == (360, 640):
        assert padder.pad == (0, 0, 12, 12)
        assert torch.equal(padded[..., 0, :], x[..., 0, :])  # replicate padding
