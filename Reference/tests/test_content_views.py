"""The content sampler's temporal positives and multi-crop local views, the multi-view VICReg loss and the video
source's size and length limits (the Swift `MixedSampler.contentBatch`, `vicregMultiViewTerms` and `VideoPairSource`
semantics): at their defaults nothing changes."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mcjepa.data import MixedSampler, SyntheticPairs, VideoPairs, content_view, to_tensor
from mcjepa.losses import (LossConfig, content_losses, covariance_loss, variance_loss, vicreg_multiview_terms,
                           vicreg_terms)
from mcjepa.model import build_model
from mcjepa.train import parse_args

REFERENCE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def _photos(folder, count=2, size=(80, 112)):
    rng = np.random.default_rng(0)
    for i in range(count):
        img = cv2.GaussianBlur((rng.random((*size, 3)) * 255).astype(np.uint8), (5, 5), 1)
        cv2.imwrite(os.path.join(folder, f"photo{i}.png"), img)


def _clip(path, frames=30):
    """A video whose frame i is uniform grey 8 i: a frame's index is its mean level / 8."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 8 * i, np.uint8))
    writer.release()


def _index(frame):
    return int(round(float(frame.mean()) * 255 / 8))


class _Pairs:
    """A source whose pairs are a black frame then a white one, and whose `frames_apart` (when `clips`) gives the
    same, recording the gaps it is asked for; `sample` counts its calls."""

    def __init__(self, clips=True):
        self.gaps, self.samples = [], 0
        if clips:
            self.frames_apart = self._frames_apart

    def sample(self, rng):
        self.samples += 1
        return {"f0": np.zeros((64, 80, 3), np.float32), "f1": np.ones((64, 80, 3), np.float32)}

    def _frames_apart(self, gap, rng):
        self.gaps.append(gap)
        return np.zeros((64, 80, 3), np.float32), np.ones((64, 80, 3), np.float32)


def _old_content_batch(sampler, batch):
    """The content batch as made before temporal positives and local views existed (kept here verbatim)."""
    frames = [sampler._sample()["f0"] for _ in range(batch)]
    a = [content_view(f, sampler.content_size, sampler.rng, return_box=True) for f in frames]
    b = [content_view(f, sampler.content_size, sampler.rng, return_box=True) for f in frames]
    return {"a": to_tensor([v for v, _ in a]), "b": to_tensor([v for v, _ in b]),
            "boxes_a": torch.from_numpy(np.stack([box for _, box in a])),
            "boxes_b": torch.from_numpy(np.stack([box for _, box in b])),
            "same_frame": torch.ones(batch, dtype=torch.bool)}


def test_defaults_give_the_batches_of_before(tmp_path):
    _photos(tmp_path)
    source = SyntheticPairs([str(tmp_path)], size=(64, 96), max_shift=4)
    new, old = (MixedSampler([source], crop=(64, 64), content_size=64, seed=5) for _ in range(2))
    for _ in range(2):
        made, expected = new.content_batch(3), _old_content_batch(old, 3)
        assert made.keys() == expected.keys()
        for key in made:
            assert torch.equal(made[key], expected[key]), key
    # The generator stands at the same place: the next flow batch is the same too.
    assert torch.equal(new.flow_batch(1)["f0"], old.flow_batch(1)["f0"])


def test_local_views_leave_the_global_views_and_come_view_major():
    plain = MixedSampler([_Pairs()], content_size=128, seed=3, temporal=0.5, gap=4)
    multi = MixedSampler([_Pairs()], content_size=128, seed=3, temporal=0.5, gap=4, local_views=3, local_size=64)
    a, b = plain.content_batch(6), multi.content_batch(6)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert "local" not in a and b["local"].shape == (18, 3, 64, 64)
    # Rows m*B..(m+1)*B are local view m: of a temporal positive, even views crop its first (black) frame and odd
    # ones its second (white); of a one-frame item, the frame (black here: `sample`'s f0).
    local = b["local"].view(3, 6, 3, 64, 64)
    for n, same in enumerate(b["same_frame"].tolist()):
        assert local[0, n].max() == 0 and local[2, n].max() == 0
        assert (local[1, n].min() > 0) == (not same)


