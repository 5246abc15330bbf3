"""BatchedSyntheticPairs (synthetic pairs made batch-wise with torch, for GPU training) and the trainer's
--workers / --synthetic-on-device paths."""
import json
import os

import numpy as np
import torch

from mcjepa.data import BatchedSyntheticPairs, MixedSampler, SyntheticPairs, blur_along_motion
from mcjepa.ops import backward_warp

from test_train import _photos as write_photos, _run_train


def _photos(folder, count=3, size=(240, 320)):
    """test_train's blurred-noise photos; returns the --synthetic folder list."""
    write_photos(folder, count, size=size)
    return [str(folder)]


def _in_bounds(flow):
    n, _, h, w = flow.shape
    x = torch.arange(w).view(1, 1, w) + flow[:, 0]
    y = torch.arange(h).view(1, h, 1) + flow[:, 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def test_shapes_ranges_and_device(tmp_path):
    source = BatchedSyntheticPairs(_photos(tmp_path), crop=(64, 128), max_shift=12, jitter=True, seed=1)
    batch = source.batch(3)
    assert batch["f0"].shape == (3, 3, 64, 128) and batch["f1"].shape == (3, 3, 64, 128)
    assert batch["flow"].shape == (3, 2, 64, 128)
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in batch.values())
    assert 0 <= float(batch["f0"].min()) and float(batch["f0"].max()) <= 1
    assert float(batch["flow"].abs().max()) > 0


def test_flow_is_exact_where_visible(tmp_path):
    """Frame 1 sampled along the flow gives frame 0 back, except where a layer occludes: the median residual is
    at the interpolation level, far below that of zero flow."""
    source = BatchedSyntheticPairs(_photos(tmp_path), crop=(128, 192), max_shift=12, max_layers=2, seed=2)
    batch = source.batch(8)
    residual = (backward_warp(batch["f1"], batch["flow"]) - batch["f0"]).abs().mean(1)
    still = (batch["f1"] - batch["f0"]).abs().mean(1)
    valid = _in_bounds(batch["flow"])
    assert float(residual[valid].median()) < 0.004
    assert float(still[valid].median()) > 5 * float(residual[valid].median())


def test_same_flow_with_and_without_jitter(tmp_path):
    paths = _photos(tmp_path)
    plain = BatchedSyntheticPairs(paths, crop=(64, 128), max_shift=12, seed=3).batch(4)
    jittered = BatchedSyntheticPairs(paths, crop=(64, 128), max_shift=12, jitter=True, seed=3).batch(4)
    assert torch.equal(plain["flow"], jittered["flow"])
    assert not torch.equal(plain["f0"], jittered["f0"])


def test_blur_along_motion_streaks_a_point_over_its_path():
    """The Swift test's case: a white dot at (10, 4), everything moving 8 px right, a full-interval exposure: each
    pixel samples 9 points 1 px apart centred on itself, so the 9 pixels within 4 px of the dot see it once."""
    frame = torch.zeros(1, 3, 9, 32)
    frame[:, :, 4, 10] = 1
    motion = torch.zeros(1, 2, 9, 32)
    motion[:, 0] = 8
    streak = blur_along_motion(frame, motion, torch.tensor([1.0]))
    expected = torch.zeros(9, 32)
    expected[4, 6:15] = 1 / 9
    assert torch.allclose(streak[0, 1], expected, atol=1e-6)
    assert torch.equal(blur_along_motion(frame, motion, torch.tensor([0.0])), frame)


def test_same_flow_with_and_without_motion_blur(tmp_path):
    paths = _photos(tmp_path)
    sharp = BatchedSyntheticPairs(paths, crop=(64, 128), max_shift=12, seed=4).batch(4)
    blurred = BatchedSyntheticPairs(paths, crop=(64, 128), max_shift=12, motion_blur=1, seed=4).batch(4)
    assert torch.equal(sharp["flow"], blurred["flow"])
    for key in ("f0", "f1"):
        assert not torch.equal(sharp[key], blurred[key])
        assert 0 <= float(blurred[key].min()) and float(blurred[key].max()) <= 1
    source, plain = (SyntheticPairs(paths, size=(64, 96), max_shift=12, motion_blur=b) for b in (1.0, 0.0))
    one, other = source.sample(np.random.default_rng(5)), plain.sample(np.random.default_rng(5))
    assert np.array_equal(one["flow"], other["flow"])
    assert not np.array_equal(one["f1"], other["f1"]) and one["f1"].shape == (64, 96, 3)


