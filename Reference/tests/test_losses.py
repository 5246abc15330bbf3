import numpy as np
import torch

from mcjepa.losses import (LossConfig, content_losses, covariance_loss, cycle_loss, feature_regression_loss,
                           flow_losses, occlusion_mask, photometric_loss, smoothness_loss, ssim_loss_map,
                           variance_loss, vicreg_terms)
from mcjepa.model import MCJEPA, build_model, test_config
from mcjepa.ops import backward_warp


def test_occlusion_mask_accepts_consistent_flows_and_rejects_inconsistent_ones():
    fw = torch.zeros(1, 2, 8, 8)
    fw[:, 0] = 1.0
    consistent = occlusion_mask(fw, -fw)
    assert torch.all(consistent[..., :7] == 1)
    # The last column reads the backward flow from outside the image (zeros): |f|^2 = 1 > 0.51.
    assert torch.all(consistent[..., 7] == 0)
    # Same direction instead of opposite: |f + b|^2 = 4 > 0.01 * 2 + 0.5.
    assert torch.all(occlusion_mask(fw, fw) == 0)


def test_occlusion_threshold_is_the_unflow_rule():
    fw = torch.zeros(1, 2, 1, 1)
    bw = torch.zeros(1, 2, 1, 1)
    bw[:, 0] = 0.70  # |f + b|^2 = 0.49 < 0.01 * 0.49 + 0.5
    assert occlusion_mask(fw, bw).item() == 1
    bw[:, 0] = 0.72  # 0.5184 > 0.505184
    assert occlusion_mask(fw, bw).item() == 0


def test_photometric_loss_is_zero_for_a_perfect_reconstruction_and_positive_otherwise():
    torch.manual_seed(0)
    img = torch.rand(1, 3, 16, 16)
    mask = torch.ones(1, 1, 16, 16)
    assert photometric_loss(img, img, mask).item() < 1e-6
    assert photometric_loss(img, torch.rand(1, 3, 16, 16), mask).item() > 0.1


def test_photometric_loss_ignores_masked_pixels():
    img = torch.rand(1, 3, 16, 16)
    bad = img.clone()
    bad[..., :, 8:] = 1 - bad[..., :, 8:]
    mask = torch.ones(1, 1, 16, 16)
    mask[..., :, 6:] = 0  # SSIM window of interior pixel x=6 reaches x=7 only
    assert photometric_loss(img, bad, mask).item() < 1e-6


def test_ssim_map_is_zero_for_equal_images_and_has_valid_size():
    x = torch.rand(2, 3, 10, 12)
    m = ssim_loss_map(x, x)
    assert m.shape == (2, 3, 8, 10) and m.abs().max() < 1e-5


def test_smoothness_is_zero_for_affine_flow_and_positive_for_a_kink():
    ys, xs = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    affine = torch.stack([0.3 * xs + 0.1 * ys + 2, -0.2 * xs]).unsqueeze(0)
    img = torch.rand(1, 3, 12, 12)
    assert smoothness_loss(affine, img).abs().item() < 1e-6
    kink = torch.stack([(xs - 6).abs(), torch.zeros_like(xs)]).unsqueeze(0)
    assert smoothness_loss(kink, torch.zeros(1, 3, 12, 12)).item() > 0
    # Edge awareness: a strong image edge at the kink lowers the penalty. As in ARFlow, the second difference
    # centred on pixel x is weighted by the image gradient between x and x + 1.
    edge_img = torch.zeros(1, 3, 12, 12)
    edge_img[..., 7:] = 1.0
    assert smoothness_loss(kink, edge_img) < smoothness_loss(kink, torch.zeros(1, 3, 12, 12))


def test_cycle_loss_zero_for_opposite_constant_flows():
    fw = torch.ones(1, 2, 8, 8)
    interior = torch.zeros(1, 1, 8, 8)
    interior[..., :7, :7] = 1  # the last row and column read the backward flow from outside (zeros)
    assert cycle_loss(fw, -fw, interior).item() < 1e-6
    assert abs(cycle_loss(fw, fw, interior).item() - 2.0 * 49 / 64) < 1e-5  # normalised by all 64 pixels


def test_feature_regression_matches_masked_mse():
    a, b = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    mask = (torch.rand(2, 1, 5, 5) > 0.5).float()
    expected = (((a - b) ** 2).mean(1, keepdim=True) * mask).sum() / (mask.sum() + 1e-6)
    assert torch.allclose(feature_regression_loss(a, b, mask), expected)


