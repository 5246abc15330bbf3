"""The supervised warm-up of Pipelines/train-tiny.yaml: synthetic-pair options and the supervised-only path."""
import json

import numpy as np
import torch

from mcjepa.data import SyntheticPairs
from mcjepa.losses import LossConfig, end_point_error, level_end_point_error
from mcjepa.model import build_model
from mcjepa.train import TrainStep, loss_config

from test_train import SMALL, _photos, _run_train

# Every self-supervised flow term and every VICReg term off, as in the recipe's --loss overrides.
SUPERVISED_ONLY = ["photo_weight=0", "smooth_weight=0", "cycle_weight=0", "feature_weights=0,0,0,0,0,0",
                   "var_weights=0,0,0,0,0,0", "cov_weights=0,0,0,0,0,0", "vicreg_inv=0", "vicreg_var=0",
                   "vicreg_cov=0"]


def _supervised_only_config() -> LossConfig:
    return loss_config(SUPERVISED_ONLY)  # the trainer's own parsing of --loss overrides


def test_level_epe_compares_the_scaled_flow_with_the_pooled_target():
    flow = torch.zeros(1, 2, 2, 3)
    flow[:, 0] = 1.0                       # level 2: 1 px = 4 full-resolution px
    target = torch.zeros(1, 2, 8, 12)
    target[:, 0], target[:, 1] = 4.0, 3.0
    assert abs(level_end_point_error(flow, target, 2).item() - 3.0) < 1e-6


def test_masked_epe_counts_only_the_flagged_items_and_gives_the_others_no_gradient():
    torch.manual_seed(3)
    flow = torch.randn(3, 2, 4, 5, requires_grad=True)
    target = torch.randn(3, 2, 4, 5)
    mask = torch.tensor([True, False, True])
    masked = end_point_error(flow, target, mask)
    assert abs(masked.item() - end_point_error(flow[[0, 2]], target[[0, 2]]).item()) < 1e-6
    masked.backward()
    assert flow.grad[1].abs().max().item() == 0
    assert flow.grad[0].abs().max().item() > 0
    assert end_point_error(flow, target, torch.tensor([False, False, False])).item() == 0
    assert abs(level_end_point_error(flow, target, 0, mask).item() - masked.item()) < 1e-6


class _StillPairs:
    """Pairs without exact flow (as a video's)."""

    def sample(self, rng):
        frame = np.full((80, 96, 3), 0.5, np.float32)
        return {"f0": frame, "f1": frame}


def test_mixed_flow_batches_keep_the_synthetic_flow_and_flag_it(tmp_path):
    from mcjepa.data import MixedSampler
    _photos(str(tmp_path))
    synthetic = SyntheticPairs(sorted(str(p) for p in tmp_path.glob("*.png")), size=(80, 96), max_shift=8)
    sampler = MixedSampler([synthetic, _StillPairs()], crop=(64, 64), seed=2)
    kinds = set()
    for _ in range(8):
        batch = sampler.flow_batch(4)
        if "flow" not in batch:
            kinds.add("none")
            continue
        assert batch["flow"].shape == (4, 2, 64, 64)
        if "flow_mask" in batch:
            kinds.add("mixed")
            mask = batch["flow_mask"]
            assert mask.dtype == torch.bool and mask.any() and not mask.all()
            assert batch["flow"][~mask].abs().max().item() == 0
        else:
            kinds.add("all")
    assert "mixed" in kinds


def test_supervised_only_path_equals_the_full_path_with_only_the_supervised_term():
    torch.manual_seed(0)
    model = build_model("test")
    cfg = _supervised_only_config()
    assert not cfg.has_self_supervised_flow_terms() and not cfg.has_content_terms()
    step = TrainStep(model, cfg)
    batch = {"f0": torch.rand(1, 3, 64, 128), "f1": torch.rand(1, 3, 64, 128), "flow": 3 * torch.randn(1, 2, 64, 128)}

    total, terms = step(None, batch, True, supervised_weight=2.0)
    assert "photo" not in terms and "content" not in terms and "level_epe" not in terms  # forward flow only
    total.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad(set_to_none=True)
    full = step._full_flow(batch, 2.0, {})
    full.backward()
    full_grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.allclose(total, full, rtol=1e-6)
    assert len(grads) == len(full_grads) > 0
    assert all(torch.allclose(g, f, rtol=1e-4, atol=1e-8) for g, f in zip(grads, full_grads))

    # The multi-scale term: supervised_weight * (EPE + level_weight * mean over decoded levels).
    total, terms = step(None, batch, True, supervised_weight=2.0, level_weight=0.5)
    levels = [terms[f"level_epe_l{lv}"] for lv in model.decoder.decoded_levels]
    assert torch.allclose(terms["level_epe"], torch.stack(levels).mean())
    assert torch.allclose(total, 2.0 * (terms["synthetic_epe"] + 0.5 * terms["level_epe"]))