def test_temporal_positives_take_their_views_from_two_frames():
    source = _Pairs()
    sampler = MixedSampler([source], content_size=64, seed=1, temporal=0.5, gap=7)
    batch = sampler.content_batch(40)
    temporal = (~batch["same_frame"]).sum().item()
    assert 8 < temporal < 32 and source.gaps == [7] * temporal and source.samples == 40 - temporal
    # View a of a temporal item comes from the black frame, view b from the white one; a one-frame item's both
    # from `sample`'s first (black) frame.
    for n, same in enumerate(batch["same_frame"].tolist()):
        assert batch["a"][n].max() == 0 and (batch["b"][n].min() > 0) == (not same)
    # Without a gap, a flow pair's two frames; a source without clips gives one frame twice (still not same_frame).
    pairs = MixedSampler([_Pairs()], content_size=64, seed=1, temporal=1.0).content_batch(4)
    assert not pairs["same_frame"].any() and all(pairs["b"][n].min() > 0 for n in range(4))
    still = MixedSampler([_Pairs(clips=False)], content_size=64, seed=1, temporal=1.0, gap=3).content_batch(4)
    assert not still["same_frame"].any() and all(still["b"][n].max() == 0 for n in range(4))


def test_video_frames_apart_are_one_to_gap_frames_apart_in_either_order(tmp_path):
    _clip(tmp_path / "clip.avi")
    source, rng = VideoPairs([str(tmp_path)]), np.random.default_rng(0)
    distances = []
    for _ in range(40):
        first, second = source.frames_apart(5, rng)
        distances.append(_index(second) - _index(first))
    assert all(1 <= abs(d) <= 5 for d in distances)
    assert {abs(d) for d in distances} == {1, 2, 3, 4, 5} and min(distances) < 0 < max(distances)


def test_videos_at_most_max_side_and_their_first_max_frames(tmp_path):
    _clip(tmp_path / "clip.avi")
    source, rng = VideoPairs([str(tmp_path)], max_side=32, max_frames=5), np.random.default_rng(1)
    seen = set()
    for _ in range(30):
        first, second = source.frames_apart(30, rng)
        assert first.shape == second.shape == (24, 32, 3)
        seen |= {_index(first), _index(second)}
    assert seen == {0, 1, 2, 3, 4}
    pair = source.sample(rng)
    assert pair["f0"].shape == (24, 32, 3) and max(_index(pair["f0"]), _index(pair["f1"])) < 5
    assert VideoPairs([str(tmp_path)]).sample(rng)["f0"].shape == (48, 64, 3)  # default: full size


def test_multiview_vicreg_against_a_hand_computation():
    g = torch.Generator().manual_seed(0)
    views = [0.5 * torch.randn(6, 4, generator=g, dtype=torch.float64) for _ in range(4)]  # 2 global, 2 local

    def var(x):  # mean over features of relu(1 - sqrt(unbiased variance + 1e-4))
        x = x.numpy()
        return np.mean(np.maximum(0, 1 - np.sqrt(x.var(axis=0, ddof=1) + 1e-4)))

    def cov(x):  # squared off-diagonal covariance entries / D
        c = np.cov(x.numpy(), rowvar=False)
        return (np.sum(c ** 2) - np.sum(np.diag(c) ** 2)) / x.shape[1]

    def mse(x, y):
        return np.mean((x.numpy() - y.numpy()) ** 2)

    z = views
    local_pairs = [mse(z[2], z[0]), mse(z[2], z[1]), mse(z[3], z[0]), mse(z[3], z[1])]
    terms = vicreg_multiview_terms(z[0], z[1], z[2:])
    assert terms["vicreg_inv"].item() == pytest.approx((mse(z[0], z[1]) + sum(local_pairs)) / 5, rel=1e-12)
    assert terms["vicreg_inv_local"].item() == pytest.approx(sum(local_pairs) / 4, rel=1e-12)
    assert terms["vicreg_var"].item() == pytest.approx(sum(var(v) for v in z) / 4, rel=1e-12)
    assert terms["vicreg_cov"].item() == pytest.approx(2 * sum(cov(v) for v in z) / 4, rel=1e-12)
    assert terms["vicreg_var"].item() > 0
    # Without local views, the two-view terms bit for bit.
    two, plain = vicreg_multiview_terms(z[0], z[1], []), vicreg_terms(z[0], z[1])
    assert two.keys() == plain.keys() and all(torch.equal(two[k], plain[k]) for k in plain)