def test_variance_and_covariance_terms():
    collapsed = torch.ones(10, 4)
    assert abs(variance_loss(collapsed).item() - (1 - 1e-2)) < 1e-6
    spread = torch.randn(4096, 3) * 2
    assert variance_loss(spread).item() == 0
    x = torch.randn(4096, 1)
    correlated = torch.cat([x, x], 1)  # cov off-diagonals ~ var = 1: (1^2 + 1^2) / 2
    assert abs(covariance_loss(correlated).item() - 1.0) < 0.15
    terms = vicreg_terms(spread, spread)
    assert terms["vicreg_inv"].item() == 0


def test_flow_and_content_losses_are_finite_and_give_gradients_everywhere():
    torch.manual_seed(0)
    model = build_model("test")
    img1 = torch.rand(2, 3, 64, 128)
    img2 = torch.roll(img1, shifts=2, dims=3)
    total, terms = flow_losses(model, img1, img2, LossConfig())
    content, _ = content_losses(model, img1, img2, LossConfig())
    (total + content).backward()
    assert torch.isfinite(total) and torch.isfinite(content)
    for key in ["photo", "feature", "smooth", "cycle", "varcov", "var_l1", "cov_l6"]:
        assert key in terms
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_dense_matches_of_two_views_eight_pixels_apart_are_one_column_over():
    # As the Swift DenseVICRegTests: view A covers x 0..32, view B x 8..40, 4x4 cells of 8 px.
    from mcjepa.losses import dense_cell_matches
    a = np.array([[0, 0, 32, 32, 0]], np.float32)
    b = np.array([[8, 0, 32, 32, 0]], np.float32)
    found = dense_cell_matches(a, b, [True], 4, 4).tolist()
    expected = [[r * 4 + c, r * 4 + c - 1] for r in range(4) for c in range(1, 4)] \
        + [[r * 4 + c + 1, r * 4 + c] for r in range(4) for c in range(3)]
    assert found == expected
    # B mirrored: A's column c meets B's column 4 - c; a temporal positive (item 0) gives none.
    b[0, 4] = 1
    found = dense_cell_matches(np.concatenate([a, a]), np.concatenate([b, b]), [False, True], 4, 4).tolist()
    expected = [[16 + r * 4 + c, 16 + r * 4 + 4 - c] for r in range(4) for c in range(1, 4)] \
        + [[16 + r * 4 + 4 - k, 16 + r * 4 + k] for r in range(4) for k in range(1, 4)]
    assert found == expected


def test_dense_content_loss_reaches_the_projector_and_is_nothing_at_weight_zero():
    torch.manual_seed(0)
    model = MCJEPA(test_config().with_local_projector(3))
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    boxes = {"boxes_a": np.array([[0, 0, 64, 64, 0]] * 2, np.float32),
             "boxes_b": np.array([[16, 8, 48, 48, 1]] * 2, np.float32), "same_frame": [True, True]}
    plain, plain_terms = content_losses(model, a, b, LossConfig())
    zero, zero_terms = content_losses(model, a, b, LossConfig(), dict(boxes, weight=0.0))
    assert torch.equal(plain, zero) and set(zero_terms) == set(plain_terms)
    total, terms = content_losses(model, a, b, LossConfig(), dict(boxes, weight=0.5))
    assert terms["dense_pairs"] > 0 and torch.isfinite(total)
    assert torch.allclose(total, plain + 0.5 * terms["dense"])
    total.backward()
    assert model.local_projector.linears[0].weight.grad.abs().max() > 0


def test_dense_nn_pairs_are_the_closest_of_each_item_both_ways():
    # As the Swift test: A = (0, 10, 20), B = (11, 1, 30) per item, one-dimensional embeddings.
    from mcjepa.losses import dense_nn_matches
    a = torch.tensor([0., 10, 20, 0, 10, 20])[:, None]
    b = torch.tensor([11., 1, 30, 11, 1, 30])[:, None]
    assert dense_nn_matches(a, b, 3, 2).tolist() == [[0, 1], [1, 0], [1, 0], [0, 1], [3, 4], [4, 3], [4, 3], [3, 4]]
    assert dense_nn_matches(a, b, 3, 3).tolist()[:6] == [[0, 1], [1, 0], [2, 0], [1, 0], [0, 1], [2, 2]]
