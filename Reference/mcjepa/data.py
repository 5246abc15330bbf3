"""Training data: frame pairs from videos, WebDataset shards or synthetic layered motion, plus augmentations.

Every source yields frames as float32 numpy arrays [H,W,3] RGB in [0,1]. Sources are infinite samplers driven by
a numpy Generator, so a run is reproducible from its seed.
"""
from __future__ import annotations

import glob
import io
import json
import math
import os
import tarfile
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".mpg", ".mpeg", ".webm", ".m4v")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def _to_rgb01(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    if bgr.shape[2] == 4:
        bgr = bgr[:, :, :3]
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def open_video(path: str) -> cv2.VideoCapture:
    """A capture that decodes in the calling thread: FFmpeg's default of one thread per core costs a data worker
    (one of many, each with a core) more CPU per seek, 70 against 41 ms with 16 threads, for the same frames."""
    return cv2.VideoCapture(path, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])


def find_files(paths: List[str], extensions) -> List[str]:
    found = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                found += [os.path.join(root, n) for n in names if n.lower().endswith(extensions)]
        elif p.lower().endswith(extensions):
            found.append(p)
    return sorted(found)


class VideoPairs:
    """Consecutive (or up to `max_stride` apart) frames from random positions of random videos, via cv2.

    `max_side` shrinks frames whose longer side is larger to that side (aspect kept, sizes rounded, area
    interpolation) and `max_frames` uses only the first frames of each video, as the Swift `VideoPairSource` (which
    keeps them in memory, by default 640 and 300); None (the default): full size, every frame.
    """

    def __init__(self, paths: List[str], max_stride: int = 2, max_side: Optional[int] = None,
                 max_frames: Optional[int] = None):
        self.videos = []
        self.max_side = max_side
        for path in find_files(paths, VIDEO_EXTENSIONS):
            cap = open_video(path)
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            if max_frames is not None:
                count = min(count, max_frames)
            if count > max_stride + 1:
                self.videos.append((path, count))
        if not self.videos:
            raise ValueError(f"no readable videos in {paths}")
        self.max_stride = max_stride

    def _frame(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            size = (max(1, int(math.floor(w * scale + 0.5))), max(1, int(math.floor(h * scale + 0.5))))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        return _to_rgb01(bgr)

    def sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        return self._pair(rng, both=True)

    def first_frame(self, rng: np.random.Generator) -> np.ndarray:
        """`sample(rng)["f0"]` (the same read, the same draws) without converting the second frame."""
        return self._pair(rng, both=False)["f0"]

    def _pair(self, rng: np.random.Generator, both: bool) -> Dict[str, np.ndarray]:
        for _ in range(10):  # a bad seek or a short read: try another position
            path, count = self.videos[rng.integers(len(self.videos))]
            stride = int(rng.integers(1, self.max_stride + 1))
            start = int(rng.integers(0, count - stride))
            cap = open_video(path)
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            frames = []
            for i in range(stride + 1):
                ok, frame = cap.read()
                if not ok:
                    break
                if i in (0, stride):
                    frames.append(frame)
            cap.release()
            if len(frames) == 2:
                return {"f0": self._frame(frames[0]), "f1": self._frame(frames[1])} if both \
                    else {"f0": self._frame(frames[0])}
        raise RuntimeError(f"could not read a frame pair from {path}")

    def frames_apart(self, gap: int, rng: np.random.Generator):
        """Two frames of a random video, a distance uniform in 1...gap apart (at most the video's length allows), at a
        uniform position, in either order: a temporal content positive (the Swift `VideoPairSource.framesApart`)."""
        for _ in range(10):  # a bad seek or a short read: try another position
            path, count = self.videos[rng.integers(len(self.videos))]
            distance = 1 + int(rng.integers(min(gap, count - 1)))
            start = int(rng.integers(0, count - distance))
            cap = open_video(path)
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            ok, first = cap.read()
            # The frames between are decoded but not converted (grab): up to `gap` of them per item.
            for _ in range(distance - 1):
                ok = ok and cap.grab()
            ok2, second = cap.read() if ok else (False, None)
            cap.release()
            if ok and ok2:
                pair = (self._frame(first), self._frame(second))
                return pair if rng.random() < 0.5 else pair[::-1]
        raise RuntimeError(f"could not read two frames {gap} or fewer apart from {path}")


def _decode(png: bytes) -> np.ndarray:
    return _to_rgb01(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED))


class ShardPairs:
    """WebDataset tar shards with samples `<key>.f0.png`, `<key>.f1.png`, `<key>.json` (keys have no dots).

    Samples are read into memory once (shards for CPU-sized training are small); for large corpora use many
    shards and let each DDP rank take every world_size-th shard.
    """

    def __init__(self, paths: List[str], rank: int = 0, world_size: int = 1):
        shards = sorted(p for p in find_files(paths, (".tar",)))
        if not shards:
            raise ValueError(f"no .tar shards in {paths}")
        mine = shards[rank::world_size] or shards
        self.samples = []
        for shard in mine:
            grouped: Dict[str, Dict[str, bytes]] = {}
            with tarfile.open(shard) as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    name = os.path.basename(member.name)
                    key, _, field = name.partition(".")
                    grouped.setdefault(key, {})[field] = tar.extractfile(member).read()
            for key, fields in grouped.items():
                if "f0.png" in fields and "f1.png" in fields:
                    self.samples.append(fields)
        if not self.samples:
            raise ValueError(f"no <key>.f0.png/<key>.f1.png samples in {mine}")

    def sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        fields = self.samples[rng.integers(len(self.samples))]
        return {"f0": _decode(fields["f0.png"]), "f1": _decode(fields["f1.png"])}

    def first_frame(self, rng: np.random.Generator) -> np.ndarray:
        """`sample(rng)["f0"]` without decoding the second frame."""
        return _decode(self.samples[rng.integers(len(self.samples))]["f0.png"])

    def frames_apart(self, gap: int, rng: np.random.Generator):
        """A shard holds pairs, not clips: a temporal positive is a stored pair's two frames, whatever the gap (as
        the Swift `ShardPairSource.framesApart`)."""
        sample = self.sample(rng)
        return sample["f0"], sample["f1"]