def test_content_loss_with_local_views_reaches_them_and_without_is_the_old_loss():
    torch.manual_seed(0)
    model = build_model("test")
    a, b, local = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64), torch.rand(6, 3, 64, 64)
    old, old_terms = content_losses(model, a, b, LossConfig())
    empty, empty_terms = content_losses(model, a, b, LossConfig(), local=local[:0])
    assert torch.equal(old, empty) and "vicreg_inv_local" not in empty_terms
    local.requires_grad_(True)
    total, terms = content_losses(model, a, b, LossConfig(), local=local)
    assert torch.isfinite(total) and "vicreg_inv_local" in terms and not torch.equal(total, old)
    total.backward()
    assert local.grad.abs().sum(dim=(1, 2, 3)).min() > 0  # every local view of every item is in the loss
    with pytest.raises(ValueError, match="local views"):
        content_losses(model, a, b, LossConfig(), local=local[:4].detach())


@pytest.mark.parametrize("flags, message", [
    (["--content-temporal", "1.5"], "--content-temporal must be in 0.0...1.0"),
    (["--content-gap", "3"], "--content-gap needs --content-temporal above 0"),
    (["--content-temporal", "0.5", "--content-gap", "0"], "--content-gap must be in 1...100000"),
    (["--content-local-views", "65"], "--content-local-views must be in 0...64"),
    (["--content-local-size", "64"], "--content-local-size needs --content-local-views above 0"),
    (["--content-local-views", "2", "--content-local-size", "96"], "expected a positive multiple of 64"),
    (["--content-local-views", "2", "--content-local-size", "128"], "expected smaller than --content-size 128"),
    (["--max-side", "4"], "--max-side must be in 8...8192"),
    (["--max-frames", "0"], "--max-frames must be in 1...100000"),
])
def test_content_options_are_checked(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_code:
        parse_args(["--synthetic", "x", "--out", "y", *flags])
    assert exit_code.value.code == 2 and message in capsys.readouterr().err


def test_training_with_temporal_positives_and_local_views_logs_the_local_term(tmp_path):
    _photos(tmp_path)
    _clip(tmp_path / "clip.avi", frames=12)
    run = subprocess.run(
        [sys.executable, "-m", "mcjepa.train", "--data", str(tmp_path), "--synthetic", str(tmp_path),
         "--out", str(tmp_path / "run"), "--preset", "test", "--steps", "2", "--batch", "1", "--crop", "64x64",
         "--content-batch", "3", "--content-size", "128", "--content-warmup", "1", "--log-every", "1",
         "--threads", "1", "--content-temporal", "0.5", "--content-gap", "4", "--content-local-views", "2",
         "--content-dense", "1", "--content-dense-nn", "2"],
        cwd=REFERENCE, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    assert len(records) == 2 and all("vicreg_inv_local" in r and "dense_inv_nn" in r for r in records)
    assert "photo" in records[1]


def test_batch_benchmark_times_a_training_commands_batches(tmp_path):
    _photos(tmp_path)
    run = subprocess.run([sys.executable, "-m", "mcjepa.bench_batches", "--repeats", "1", "--", "--synthetic",
                          str(tmp_path), "--crop", "64x64", "--content-size", "128", "--content-batch", "2",
                          "--batch", "1", "--content-local-views", "2"],
                         cwd=REFERENCE, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "content batch 2:" in run.stdout and "steps/s per worker" in run.stdout