def test_motion_statistics_match_the_numpy_source(tmp_path):
    """Same recipe as SyntheticPairs + random_crop_pair: mean |flow| agrees within sampling noise."""
    paths = _photos(tmp_path)
    batched = BatchedSyntheticPairs(paths, crop=(128, 192), max_shift=12, seed=4)
    numpy_source = MixedSampler([SyntheticPairs(paths, size=(192, 256), max_shift=12)], crop=(128, 192), seed=4)
    mean_batched = np.mean([float(batched.batch(16)["flow"].abs().mean()) for _ in range(4)])
    mean_numpy = np.mean([float(numpy_source.flow_batch(16)["flow"].abs().mean()) for _ in range(4)])
    assert abs(mean_batched - mean_numpy) < 0.15 * mean_numpy, (mean_batched, mean_numpy)


WORKER_RUN = ["--batch", "1", "--content-batch", "2", "--crop", "64x128", "--content-size", "64", "--content-warmup", "1",
              "--log-every", "1", "--preset", "test", "--supervised-weight", "1"]


def test_workers_with_on_device_pairs_and_content(tmp_path):
    """Worker processes make the content batches, the on-device source the flow batches (this once hung: the
    workers were forked after the source had started OpenCV's and torch's thread pools; it takes photos large
    enough for those to be used)."""
    paths = _photos(tmp_path, count=4, size=(960, 1280))
    run = tmp_path / "run"
    # Two OpenMP threads whatever the caller's OMP_NUM_THREADS: the hang needs a thread pool.
    result = _run_train("--synthetic", *paths, "--out", str(run), "--steps", "4", "--workers", "2",
                        "--synthetic-on-device", *WORKER_RUN, env=dict(os.environ, OMP_NUM_THREADS="2"), timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert "synthetic_epe" not in records[0] and "synthetic_epe" in records[1] and "vicreg_var" in records[0]


def test_workers_with_numpy_pairs(tmp_path):
    paths = _photos(tmp_path)
    run = tmp_path / "run"
    result = _run_train("--synthetic", *paths, "--out", str(run), "--steps", "3", "--workers", "2", *WORKER_RUN)
    assert result.returncode == 0, result.stderr
    assert "batches from 2 worker processes" in result.stdout
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3] and all(np.isfinite(r["total"]) for r in records)
    # The workers' samplers are not checkpointed (this process keeps none); a resumed run picks up at step 3.
    state = torch.load(run / "step-0000003.state.pt", weights_only=False)
    assert state["step"] == 3 and state["sampler"] is None
    result = _run_train("--synthetic", *paths, "--out", str(run), "--steps", "5", "--workers", "2", "--resume",
                        *WORKER_RUN)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]


def test_on_device_pairs_need_synthetic_only(tmp_path):
    result = _run_train("--synthetic", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                        "--synthetic-on-device")
    assert result.returncode == 2 and "--synthetic-on-device" in result.stderr


def test_blob_pairs_are_exact_and_not_ellipses(tmp_path):
    """Blob cut-outs with wider rotations keep the flow exact in both sources, and their outlines are not
    ellipses: some pair of points on a blob has its midpoint more than a pixel off it (bays, limbs, holes), which
    no ellipse has (a rasterised one is convex to within a pixel)."""
    import cv2
    paths = _photos(tmp_path)
    batched = BatchedSyntheticPairs(paths, crop=(128, 192), max_shift=12, max_layers=4, shape="blob",
                                    max_rotation=10, max_zoom=0.1, seed=5)
    batch = batched.batch(8)
    residual = (backward_warp(batch["f1"], batch["flow"]) - batch["f0"]).abs().mean(1)
    assert float(residual[_in_bounds(batch["flow"])].median()) < 0.004
    numpy_source = MixedSampler([SyntheticPairs(paths, size=(192, 256), max_shift=12, max_layers=4, shape="blob",
                                                max_rotation=10, max_zoom=0.1)], crop=(128, 192), seed=5)
    pairs = numpy_source.flow_batch(8)
    f0, f1, flow = pairs["f0"], pairs["f1"], pairs["flow"]
    residual = (backward_warp(f1, flow) - f0).abs().mean(1)
    assert float(residual[_in_bounds(flow)].median()) < 0.004

    def has_bay(shape, seed):
        source = SyntheticPairs(paths, size=(96, 128), shape=shape)
        rng = np.random.default_rng(seed)
        theta = float(rng.uniform(0, 180))
        if shape == "ellipse":
            mask = cv2.ellipse(np.zeros((160, 192), np.float32), (96, 80), (30, 20), theta, 0, 360, 1.0, -1)
        else:
            mask = source._blob_mask((160, 192), (96, 80), (30, 20), theta, rng)
        ys, xs = np.nonzero(mask[::3, ::3])
        ys, xs = ys * 3, xs * 3
        mid_y = (ys[:, None] + ys[None, :]) // 2
        mid_x = (xs[:, None] + xs[None, :]) // 2
        near = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        return bool((near[mid_y, mid_x] == 0).any())

    assert sum(has_bay("blob", seed) for seed in range(8)) >= 6
    assert not any(has_bay("ellipse", seed) for seed in range(8))