SYNTHETIC_SHAPES = ("ellipse", "blob")


def draw_blobs(n: int, uniform, below) -> Dict[str, torch.Tensor]:
    """The irregular part of `n` blob cut-outs (the Swift `CutoutOutline`), in the body's own frame where its mean
    radius is 1: harmonics 2-5 of the radius (the k-th at most 0.4 / (k - 1)), 0-5 thin limbs (direction, length
    1.2-2.6, half-width 0.04-0.14) and, with odds 0.35, a hole (centre within +-0.3, radius 0.15-0.35).
    `uniform(n, low, high)` and `below(n, k)` draw float64 tensors and integer tensors in [0, k)."""
    k = torch.arange(2, 6, dtype=torch.float64)
    amplitude = torch.stack([uniform(n, 0, 0.4) for _ in range(4)], 1) / (k - 1)
    phase = torch.stack([uniform(n, 0, 2 * math.pi) for _ in range(4)], 1)
    limbs = below(n, 6)
    angle = torch.stack([uniform(n, 0, 2 * math.pi) for _ in range(5)], 1)
    length = torch.stack([uniform(n, 1.2, 2.6) for _ in range(5)], 1)
    half_width = torch.stack([uniform(n, 0.04, 0.14) for _ in range(5)], 1)
    has_hole = uniform(n, 0, 1) < 0.35
    hole = torch.stack([uniform(n, -0.3, 0.3), uniform(n, -0.3, 0.3), uniform(n, 0.15, 0.35)], 1)
    return {"amplitude": amplitude, "phase": phase, "limbs": limbs, "limb_angle": angle, "limb_length": length,
            "limb_half_width": half_width, "has_hole": has_hole, "hole": hole}


def blob_inside(u: torch.Tensor, v: torch.Tensor, blobs: Dict[str, torch.Tensor], max_limbs: int = 5,
                any_hole: bool = True) -> torch.Tensor:
    """Whether body-frame points (u, v) [n,...] lie on each item's blob (`draw_blobs`): inside the body's radius
    1 + sum_k a_k cos(k phi + p_k) (at least 0.2) and outside its hole, or on one of its limbs. A caller that knows
    that no item has more than `max_limbs` limbs, or (`any_hole` false) that none has a hole, skips those tests,
    which could only add false terms."""
    expand = (slice(None),) + (None,) * (u.dim() - 1)
    phi = torch.atan2(v, u)
    outline = torch.ones_like(u)
    for i in range(4):
        outline = outline + blobs["amplitude"][:, i][expand] * torch.cos((i + 2) * phi + blobs["phase"][:, i][expand])
    radius = torch.sqrt(u * u + v * v)
    inside = radius <= outline.clamp(min=0.2)
    if any_hole:
        hx, hy, hr = (blobs["hole"][:, j][expand] for j in range(3))
        in_hole = ((u - hx) ** 2 + (v - hy) ** 2 <= hr ** 2) & blobs["has_hole"][expand]
        inside = inside & ~in_hole
    for i in range(min(max_limbs, 5)):
        c, s = torch.cos(blobs["limb_angle"][:, i])[expand], torch.sin(blobs["limb_angle"][:, i])[expand]
        along, across = u * c + v * s, -u * s + v * c
        on_limb = (along >= 0) & (along <= blobs["limb_length"][:, i][expand]) \
            & (across.abs() <= blobs["limb_half_width"][:, i][expand]) & (i < blobs["limbs"])[expand]
        inside = inside | on_limb
    return inside


def blob_reach(blobs: Dict[str, torch.Tensor]) -> float:
    """The largest body radius sqrt(u^2 + v^2) of a point of one blob (`draw_blobs`, n = 1): the body's outline
    reaches at most 1 + sum a_k (and at least 0.2 counts), a limb's far corner sqrt(length^2 + half_width^2)."""
    reach = max(0.2, 1 + float(blobs["amplitude"][0].abs().sum()))
    for i in range(int(blobs["limbs"][0])):
        reach = max(reach, math.hypot(float(blobs["limb_length"][0, i]), float(blobs["limb_half_width"][0, i])))
    return reach