def test_a_mixed_batch_is_supervised_on_its_flagged_pairs_only():
    """With a flow_mask, the EPE is the flagged pairs' only: with every self-supervised term off, both paths on a
    batch whose first pair alone is flagged give the loss of that pair alone."""
    torch.manual_seed(1)
    model = build_model("test")
    step = TrainStep(model, _supervised_only_config())
    f0, f1, flow = torch.rand(2, 3, 64, 128), torch.rand(2, 3, 64, 128), 3 * torch.randn(2, 2, 64, 128)
    flow[1] = 0
    mixed = {"f0": f0, "f1": f1, "flow": flow, "flow_mask": torch.tensor([True, False])}
    total, terms = step(None, mixed, True, supervised_weight=1.0)
    alone, _ = step(None, {"f0": f0[:1], "f1": f1[:1], "flow": flow[:1]}, True, supervised_weight=1.0)
    assert torch.allclose(total, alone, rtol=1e-5)
    full = step._full_flow(mixed, 1.0, {})
    assert torch.allclose(full, alone, rtol=1e-5)


def _translations(source, count=400):
    rng = np.random.default_rng(0)
    # About (0, 0) the similarity adds nothing to the translation column.
    return np.concatenate([source._motion(rng, 0.0, 0.0)[:2, 2] for _ in range(count)])


def test_shift_power_makes_most_translations_small(tmp_path):
    _photos(tmp_path, 1)
    uniform = _translations(SyntheticPairs([str(tmp_path)], size=(64, 64), max_shift=32))
    skewed = _translations(SyntheticPairs([str(tmp_path)], size=(64, 64), max_shift=32, shift_power=2))
    assert np.abs(skewed).max() <= 32 and np.abs(uniform).max() <= 32
    assert np.median(np.abs(skewed)) < 0.75 * np.median(np.abs(uniform))  # ~8 vs ~16 px
    assert SyntheticPairs([str(tmp_path)], size=(64, 64), max_shift=96).margin == 192


def test_jitter_changes_colours_not_flow(tmp_path):
    _photos(tmp_path, 2)
    plain = SyntheticPairs([str(tmp_path)], size=(64, 96), max_layers=4).sample(np.random.default_rng(5))
    jittered = SyntheticPairs([str(tmp_path)], size=(64, 96), max_layers=4, jitter=True) \
        .sample(np.random.default_rng(5))
    assert np.array_equal(plain["flow"], jittered["flow"])
    assert not np.allclose(plain["f0"], jittered["f0"])
    for frame in (jittered["f0"], jittered["f1"]):
        assert frame.dtype == np.float32 and frame.min() >= 0 and frame.max() <= 1


def test_two_supervised_only_steps_with_the_recipe_flags(tmp_path):
    _photos(tmp_path)
    run = tmp_path / "run"
    args = list(SMALL)
    args[args.index("--content-warmup") + 1] = "0"  # flow from the first step
    result = _run_train("--synthetic", str(tmp_path), "--out", str(run), "--steps", "2", "--ckpt-every", "2",
                        "--synthetic-max-shift", "40", "--synthetic-shift-power", "2", "--synthetic-layers", "4",
                        "--synthetic-jitter", "--supervised-weight", "1", "--supervised-level-weight", "1",
                        "--clip", "0", *[a for item in SUPERVISED_ONLY for a in ("--loss", item)], *args)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        assert {"synthetic_epe", "level_epe", "level_epe_l3", "level_epe_l6", "flow"} <= set(r)
        assert "content" not in r and "photo" not in r and "vicreg_inv" not in r
        assert np.isfinite(r["total"]) and abs(r["total"] - r["synthetic_epe"] - r["level_epe"]) < 1e-4


def test_capped_epe_truncates_each_pixel_and_gives_no_gradient_past_the_cap():
    flow = torch.tensor([[[[3.0, 20.0, 1.0]], [[4.0, 0.0, 0.0]]]], requires_grad=True)
    target = torch.zeros(1, 2, 1, 3)
    capped = end_point_error(flow, target, cap=8.0)
    assert abs(capped.item() - 14 / 3) < 1e-6
    capped.backward()
    assert flow.grad[0, :, 0, 1].abs().max().item() == 0
    assert abs(flow.grad[0, 0, 0, 0].item() - 0.6 / 3) < 1e-6
    assert abs(end_point_error(flow, target).item() - 26 / 3) < 1e-5


def test_epe_skips_unknown_target_pixels_as_the_swift_trainer_does():
    # The values of SupervisedFlowLossTests.testEndPointErrorSkipsUnknownTargetPixels: known pixels 0 (error 5)
    # and 2 (error 1), pixel 1 unknown (NaN).
    flow = torch.tensor([[[[3.0, 0.0, 1.0]], [[4.0, 5.0, 0.0]]]], requires_grad=True)
    target = torch.tensor([[[[0.0, float("nan"), 0.0]], [[0.0, 0.0, 0.0]]]])
    epe = end_point_error(flow, target)
    assert abs(epe.item() - 3.0) < 1e-6
    epe.backward()
    expected = torch.tensor([[[[0.3, 0.0, 0.5]], [[0.4, 0.0, 0.0]]]])
    assert torch.allclose(flow.grad, expected, atol=1e-6)
    none = end_point_error(flow, torch.full_like(target, float("nan")))
    assert none.item() == 0
