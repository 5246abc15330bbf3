"""The data workers' shortcuts make the same batches, to the bit, as the plain code they replace (kept here verbatim
as the reference): the synthetic source's windowed blob masks, per-pixel motion blur, covered-pixel compositing
and first-frame-only rendering for content items, and the random stream they leave behind."""
import math

import cv2
import numpy as np
import torch

from mcjepa.data import (MixedSampler, SyntheticPairs, VideoPairs, blob_inside, blur_along_motion,
                         blur_one_along_motion, draw_blobs, photometric_jitter, skip_uniforms)

from test_batched_synthetic import _photos


def _same(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _plain_blob_mask(shape, center, axes, theta_degrees, rng):
    """The blob mask tested over the whole texture (the code before windowing)."""
    size = rng.uniform(0.5, 1)
    blobs = draw_blobs(1, lambda n, lo, hi: torch.from_numpy(rng.uniform(lo, hi, size=n)),
                       lambda n, k: torch.from_numpy(rng.integers(0, k, size=n)))
    ys, xs = torch.meshgrid(torch.arange(shape[0], dtype=torch.float64), torch.arange(shape[1], dtype=torch.float64),
                            indexing="ij")
    dx, dy = xs - center[0], ys - center[1]
    theta = math.radians(theta_degrees)
    u = (dx * math.cos(theta) + dy * math.sin(theta)) / max(1.0, size * axes[0])
    v = (-dx * math.sin(theta) + dy * math.cos(theta)) / max(1.0, size * axes[1])
    return blob_inside(u[None], v[None], blobs)[0].numpy().astype(np.float32)


def _plain_sample(source: SyntheticPairs, rng, blob_mask=_plain_blob_mask):
    """SyntheticPairs.sample as it was: every layer blended over both whole frames, whole-frame blur."""
    h, w = source.height, source.width
    margin, half = source.margin, source.margin // 2
    frames = [np.zeros((h, w, 3), np.float32), np.zeros((h, w, 3), np.float32)]
    flow = np.zeros((h, w, 2), np.float32)
    arrival = np.zeros((h, w, 2), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for layer in range(int(rng.integers(2, source.max_layers + 1))):
        tex = source._image(source.images[rng.integers(len(source.images))])
        tex = cv2.resize(tex, (w + margin, h + margin), interpolation=cv2.INTER_AREA)
        a0 = np.array([[1, 0, -rng.uniform(0, margin)], [0, 1, -rng.uniform(0, margin)], [0, 0, 1]])
        a1 = source._motion(rng, w / 2, h / 2) @ a0
        if layer == 0:
            mask = np.ones((h + margin, w + margin), np.float32)
        else:
            mask = np.zeros((h + margin, w + margin), np.float32)
            center = (int(rng.uniform(half, w + half)), int(rng.uniform(half, h + half)))
            axes = (int(rng.uniform(w * 0.1, w * 0.3)), int(rng.uniform(h * 0.1, h * 0.3)))
            theta = float(rng.uniform(0, 180))
            if source.shape == "ellipse":
                cv2.ellipse(mask, center, axes, theta, 0, 360, 1.0, -1)
            else:
                mask = blob_mask(mask.shape, center, axes, theta, rng)
        for t, a in enumerate((a0, a1)):
            img = cv2.warpAffine(tex, a[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            m = cv2.warpAffine(mask, a[:2], (w, h), flags=cv2.INTER_NEAREST)[..., None]
            frames[t] = m * img + (1 - m) * frames[t]
            if t == 0:
                moved = a1 @ np.linalg.inv(a0)
                fx = moved[0, 0] * xs + moved[0, 1] * ys + moved[0, 2] - xs
                fy = moved[1, 0] * xs + moved[1, 1] * ys + moved[1, 2] - ys
                flow = m * np.stack([fx, fy], axis=2).astype(np.float32) + (1 - m) * flow
            else:
                came_from = a0 @ np.linalg.inv(a1)
                ax = xs - (came_from[0, 0] * xs + came_from[0, 1] * ys + came_from[0, 2])
                ay = ys - (came_from[1, 0] * xs + came_from[1, 1] * ys + came_from[1, 2])
                arrival = m * np.stack([ax, ay], axis=2).astype(np.float32) + (1 - m) * arrival
    if source.motion_blur > 0:
        exposure = torch.tensor([rng.uniform(0, source.motion_blur)], dtype=torch.float32)
        frames = [blur_along_motion(torch.from_numpy(f).permute(2, 0, 1)[None],
                                    torch.from_numpy(v).permute(2, 0, 1)[None], exposure)[0].permute(1, 2, 0).numpy()
                  for f, v in ((frames[0], flow), (frames[1], arrival))]
    if source.jitter:
        frames = photometric_jitter(frames, rng)
    return {"f0": frames[0], "f1": frames[1], "flow": flow}


def test_windowed_blob_mask_is_the_whole_texture_one():
    draw = np.random.default_rng(0)
    for _ in range(40):
        shape = (int(draw.integers(80, 200)), int(draw.integers(80, 200)))
        # Centres anywhere in the texture (windows cut by its edges) and axes up to its size.
        center = (int(draw.integers(0, shape[1])), int(draw.integers(0, shape[0])))
        axes = (int(draw.integers(1, shape[1] // 2)), int(draw.integers(1, shape[0] // 2)))
        theta, seed = float(draw.uniform(0, 180)), int(draw.integers(1 << 30))
        plain = _plain_blob_mask(shape, center, axes, theta, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        fast = SyntheticPairs._blob_mask(shape, center, axes, theta, rng)
        assert _same(fast, plain)
        check = np.random.default_rng(seed)  # both consume the same draws: the next one agrees
        _plain_blob_mask(shape, center, axes, theta, check)
        assert rng.random() == check.random()


def test_blur_of_one_frame_is_the_batched_blur():
    draw = np.random.default_rng(1)
    h, w = 48, 64
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for case in range(12):
        frame = draw.random((h, w, 3), dtype=np.float32)
        motion = np.stack([draw.uniform(-30, 30) + 0.1 * (xs - w / 2), draw.uniform(-30, 30) + 0.1 * (ys - h / 2)], 2)
        motion[(xs - 30) ** 2 + (ys - 20) ** 2 < 100] = draw.uniform(-1, 1, 2)  # a part with streaks under 1 px
        motion = motion.astype(np.float32) * (0.02 if case == 0 else 1)  # case 0: no pixel blurred
        exposure = torch.tensor([draw.uniform(0, 1)], dtype=torch.float32)
        plain = blur_along_motion(torch.from_numpy(frame).permute(2, 0, 1)[None],
                                  torch.from_numpy(motion).permute(2, 0, 1)[None], exposure)[0].permute(1, 2, 0).numpy()
        fast = blur_one_along_motion(frame, motion, exposure)
        assert _same(fast, np.ascontiguousarray(plain))
        assert case == 0 or not _same(fast, frame)


def test_skipped_uniforms_leave_the_stream_as_drawn_ones():
    for skip_first_draws in (0, 1, 2):
        drawn, skipped = np.random.default_rng(3), np.random.default_rng(3)
        for rng in (drawn, skipped):
            rng.integers(5, size=skip_first_draws)  # an odd count leaves half a 64-bit output buffered
        drawn.uniform(-1, 1, size=(7, 5, 3))
        skip_uniforms(skipped, 7 * 5 * 3)
        assert drawn.bit_generator.state == skipped.bit_generator.state
        assert drawn.integers(1000, size=5).tolist() == skipped.integers(1000, size=5).tolist()
    drawn, skipped = np.random.Generator(np.random.MT19937(4)), np.random.Generator(np.random.MT19937(4))
    drawn.uniform(size=11)
    skip_uniforms(skipped, 11)
    assert drawn.random() == skipped.random()


def test_synthetic_pairs_are_the_plain_render_and_first_frames_their_first(tmp_path):
    paths = _photos(tmp_path, count=3, size=(160, 200))
    for options in (dict(shape="blob", jitter=True, motion_blur=0.8, max_shift=40, max_layers=6),
                    dict(shape="ellipse", jitter=False, motion_blur=0.0, max_shift=12, max_layers=3)):
        source = SyntheticPairs(paths, size=(64, 96), max_rotation=10, max_zoom=0.1, **options)
        for seed in range(4):
            plain_rng, fast_rng, first_rng = (np.random.default_rng(seed) for _ in range(3))
            plain, fast = _plain_sample(source, plain_rng), source.sample(fast_rng)
            first = source.first_frame(first_rng)
            for key in ("f0", "f1", "flow"):
                assert _same(fast[key], plain[key]), (options["shape"], seed, key)
            assert _same(first, plain["f0"])
            state = plain_rng.bit_generator.state
            assert fast_rng.bit_generator.state == state and first_rng.bit_generator.state == state


def test_content_batches_render_only_first_frames_and_are_unchanged(tmp_path):
    (tmp_path / "photos").mkdir()
    paths = _photos(tmp_path / "photos", count=3, size=(160, 200))
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for i in range(8):
        writer.write(np.full((64, 96, 3), 30 * i, np.uint8))
    writer.release()

    class Plain:
        """A source without `first_frame`: the sampler renders whole pairs, as before."""

        def __init__(self, source):
            self.source = source

        def sample(self, rng):
            return self.source.sample(rng)

    def sampler(wrap):
        sources = [VideoPairs([path], max_stride=2),
                   SyntheticPairs(paths, size=(64, 128), shape="blob", jitter=True, motion_blur=0.5, max_shift=30)]
        return MixedSampler([wrap(s) for s in sources], crop=(64, 64), content_size=64, seed=9, temporal=0.5,
                            local_views=2, local_size=32)

    fast, plain = sampler(lambda s: s), sampler(Plain)
    for _ in range(2):
        a, b = fast.content_batch(6), plain.content_batch(6)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        a, b = fast.flow_batch(3), plain.flow_batch(3)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert fast.state() == plain.state()