class SyntheticPairs:
    """Still photos moved as 2 to `max_layers` layers (background + elliptical foreground cut-outs), each by its own
    random affine motion; the flow of frame 0 to frame 1 is exact: p -> A1 A0^-1 p for the top layer covering p.

    Extensions (the defaults reproduce the plain recipe exactly): `shift_power` p > 1 skews translations towards
    small ones (max_shift * sign * |u|^p, u uniform in [-1, 1)), as in real video with its long tail of large
    motions; up to `max_layers` layers; a texture margin of max(64, ceil(2 max_shift)) so that large moves do not
    sample past the photo's edge; optional photometric `jitter` so that supervised training does not assume exact
    brightness constancy; optional `motion_blur` F: each frame averaged along its own motion over an exposure drawn
    in [0, F] (`blur_along_motion`); `shape="blob"`: irregular cut-outs with limbs and holes (`draw_blobs`) at half to
    full an ellipse's size; `max_rotation` (degrees) and `max_zoom` (log scale) of each layer's motion. Same
    semantics as the Swift `SyntheticPairSource` (different random streams).
    """

    def __init__(self, paths: List[str], size=(320, 448), max_shift: float = 12.0, shift_power: float = 1.0,
                 max_layers: int = 3, jitter: bool = False, motion_blur: float = 0.0, shape: str = "ellipse",
                 max_rotation: float = 5.0, max_zoom: float = 0.05):
        self.images = find_files(paths, IMAGE_EXTENSIONS)
        if not self.images:
            raise ValueError(f"no images in {paths}")
        if max_layers < 2:
            raise ValueError("synthetic pairs need a background and at least one layer (max_layers >= 2)")
        if not 0 <= motion_blur <= 1:
            raise ValueError("motion blur is an exposure fraction in [0, 1]")
        if shape not in SYNTHETIC_SHAPES:
            raise ValueError(f"synthetic shape {shape!r}: expected one of {', '.join(SYNTHETIC_SHAPES)}")
        self.motion_blur = motion_blur
        self.shape, self.max_rotation, self.max_zoom = shape, max_rotation, max_zoom
        self.height, self.width = size
        self.max_shift = max_shift
        self.shift_power = shift_power
        self.max_layers = max_layers
        self.jitter = jitter
        self.margin = max(64, math.ceil(2 * max_shift))
        self._cache: Dict[str, np.ndarray] = {}
        self._grid = None  # the pixel coordinates (ys, xs), float64

    def _image(self, path: str) -> np.ndarray:
        if path not in self._cache:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"{path}: cannot decode image")
            # Photos are cached at most twice the pair size: resizing full-size photos per sample dominated the
            # step time.
            limit = 2 * max(self.height, self.width) + 128
            scale = limit / max(img.shape[:2])
            if scale < 1:
                img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                                 interpolation=cv2.INTER_AREA)
            self._cache[path] = _to_rgb01(img)
        return self._cache[path]

    def _translation(self, rng) -> np.ndarray:
        """(tx, ty): uniform in +-max_shift, or with shift_power p != 1, max_shift * sign(u) * |u|^p."""
        if self.shift_power == 1:
            return rng.uniform(-self.max_shift, self.max_shift, size=2)  # the plain recipe's draw, unchanged
        u = rng.uniform(-1, 1, size=2)
        return self.max_shift * np.where(u < 0, -1.0, 1.0) * np.abs(u) ** self.shift_power

    def _motion(self, rng, cx, cy) -> np.ndarray:
        """A small similarity transform about (cx, cy) plus a translation, as a 3x3 matrix."""
        angle = np.deg2rad(rng.uniform(-self.max_rotation, self.max_rotation))
        scale = np.exp(rng.uniform(-self.max_zoom, self.max_zoom))
        tx, ty = self._translation(rng)
        c, s = scale * np.cos(angle), scale * np.sin(angle)
        return np.array([[c, -s, cx - c * cx + s * cy + tx], [s, c, cy - s * cx - c * cy + ty], [0, 0, 1]])

    @staticmethod
    def _blob_mask(shape, center, axes, theta_degrees, rng) -> np.ndarray:
        """A blob cut-out (`draw_blobs`) over the texture: the ellipse's centre and angle, its axes times 0.5-1.

        Only the window that can hold the blob is tested: every point of a blob lies within body radius
        `blob_reach` of its centre, an ellipse of half-axes reach x (sx, sy) in pixels, so the mask is zero outside
        that ellipse's bounding box (widened by 2 px against rounding). Each pixel's test is the same arithmetic as
        over the whole texture, so the mask is the whole-texture one (tests/test_fast_batches.py)."""
        size = rng.uniform(0.5, 1)
        blobs = draw_blobs(1, lambda n, lo, hi: torch.from_numpy(rng.uniform(lo, hi, size=n)),
                           lambda n, k: torch.from_numpy(rng.integers(0, k, size=n)))
        theta = math.radians(theta_degrees)
        sx, sy = max(1.0, size * axes[0]), max(1.0, size * axes[1])
        reach = blob_reach(blobs)
        half_x = reach * math.hypot(sx * math.cos(theta), sy * math.sin(theta)) + 2
        half_y = reach * math.hypot(sx * math.sin(theta), sy * math.cos(theta)) + 2
        x0, x1 = max(0, math.floor(center[0] - half_x)), min(shape[1], math.ceil(center[0] + half_x) + 1)
        y0, y1 = max(0, math.floor(center[1] - half_y)), min(shape[0], math.ceil(center[1] + half_y) + 1)
        mask = np.zeros(shape, np.float32)
        if x0 >= x1 or y0 >= y1:
            return mask
        ys, xs = torch.meshgrid(torch.arange(y0, y1, dtype=torch.float64), torch.arange(x0, x1, dtype=torch.float64),
                                indexing="ij")
        dx, dy = xs - center[0], ys - center[1]
        u = (dx * math.cos(theta) + dy * math.sin(theta)) / sx
        v = (-dx * math.sin(theta) + dy * math.cos(theta)) / sy
        mask[y0:y1, x0:x1] = blob_inside(u[None], v[None], blobs, max_limbs=int(blobs["limbs"][0]),
                                         any_hole=bool(blobs["has_hole"][0]))[0].numpy()
        return mask

    def sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        return self._render(rng, both=True)

    def first_frame(self, rng: np.random.Generator) -> np.ndarray:
        """`sample(rng)["f0"]`, the same to the bit and leaving `rng` in the same state, without rendering frame 1
        (a content item uses one frame)."""
        return self._render(rng, both=False)["f0"]

    def _render(self, rng: np.random.Generator, both: bool) -> Dict[str, np.ndarray]:
        h, w = self.height, self.width
        margin, half = self.margin, self.margin // 2
        frames = [np.zeros((h, w, 3), np.float32), np.zeros((h, w, 3), np.float32)]
        flow = np.zeros((h, w, 2), np.float32)
        arrival = np.zeros((h, w, 2), np.float32)  # frame 1's own motion, for its blur
        if self._grid is None:
            self._grid = np.mgrid[0:h, 0:w].astype(np.float64)
        ys, xs = self._grid
        for layer in range(int(rng.integers(2, self.max_layers + 1))):
            tex = self._image(self.images[rng.integers(len(self.images))])
            tex = cv2.resize(tex, (w + margin, h + margin), interpolation=cv2.INTER_AREA)
            # Frame-0 placement: the texture shifted so that a random part of it shows.
            a0 = np.array([[1, 0, -rng.uniform(0, margin)], [0, 1, -rng.uniform(0, margin)], [0, 0, 1]])
            a1 = self._motion(rng, w / 2, h / 2) @ a0
            if layer == 0:
                mask = np.ones((h + margin, w + margin), np.float32)
            else:
                mask = np.zeros((h + margin, w + margin), np.float32)
                center = (int(rng.uniform(half, w + half)), int(rng.uniform(half, h + half)))
                axes = (int(rng.uniform(w * 0.1, w * 0.3)), int(rng.uniform(h * 0.1, h * 0.3)))
                theta = float(rng.uniform(0, 180))
                if self.shape == "ellipse":
                    cv2.ellipse(mask, center, axes, theta, 0, 360, 1.0, -1)
                else:
                    mask = self._blob_mask(mask.shape, center, axes, theta, rng)
            # A layer covers a pixel or not (the warped 0/1 mask is exactly 0 or 1), so the layer is copied where it
            # covers, which is m * new + (1 - m) * old to the bit; its motion is computed only there.
            for t, a in enumerate((a0, a1) if both else (a0,)):
                img = cv2.warpAffine(tex, a[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                covers = cv2.warpAffine(mask, a[:2], (w, h), flags=cv2.INTER_NEAREST) != 0
                np.copyto(frames[t], img, where=covers[..., None])
                px, py = xs[covers], ys[covers]
                if t == 0:
                    moved = a1 @ np.linalg.inv(a0)
                    fx = moved[0, 0] * px + moved[0, 1] * py + moved[0, 2] - px
                    fy = moved[1, 0] * px + moved[1, 1] * py + moved[1, 2] - py
                    flow[covers] = np.stack([fx, fy], axis=1).astype(np.float32)
                else:
                    came_from = a0 @ np.linalg.inv(a1)
                    ax = px - (came_from[0, 0] * px + came_from[0, 1] * py + came_from[0, 2])
                    ay = py - (came_from[1, 0] * px + came_from[1, 1] * py + came_from[1, 2])
                    arrival[covers] = np.stack([ax, ay], axis=1).astype(np.float32)
        if self.motion_blur > 0:
            # Drawn after the geometry, so a seed gives the same flow with or without blur.
            exposure = torch.tensor([rng.uniform(0, self.motion_blur)], dtype=torch.float32)
            frames = [blur_one_along_motion(frames[0], flow, exposure),
                      blur_one_along_motion(frames[1], arrival, exposure) if both else None]
        if self.jitter:
            # Drawn after the geometry, so a seed gives the same flow with or without jitter.
            frames = photometric_jitter(frames, rng)
        return {"f0": frames[0], "f1": frames[1], "flow": flow} if both else {"f0": frames[0]}


class BatchedSyntheticPairs:
    """`SyntheticPairs` made a whole batch at a time with torch ops, on any device, already cropped and flipped.

    On a GPU the numpy source (about 40 ms a pair on one core) starves the tiny model; this one runs on the GPU
    itself (written for that, but not yet timed there; on 2 CPU cores it takes about 100 ms a pair). Same recipe
    and distributions as SyntheticPairs + `random_crop_pair`: each photo is resized once to the layer texture
    size; frame t shows texture point q at a_t q (a0 a random placement, a1 = motion a0), so frame t at pixel p
    samples the texture at a_t^-1 p (bilinear with a reflected border, like the numpy source's cv2.warpAffine)
    and the flow at p is a1 a0^-1 p - p; foreground layers are ellipses tested analytically at a_t^-1 p (cv2
    rasterises them with INTER_NEAREST warping); jitter follows `photometric_jitter`. Because every quantity is a
    function of the pixel position, the random crop is drawn first and only the crop is computed. Random streams
    differ from the numpy source (a torch Generator on `device`). One deliberate difference: where frame 1 looks
    past the background photo's edge, the numpy source leaves black pixels (its layer mask is warped with a zero
    border); here the photo continues reflected, as inside the frame.
    """

    def __init__(self, paths: List[str], crop=(256, 320), max_shift: float = 12.0, shift_power: float = 1.0,
                 max_layers: int = 3, jitter: bool = False, motion_blur: float = 0.0, shape: str = "ellipse",
                 max_rotation: float = 5.0, max_zoom: float = 0.05, device="cpu", seed: int = 0):
        self.crop = crop
        h, w = crop
        # The numpy source's geometry: pairs of (crop + 64) cropped at random, textures (pair + margin).
        self.source = SyntheticPairs(paths, size=(h + 64, w + 64), max_shift=max_shift, shift_power=shift_power,
                                     max_layers=max_layers, jitter=jitter, motion_blur=motion_blur, shape=shape,
                                     max_rotation=max_rotation, max_zoom=max_zoom)
        sh, sw, m = self.source.height, self.source.width, self.source.margin
        textures = [cv2.resize(self.source._image(p), (sw + m, sh + m), interpolation=cv2.INTER_AREA)
                    for p in self.source.images]
        self.source._cache.clear()
        self.device = torch.device(device)
        self.textures = torch.from_numpy(np.stack(textures)).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def _uniform(self, n: int, low, high) -> torch.Tensor:
        u = torch.rand(n, generator=self.generator, device=self.device, dtype=torch.float64)
        return low + (high - low) * u

    def _translation(self, n: int) -> torch.Tensor:
        src = self.source
        if src.shift_power == 1:
            return self._uniform(2 * n, -src.max_shift, src.max_shift).view(n, 2)
        u = self._uniform(2 * n, -1.0, 1.0).view(n, 2)
        return src.max_shift * torch.sign(u) * u.abs() ** src.shift_power

    def _placements(self, n: int):
        """a0 (random placement) and a1 = motion about the pair centre @ a0, as [n,3,3] float64."""
        src = self.source
        sh, sw, m = src.height, src.width, src.margin
        a0 = torch.eye(3, dtype=torch.float64, device=self.device).repeat(n, 1, 1)
        a0[:, 0, 2] = -self._uniform(n, 0, m)
        a0[:, 1, 2] = -self._uniform(n, 0, m)
        angle = torch.deg2rad(self._uniform(n, -src.max_rotation, src.max_rotation))
        scale = torch.exp(self._uniform(n, -src.max_zoom, src.max_zoom))
        t = self._translation(n)
        c, s = scale * torch.cos(angle), scale * torch.sin(angle)
        cx, cy = sw / 2, sh / 2
        motion = torch.eye(3, dtype=torch.float64, device=self.device).repeat(n, 1, 1)
        motion[:, 0, 0], motion[:, 0, 1], motion[:, 0, 2] = c, -s, cx - c * cx + s * cy + t[:, 0]
        motion[:, 1, 0], motion[:, 1, 1], motion[:, 1, 2] = s, c, cy - s * cx - c * cy + t[:, 1]
        return a0, motion @ a0

    def _ellipses(self, n: int):
        """Centre, half-axes and angle of each foreground cut-out, in texture pixels (as SyntheticPairs)."""
        src = self.source
        sh, sw, half = src.height, src.width, src.margin // 2
        centre = torch.stack([self._uniform(n, half, sw + half).floor(), self._uniform(n, half, sh + half).floor()], 1)
        axes = torch.stack([self._uniform(n, sw * 0.1, sw * 0.3).floor(), self._uniform(n, sh * 0.1, sh * 0.3).floor()], 1)
        return centre, axes.clamp(min=1), torch.deg2rad(self._uniform(n, 0, 180))

    def batch(self, n: int) -> Dict[str, torch.Tensor]:
        """{"f0", "f1": [n,3,H,W] RGB in [0,1], "flow": [n,2,H,W] frame 0 -> 1}, on `device`."""
        src, (h, w) = self.source, self.crop
        dev, f32 = self.device, torch.float32
        # The random crop of the (H+64, W+64) pair: pixel p of the crop is pair pixel p + offset.
        offset = torch.stack([self._uniform(n, 0, 65).floor(), self._uniform(n, 0, 65).floor()], 1)
        ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float64),
                                torch.arange(w, device=dev, dtype=torch.float64), indexing="ij")
        px = xs[None] + offset[:, 0, None, None]
        py = ys[None] + offset[:, 1, None, None]
        th, tw = self.textures.shape[2:]
        frames = [torch.zeros(n, 3, h, w, device=dev, dtype=f32) for _ in range(2)]
        flow = torch.zeros(n, 2, h, w, device=dev, dtype=f32)
        arrival = torch.zeros(n, 2, h, w, device=dev, dtype=f32)  # frame 1's own motion, for its blur
        layers = torch.randint(2, src.max_layers + 1, (n,), generator=self.generator, device=dev)
        for layer in range(src.max_layers):
            index = torch.randint(len(self.textures), (n,), generator=self.generator, device=dev)
            a0, a1 = self._placements(n)
            centre, axes, angle = self._ellipses(n)
            if src.shape == "blob":
                axes = (axes * self._uniform(n, 0.5, 1)[:, None]).clamp(min=1)
                blobs = {k: v.to(self.device) for k, v in draw_blobs(
                    n, lambda m, lo, hi: self._uniform(m, lo, hi).cpu(),
                    lambda m, k: torch.randint(k, (m,), generator=self.generator, device=self.device).cpu()).items()}
            active = (layer < layers).to(f32)[:, None, None, None]
            for t, a in enumerate((a0, a1)):
                inv = torch.linalg.inv(a)
                qx = inv[:, 0, 0, None, None] * px + inv[:, 0, 1, None, None] * py + inv[:, 0, 2, None, None]
                qy = inv[:, 1, 0, None, None] * px + inv[:, 1, 1, None, None] * py + inv[:, 1, 2, None, None]
                grid = torch.stack([2 * qx / (tw - 1) - 1, 2 * qy / (th - 1) - 1], 3).to(f32)
                img = torch.nn.functional.grid_sample(self.textures[index], grid, mode="bilinear",
                                                      padding_mode="reflection", align_corners=True)
                if layer == 0:
                    mask = torch.ones(n, 1, h, w, device=dev, dtype=f32)
                else:
                    dx, dy = qx - centre[:, 0, None, None], qy - centre[:, 1, None, None]
                    ca, sa = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
                    u = (dx * ca + dy * sa) / axes[:, 0, None, None]
                    v = (-dx * sa + dy * ca) / axes[:, 1, None, None]
                    inside = u ** 2 + v ** 2 <= 1 if src.shape == "ellipse" else blob_inside(u, v, blobs)
                    within = (qx >= 0) & (qx <= tw - 1) & (qy >= 0) & (qy <= th - 1)
                    mask = (inside & within).to(f32)[:, None]
                mask = mask * active
                frames[t] = mask * img + (1 - mask) * frames[t]
                if t == 0:
                    moved = a1 @ inv  # inv is a0^-1 here
                    fx = moved[:, 0, 0, None, None] * px + moved[:, 0, 1, None, None] * py + moved[:, 0, 2, None, None] - px
                    fy = moved[:, 1, 0, None, None] * px + moved[:, 1, 1, None, None] * py + moved[:, 1, 2, None, None] - py
                    flow = mask * torch.stack([fx, fy], 1).to(f32) + (1 - mask) * flow
                elif src.motion_blur > 0:
                    came_from = a0 @ inv  # inv is a1^-1 here
                    ax = px - (came_from[:, 0, 0, None, None] * px + came_from[:, 0, 1, None, None] * py + came_from[:, 0, 2, None, None])
                    ay = py - (came_from[:, 1, 0, None, None] * px + came_from[:, 1, 1, None, None] * py + came_from[:, 1, 2, None, None])
                    arrival = mask * torch.stack([ax, ay], 1).to(f32) + (1 - mask) * arrival
        flip = torch.rand(n, generator=self.generator, device=dev) < 0.5
        if src.motion_blur > 0:  # drawn after the geometry, so a seed gives the same flow with or without blur
            exposure = self._uniform(n, 0, src.motion_blur).to(f32)
            frames = [blur_along_motion(frames[0], flow, exposure), blur_along_motion(frames[1], arrival, exposure)]
        if src.jitter:  # drawn after the geometry, so a seed gives the same flow with or without jitter
            frames = self._jitter(frames)
        if flip.any():
            frames = [torch.where(flip[:, None, None, None], f.flip(3), f) for f in frames]
            flipped = flow.flip(3) * torch.tensor([-1.0, 1.0], device=dev).view(1, 2, 1, 1)
            flow = torch.where(flip[:, None, None, None], flipped, flow)
        return {"f0": frames[0].contiguous(), "f1": frames[1].contiguous(), "flow": flow.contiguous()}

    def _jitter(self, frames: List[torch.Tensor]) -> List[torch.Tensor]:
        """`photometric_jitter` per sample: colour shared by both frames, then per-frame brightness and noise."""
        n, dev = frames[0].shape[0], self.device

        def draw(low, high):
            return self._uniform(n, low, high).to(torch.float32).view(n, 1, 1, 1)

        contrast, brightness, saturation = draw(0.7, 1.3), draw(-0.08, 0.08), draw(0.6, 1.4)
        gray_weights = torch.tensor(GRAY, device=dev).view(1, 3, 1, 1)
        out = []
        for frame in frames:
            shift, amplitude = brightness + draw(-0.02, 0.02), draw(0, 0.02)
            gray = (frame * gray_weights).sum(1, keepdim=True)
            value = gray + saturation * (frame - gray)
            noise = 2 * torch.rand(frame.shape, generator=self.generator, device=dev) - 1
            value = (value - 0.5) * contrast + 0.5 + shift + amplitude * noise
            out.append(value.clamp(0, 1))
        return out


GRAY = np.array([0.299, 0.587, 0.114], np.float32)

MAX_BLUR_SAMPLES = 16


def blur_along_motion(frames: torch.Tensor, motion: torch.Tensor, exposure: torch.Tensor) -> torch.Tensor:
    """Motion blur as a shutter makes it (Swift `SyntheticPairSource.blurAlongMotion`): [n,3,H,W] frames, each pixel
    p averaged over samples of the sharp frame at p + s m(p), m = exposure x the pixel's [n,2,H,W] motion, s evenly
    spaced in [-1/2, 1/2], one sample per pixel of streak length plus one (at most 16), bilinear, clamped to the
    frame. A pixel with a streak under 1 px keeps its value. `exposure`: [n], fractions of the frame interval.
    """
    n, _, h, w = frames.shape
    m = motion * exposure.view(n, 1, 1, 1).to(motion.dtype)
    samples = torch.clamp(torch.ceil(m.norm(dim=1, keepdim=True)) + 1, max=MAX_BLUR_SAMPLES)
    ys, xs = torch.meshgrid(torch.arange(h, device=frames.device, dtype=frames.dtype),
                            torch.arange(w, device=frames.device, dtype=frames.dtype), indexing="ij")
    total = torch.zeros_like(frames)
    for k in range(MAX_BLUR_SAMPLES):
        s = k / torch.clamp(samples - 1, min=1) - 0.5
        sx = (xs + s[:, 0] * m[:, 0]).clamp(0, w - 1)
        sy = (ys + s[:, 0] * m[:, 1]).clamp(0, h - 1)
        grid = torch.stack([2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1], 3)
        tap = torch.nn.functional.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=True)
        total = total + torch.where(k < samples, tap, torch.zeros_like(tap))
    return torch.where(samples > 1, total / samples, frames)


def blur_one_along_motion(frame: np.ndarray, motion: np.ndarray, exposure: torch.Tensor) -> np.ndarray:
    """`blur_along_motion` of one [H,W,3] frame by its [H,W,2] motion (numpy in and out), with the same result to the
    bit (tests/test_fast_batches.py) for less work: only the pixels whose streak is 1 px or longer are sampled, and
    each only at its own taps. They are sorted by tap count, longest first, so that tap k's pixels are a prefix; each
    pixel sees the same arithmetic in the same order as in the whole-frame loop (whose extra terms add exact zeros).
    """
    h, w = frame.shape[:2]
    frames = torch.from_numpy(frame).permute(2, 0, 1)[None]
    m = torch.from_numpy(motion).permute(2, 0, 1)[None] * exposure.view(1, 1, 1, 1).to(torch.float32)
    samples = torch.clamp(torch.ceil(m.norm(dim=1, keepdim=True)) + 1, max=MAX_BLUR_SAMPLES).reshape(-1)
    out = np.array(frame, dtype=np.float32, copy=True)
    taps = samples.numpy().astype(np.uint8)  # whole numbers 1...16
    # Longest streaks first (a stable radix sort of small integers), then the pixels with one tap dropped.
    index = np.argsort(MAX_BLUR_SAMPLES - taps.reshape(-1), kind="stable")
    longest = np.bincount(taps, minlength=MAX_BLUR_SAMPLES + 1)[::-1].cumsum()[::-1]  # pixels with >= t taps
    index = torch.from_numpy(index[:longest[2]])
    if len(index) == 0:
        return out
    count = samples[index]
    xs, ys = (index % w).to(torch.float32), (index // w).to(torch.float32)
    mx, my = m[0, 0].reshape(-1)[index], m[0, 1].reshape(-1)[index]
    step = torch.clamp(count - 1, min=1).reciprocal()  # as `k / tensor` computes it (Tensor.__rdiv__)
    total = torch.zeros(1, 3, 1, len(index), dtype=torch.float32)
    grid = torch.empty(1, 1, len(index), 2, dtype=torch.float32)
    s = torch.empty(len(index), dtype=torch.float32)
    for k in range(int(count[0])):
        n = int(longest[k + 1])  # the pixels with more than k taps
        # The whole-frame loop's arithmetic, in place: x = 2 clamp(x + s mx) / (w - 1) - 1 (and y).
        torch.mul(step[:n], k, out=s[:n]).sub_(0.5)
        for g, base, motion_part, size in ((grid[0, 0, :n, 0], xs, mx, w), (grid[0, 0, :n, 1], ys, my, h)):
            torch.mul(s[:n], motion_part[:n], out=g).add_(base[:n]).clamp_(0, size - 1).mul_(2).div_(max(size - 1, 1))
            g.sub_(1)
        tap = torch.nn.functional.grid_sample(frames, grid[:, :, :n], mode="bilinear", padding_mode="border",
                                              align_corners=True)
        total[..., :n] += tap
    out.reshape(-1, 3)[index.numpy()] = (total[0, :, 0] / count).T.numpy()
    return out


def photometric_jitter(frames: List[Optional[np.ndarray]], rng: np.random.Generator) -> List[Optional[np.ndarray]]:
    """Saturation x[0.6, 1.4] (around the gray value), contrast x[0.7, 1.3] (around 0.5) and brightness +-0.08
    shared by both frames, then per frame a further brightness change of +-0.02 and uniform noise of amplitude
    [0, 0.02); clamped to [0, 1]. The per-frame part breaks exact brightness constancy, as real video does.
    A frame given as None (not rendered, of the size of the first) is skipped, its draws made all the same."""
    contrast, brightness, saturation = rng.uniform(0.7, 1.3), rng.uniform(-0.08, 0.08), rng.uniform(0.6, 1.4)
    out = []
    for frame in frames:
        shift, noise = brightness + rng.uniform(-0.02, 0.02), rng.uniform(0, 0.02)
        if frame is None:
            skip_uniforms(rng, frames[0].size)
            out.append(None)
            continue
        gray = (frame @ GRAY)[..., None]
        value = gray + saturation * (frame - gray)
        value = (value - 0.5) * contrast + 0.5 + shift + noise * rng.uniform(-1, 1, size=frame.shape)
        out.append(np.clip(value, 0, 1).astype(np.float32))
    return out


def skip_uniforms(rng: np.random.Generator, count: int) -> None:
    """Leave `rng` as `rng.uniform(size=count)` would: one 64-bit output per float64. PCG64 jumps ahead; its
    buffered 32-bit half (of `integers` draws) is kept, which `advance` alone would drop. Other generators draw."""
    bits = rng.bit_generator
    state = bits.state
    if state.get("bit_generator") not in ("PCG64", "PCG64DXSM"):
        rng.random(count)
        return
    bits.advance(count)
    moved = bits.state
    moved["has_uint32"], moved["uinteger"] = state["has_uint32"], state["uinteger"]
    bits.state = moved


def random_crop_pair(sample: Dict[str, np.ndarray], height: int, width: int, rng: np.random.Generator,
                     flip: bool = True) -> Dict[str, np.ndarray]:
    """The same random crop of both frames (upscaling first if a frame is too small), and a random horizontal
    flip of both (ground-truth flow, when present, has its u negated)."""
    h, w = sample["f0"].shape[:2]
    if h < height or w < width:
        scale = max(height / h, width / w)
        size = (int(np.ceil(w * scale)), int(np.ceil(h * scale)))
        out = {k: cv2.resize(sample[k], size, interpolation=cv2.INTER_LINEAR) for k in ("f0", "f1")}
        if "flow" in sample:
            out["flow"] = cv2.resize(sample["flow"], size, interpolation=cv2.INTER_LINEAR) * scale
        sample, (h, w) = out, out["f0"].shape[:2]
    y, x = int(rng.integers(0, h - height + 1)), int(rng.integers(0, w - width + 1))
    out = {k: v[y:y + height, x:x + width] for k, v in sample.items()}
    if flip and rng.random() < 0.5:
        out = {k: v[:, ::-1] for k, v in out.items()}
        if "flow" in out:
            out["flow"] = out["flow"] * np.array([-1, 1], np.float32)
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


GLOBAL_VIEW_AREA = (0.2, 1.0)
# Multi-crop's local views (DINO's local crops, the Swift `MixedSampler.localViewArea`): smaller than the global
# views, so that a local view must be matched to the whole item, not to a near copy of itself.
LOCAL_VIEW_AREA = (0.05, 0.4)


def content_view(image: np.ndarray, size: int, rng: np.random.Generator, return_box: bool = False,
                 area=GLOBAL_VIEW_AREA):
    """VICReg-style view: random resized crop (`area` of the image, default 0.2-1; aspect 3/4-4/3), flip, colour
    jitter, grayscale. With `return_box`, also where the view lies in the image: (x, y, w, h, flipped), the crop's
    box in the image's pixels and whether the view was mirrored after resizing (the dense content loss's geometry)."""
    h, w = image.shape[:2]
    for _ in range(10):
        area_px = h * w * rng.uniform(*area)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = int(round(np.sqrt(area_px * aspect))), int(round(np.sqrt(area_px / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            break
    else:
        cw, ch = min(h, w), min(h, w)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    view = cv2.resize(image[y:y + ch, x:x + cw], (size, size), interpolation=cv2.INTER_LINEAR)
    flipped = rng.random() < 0.5
    if flipped:
        view = view[:, ::-1]
    if rng.random() < 0.8:
        view = view * rng.uniform(0.6, 1.4)                                   # brightness
        mean = view.mean()
        view = (view - mean) * rng.uniform(0.6, 1.4) + mean                   # contrast
        gray = view @ np.array([0.299, 0.587, 0.114], np.float32)
        view = (view - gray[..., None]) * rng.uniform(0.6, 1.4) + gray[..., None]  # saturation
    if rng.random() < 0.2:
        gray = view @ np.array([0.299, 0.587, 0.114], np.float32)
        view = np.repeat(gray[..., None], 3, axis=2)
    view = np.ascontiguousarray(np.clip(view, 0, 1), dtype=np.float32)
    return (view, np.array([x, y, cw, ch, float(flipped)], np.float32)) if return_box else view


def to_tensor(images: List[np.ndarray]) -> torch.Tensor:
    """List of [H,W,3] arrays -> [N,3,H,W] float tensor."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


class MixedSampler:
    """Picks a source per sample (uniformly) and builds flow batches and content batches; a flow batch has
    "flow" when any of its pairs has exact flow, and "flow_mask" ([N] bool) when only some have.

    Content options (the Swift `MixedSampler`'s; at their defaults nothing is drawn for them and the batches are
    those of runs made before they existed): `temporal` P, the share of content items whose two global views come
    from two frames of one clip (temporal positives): `gap` G, frames 1...G apart (`frames_apart`: a video's frames
    at a uniform distance, in either order; a shard's stored pair; a still photo twice), or without a gap a flow
    pair's two frames; `local_views` M local views per item of `local_size` px (multi-crop, `LOCAL_VIEW_AREA` of the
    frame; for a temporal positive alternately of its two frames), drawn after the global views so that these are
    the same with and without local views.
    """

    def __init__(self, sources: List, crop=(256, 320), content_size: int = 128, seed: int = 0,
                 temporal: float = 0.0, gap: Optional[int] = None, local_views: int = 0, local_size: int = 64):
        if not sources:
            raise ValueError("no data sources")
        if not 0 <= temporal <= 1:
            raise ValueError("temporal positives must be a share in 0...1")
        if gap is not None and gap < 1:
            raise ValueError("temporal gap must be at least 1 frame")
        if local_views < 0 or local_size <= 0:
            raise ValueError(f"local views: {local_views} of {local_size} px")
        self.sources = sources
        self.crop = crop
        self.content_size = content_size
        self.temporal, self.gap = temporal, gap
        self.local_views, self.local_size = local_views, local_size
        self.rng = np.random.default_rng(seed)

    def _sample(self) -> Dict[str, np.ndarray]:
        return self.sources[self.rng.integers(len(self.sources))].sample(self.rng)

    def flow_batch(self, batch: int) -> Dict[str, torch.Tensor]:
        samples = [random_crop_pair(self._sample(), *self.crop, self.rng) for _ in range(batch)]
        out = {"f0": to_tensor([s["f0"] for s in samples]), "f1": to_tensor([s["f1"] for s in samples])}
        # A mixed batch (video and synthetic pairs) keeps the synthetic pairs' exact flow (zeros for the others,
        # flagged in "flow_mask"), so that supervision reaches them in every step, as the Swift `MixedSampler`.
        has_flow = [("flow" in s) for s in samples]
        if any(has_flow):
            zeros = np.zeros(tuple(self.crop) + (2,), np.float32)
            out["flow"] = to_tensor([s.get("flow", zeros) for s in samples])
            if not all(has_flow):
                out["flow_mask"] = torch.tensor(has_flow)
        return out

    def _content_frames(self):
        """One content item's two frames and whether they are one frame (not a temporal positive)."""
        source = self.sources[self.rng.integers(len(self.sources))]
        # No draw at all without temporal positives, so that the stream is the one of runs made before.
        if self.temporal > 0 and self.rng.random() < self.temporal:
            if self.gap is None:
                pair = source.sample(self.rng)
                return pair["f0"], pair["f1"], False
            if hasattr(source, "frames_apart"):
                first, second = source.frames_apart(self.gap, self.rng)
                return first, second, False
            frame = self._first_frame(source)  # still photos: one frame twice (still not same_frame, as Swift)
            return frame, frame, False
        frame = self._first_frame(source)
        return frame, frame, True

    def _first_frame(self, source) -> np.ndarray:
        """A sample's first frame, the same as `source.sample(rng)["f0"]` but without making the second where the
        source can (`first_frame`): a synthetic pair's second frame is most of its cost."""
        first = getattr(source, "first_frame", None)
        return first(self.rng) if first is not None else source.sample(self.rng)["f0"]

    def content_batch(self, batch: int) -> Dict[str, torch.Tensor]:
        """Two global views "a", "b" [B,3,S,S] of each of `batch` items, with their boxes ("boxes_a", "boxes_b":
        [B, 5]) and "same_frame" ([B] bools: both views of one frame, so the boxes relate their pixels; false for
        temporal positives); with local views also "local" [M*B,3,s,s], view-major (rows m*B..(m+1)*B are local
        view m of the B items)."""
        items = [self._content_frames() for _ in range(batch)]
        a = [content_view(f0, self.content_size, self.rng, return_box=True) for f0, _, _ in items]
        b = [content_view(f1, self.content_size, self.rng, return_box=True) for _, f1, _ in items]
        out = {"a": to_tensor([v for v, _ in a]), "b": to_tensor([v for v, _ in b]),
               "boxes_a": torch.from_numpy(np.stack([box for _, box in a])),
               "boxes_b": torch.from_numpy(np.stack([box for _, box in b])),
               "same_frame": torch.tensor([same for _, _, same in items], dtype=torch.bool)}
        if self.local_views > 0:
            out["local"] = to_tensor([content_view(item[m % 2], self.local_size, self.rng, area=LOCAL_VIEW_AREA)
                                      for m in range(self.local_views) for item in items])
        return out

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
