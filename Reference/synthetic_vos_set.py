#!/usr/bin/env python3
"""A held-out synthetic video-object-segmentation set in DAVIS layout, for choosing propagation options without
looking at DAVIS: `mcjepa-video eval vos OUT` reads it as it reads DAVIS.

Usage: python3 Reference/synthetic_vos_set.py ../shared/data/videos ../shared/data/textures OUT \
           [--sequences 12] [--frames 40] [--size 854x480] [--seed 1]
       mcjepa-video eval vos OUT

Each sequence (OUT/JPEGImages/480p/synNN/00000.jpg..., OUT/Annotations/480p/synNN/00000.png...) is consecutive
frames of one shot of a real clip (a window that crosses no shot cut, found as the "shot cuts" section below says:
DAVIS's sequences have none), resized to cover the frame, under a slow synthetic camera pan and zoom, with 1 or 2
objects composited on top. An object is 1 to 3 overlapping smooth blobs (radial Fourier outlines whose coefficients
drift over time), "parts" that swing slightly against each other, so it deforms; it is textured with a photo or, for
camouflage, with a patch of the same clip, and moves along a smooth path (a few px to ~15 px per frame) with
rotation and scale drift, bouncing off the frame's edges so it can leave it partly. Some sequences have an
unlabelled occluder (a pole or a blob) passing in front of an object, lighting changes (shading across the object,
its gain over time, a global gain), motion blur (each frame the mean of 5 renders over the exposure); all have
sensor noise and JPEG compression.

Masks are exact: a pixel is object k when object k's visible alpha (its alpha times one minus the alpha of every
layer in front of it, averaged over the exposure) exceeds 0.5, so occluded parts are background. They are palette
PNGs with the DAVIS palette (index k = object k). OUT/scenes.json records each sequence's clip, offset, the clip's
cuts and the effects.

Everything comes from training material (videos/ and textures/), never from davis-dev or flow-dev, and the output is
a function of the seed and the inputs alone.
"""
import argparse
import json
import math
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vos_baselines import write_palette_png  # noqa: E402

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".mpg")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
MIN_CLIP_SIDE = 240          # smaller clips would be upscaled 3x or more: blurry backgrounds unlike DAVIS
SUBFRAMES = 5                # renders averaged over a motion-blurred frame's exposure
OUTLINE_POINTS = 120


# ---------------------------------------------------------------- inputs

def list_files(folder, extensions):
    found = []
    for base, _, names in os.walk(folder):
        found += [os.path.join(base, n) for n in names if n.lower().endswith(extensions)]
    return sorted(found)


def load_textures(folder):
    """The readable colour photos of a folder (grayscale ones as 3 equal channels), float32 BGR 0..255."""
    textures = []
    for path in list_files(folder, IMAGE_EXTENSIONS):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is not None and min(image.shape[:2]) >= 64:
            textures.append((os.path.relpath(path, folder), image.astype(np.float32)))
    if not textures:
        sys.exit(f"{folder}: no readable photos")
    return textures


# ---------------------------------------------------------------- shot cuts
#
# DAVIS's sequences are single shots, so a background window must not cross a cut in its clip. Frames are compared
# as 64x36 grey thumbnails (small enough that texture motion and noise barely register): d = the mean absolute
# difference of two consecutive thumbnails (grey levels), h = the half L1 distance of their 32-bin histograms (0..1,
# blind to where things are, so motion hardly changes it). Each measure is compared with its reference level, the
# median over the CUT_CONTEXT transitions on either side (repeated frames, d < 0.5, left out: some clips duplicate
# every third frame), floored at 1 grey level and 0.02. Frame i starts a new shot when
#     d >= CUT_MIN_CHANGE and d >= CUT_RATIO x its reference
#     and (h >= CUT_RATIO x its reference or d >= CUT_STRONG x its reference):
# a cut is one transition far above its neighbours, where fast motion raises a run of them and a slow change of
# light or motion none; the histogram (or a very large jump) separates a cut from one sudden gesture over a still
# background. On the training clips this finds 14 cuts, each one checked by eye (Megamind, Big Buck Bunny, cityCC0,
# bikes, Principe_inertie), and nothing in the hand-held, fast-motion or sign-language clips. A dissolve over a few
# frames or a cut between two shots of similar content and tone would pass.
THUMBNAIL = (64, 36)
CUT_CONTEXT = 6
CUT_MIN_CHANGE = 6.0
CUT_RATIO = 3.0
CUT_STRONG = 10.0


def thumbnail(frame):
    """A frame as the small grey float32 image cuts are found on."""
    return cv2.cvtColor(cv2.resize(frame, THUMBNAIL, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY) \
        .astype(np.float32)


def detect_cuts(thumbnails):
    """The indices i of the frames that start a new shot (frames i-1 and i are from different shots), from the
    consecutive thumbnails of a clip; criterion above."""
    if len(thumbnails) < 2:
        return []
    histograms = [np.histogram(t, bins=32, range=(0, 256))[0] / t.size for t in thumbnails]
    change = np.array([np.abs(b - a).mean() for a, b in zip(thumbnails, thumbnails[1:])])
    spread = np.array([0.5 * np.abs(b - a).sum() for a, b in zip(histograms, histograms[1:])])
    cuts = []
    for i in range(len(change)):
        around = [j for j in range(max(0, i - CUT_CONTEXT), min(len(change), i + CUT_CONTEXT + 1))
                  if j != i and change[j] >= 0.5]
        change_level = max(float(np.median(change[around])) if around else 0.0, 1.0)
        spread_level = max(float(np.median(spread[around])) if around else 0.0, 0.02)
        if (change[i] >= CUT_MIN_CHANGE and change[i] >= CUT_RATIO * change_level
                and (spread[i] >= CUT_RATIO * spread_level or change[i] >= CUT_STRONG * change_level)):
            cuts.append(i + 1)
    return cuts


def scan_clip(path, limit):
    """(frame count up to `limit`, the clip's cuts), decoding sequentially as read_clip does so indices agree."""
    capture = cv2.VideoCapture(path)
    thumbnails = []
    while len(thumbnails) < limit and capture.grab():
        ok, frame = capture.retrieve()
        if not ok:
            break
        thumbnails.append(thumbnail(frame))
    capture.release()
    return len(thumbnails), detect_cuts(thumbnails)


def crosses_cut(offset, frames, cuts):
    """Whether frames offset .. offset+frames-1 hold a cut (a window may start on a cut's first frame)."""
    return any(offset < cut < offset + frames for cut in cuts)


def cut_free_offsets(count, frames, cuts):
    return [o for o in range(count - frames + 1) if not crosses_cut(o, frames, cuts)]


def read_clip(path, offset, count, cover):
    """`count` consecutive frames from `offset`, decoded sequentially (seeking is unreliable on some clips), each
    resized to cover `cover` = (width, height) keeping its aspect; float32 BGR."""
    capture = cv2.VideoCapture(path)
    frames = []
    index = 0
    while len(frames) < count:
        if not capture.grab():
            break
        if index >= offset:
            ok, frame = capture.retrieve()
            if not ok:
                break
            height, width = frame.shape[:2]
            scale = max(cover[0] / width, cover[1] / height)
            size = (max(cover[0], int(math.ceil(width * scale))), max(cover[1], int(math.ceil(height * scale))))
            frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
                          .astype(np.float32))
        index += 1
    capture.release()
    return frames


# ---------------------------------------------------------------- geometry

def rotation(angle):
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def fold(value, low, high):
    """Reflects `value` into [low, high]: a path that reaches an edge bounces off it."""
    span = high - low
    m = (value - low) % (2 * span)
    return low + (m if m <= span else 2 * span - m)


def smooth_wave(rng, amplitude, frames):
    """Sum of two slow sinusoids with random phases: a smooth wobble of at most `amplitude`."""
    periods = rng.uniform(frames * 0.5, frames * 2.0, 2)
    phases = rng.uniform(0, 2 * math.pi, 2)
    weights = rng.dirichlet([1, 1])
    return lambda t: amplitude * sum(w * math.sin(2 * math.pi * t / p + f)
                                     for w, p, f in zip(weights, periods, phases))


def blob_outline(coefficients, phases, radius):
    """Points of r(theta) = radius (1 + sum_k a_k cos(k theta + phi_k)), k = 2, 3, ...: a smooth star-shaped blob."""
    theta = np.linspace(0, 2 * math.pi, OUTLINE_POINTS, endpoint=False)
    r = np.ones_like(theta)
    for k, (a, phi) in enumerate(zip(coefficients, phases), start=2):
        r += a * np.cos(k * theta + phi)
    r *= radius
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def bar_outline(width, length):
    return np.array([[-width / 2, -length / 2], [width / 2, -length / 2], [width / 2, length / 2],
                     [-width / 2, length / 2]])


def fill_alpha(points, size):
    """Anti-aliased coverage (0..1) of a polygon given in image coordinates, on its bounding box clipped to the
    frame: (alpha, x0, y0), or None when it lies outside."""
    width, height = size
    x0 = max(int(math.floor(points[:, 0].min())) - 2, 0)
    y0 = max(int(math.floor(points[:, 1].min())) - 2, 0)
    x1 = min(int(math.ceil(points[:, 0].max())) + 3, width)
    y1 = min(int(math.ceil(points[:, 1].max())) + 3, height)
    if x1 <= x0 or y1 <= y0:
        return None
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift = 4  # sub-pixel vertices: 1/16 px
    fixed = np.round((points - [x0, y0]) * (1 << shift)).astype(np.int32)  # pixel centres at integers, as warps
    cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_AA, shift)
    return canvas.astype(np.float32) / 255.0, x0, y0


# ---------------------------------------------------------------- scene description

def make_object(rng, size, frames, texture, texture_name, index):
    width, height = size
    radius = rng.uniform(45, 105)
    parts = [dict(offset=[0.0, 0.0], radius=1.0)]
    for _ in range(int(rng.integers(0, 3))):
        direction = rng.uniform(0, 2 * math.pi)
        distance = rng.uniform(0.55, 0.95)
        parts.append(dict(offset=[distance * math.cos(direction), distance * math.sin(direction)],
                          radius=float(rng.uniform(0.35, 0.7))))
    for part in parts:
        amplitudes = rng.uniform(-1, 1, 4) / np.arange(2, 6) ** 0.7
        amplitudes *= rng.uniform(0.15, 0.45) / np.abs(amplitudes).sum()
        part.update(coefficients=amplitudes.tolist(), phases=rng.uniform(0, 2 * math.pi, 4).tolist(),
                    morph=rng.uniform(0.0, 0.12, 4).tolist(), morph_period=float(rng.uniform(15, 50)),
                    swing=float(rng.uniform(0, 0.3)) if part["offset"] != [0.0, 0.0] else 0.0,
                    swing_period=float(rng.uniform(10, 40)), swing_phase=float(rng.uniform(0, 2 * math.pi)))
    speed = rng.uniform(1.5, 11.0)
    heading = rng.uniform(0, 2 * math.pi)
    texture_centre = [float(rng.uniform(0.3, 0.7) * texture.shape[1]), float(rng.uniform(0.3, 0.7) * texture.shape[0])]
    return dict(
        index=index, texture=texture_name, radius=float(radius), parts=parts,
        start=[float(rng.uniform(0.22, 0.78) * width), float(rng.uniform(0.25, 0.75) * height)],
        velocity=[float(speed * math.cos(heading)), float(speed * math.sin(heading))],
        wobble=[float(rng.uniform(0, 25)), float(rng.uniform(0, 25))],
        angle=float(rng.uniform(0, 2 * math.pi)), spin=float(rng.uniform(-0.035, 0.035)),
        scale_drift=float(rng.uniform(-0.008, 0.008)),
        shading=float(rng.uniform(0, 0.35)), shading_angle=float(rng.uniform(0, 2 * math.pi)),
        gain=float(rng.uniform(0, 0.2)), texture_centre=texture_centre,
        wave_seed=int(rng.integers(0, 2**31)), _texture=texture)


def make_scene(rng, size, frames, clips, textures):
    """One sequence's description: a clip, its offset and frames, the objects, the occluder and the effects.
    `clips` is a list of (name, frame_count, reader(offset, count, cover) -> frames, cuts) to pick from, each with a
    window of `frames` free of cuts."""
    width, height = size
    margin = 1.25  # the camera's pan and zoom stay inside a frame 25% larger than the output
    cover = (int(math.ceil(width * margin)), int(math.ceil(height * margin)))
    name, count, reader, cuts = clips[int(rng.integers(0, len(clips)))]
    # Offsets are re-drawn until the window holds no cut (so a clip without cuts takes the offset it always took);
    # after 50 draws, one of the cut-free offsets is drawn directly.
    for _ in range(50):
        offset = int(rng.integers(0, count - frames + 1))
        if not crosses_cut(offset, frames, cuts):
            break
    else:
        free = cut_free_offsets(count, frames, cuts)
        offset = free[int(rng.integers(0, len(free)))]
    background = reader(offset, frames, cover)
    scene = dict(clip=name, offset=offset, clip_cuts=list(cuts), size=[width, height], frames=frames,
                 _background=background)
    scene["camera"] = dict(pan=[float(rng.uniform(-1.2, 1.2)), float(rng.uniform(-0.6, 0.6))],
                           zoom=float(rng.uniform(-0.0015, 0.0015)), wave_seed=int(rng.integers(0, 2**31)))
    objects = []
    for index in range(1, 1 + int(rng.integers(1, 3))):
        if rng.uniform() < 0.4:
            # Camouflage: a patch of the same clip, from another frame and place.
            texture = background[int(rng.integers(0, len(background)))]
            texture_name = f"clip:{name}"
        else:
            texture_name, texture = textures[int(rng.integers(0, len(textures)))]
        obj = make_object(rng, size, frames, texture, texture_name, index)
        if texture_name.startswith("clip:"):
            # A patch of a static scene is invisible except by its motion; DAVIS's objects never are: a camouflaged
            # object keeps the clip's textures but is lit differently (a gain and a shading ramp of its own).
            obj["tone"] = float(rng.choice([-1, 1]) * rng.uniform(0.12, 0.3))
            obj["shading"] = max(obj["shading"], 0.2)
        objects.append(obj)
    scene["objects"] = objects
    scene["occluder"] = None
    if rng.uniform() < 0.5:
        target = objects[0]
        when = rng.uniform(0.3, 0.7) * frames
        texture_name, texture = textures[int(rng.integers(0, len(textures)))]
        kind = "bar" if rng.uniform() < 0.6 else "blob"
        scene["occluder"] = dict(
            kind=kind, when=float(when), texture=texture_name, _texture=texture,
            width=float(rng.uniform(25, 70)), length=float(rng.uniform(0.6, 1.3) * height),
            radius=float(rng.uniform(40, 75)), coefficients=(rng.uniform(-0.12, 0.12, 4)).tolist(),
            phases=rng.uniform(0, 2 * math.pi, 4).tolist(), angle=float(rng.uniform(-0.35, 0.35)),
            velocity=[float(rng.uniform(-3, 3)), float(rng.uniform(-1, 1))],
            target=target["index"], jitter=[float(rng.uniform(-0.4, 0.4)), float(rng.uniform(-0.4, 0.4))])
    scene["lighting"] = dict(amplitude=float(rng.uniform(0.05, 0.2)), period=float(rng.uniform(20, 80)),
                             phase=float(rng.uniform(0, 2 * math.pi)),
                             tint=rng.uniform(-0.03, 0.03, 3).tolist()) if rng.uniform() < 0.5 else None
    scene["exposure"] = float(rng.uniform(0.3, 1.0)) if rng.uniform() < 0.6 else 0.0
    scene["noise"] = float(rng.uniform(0.5, 4.0))
    scene["jpeg_quality"] = int(rng.integers(75, 96))
    scene["noise_seed"] = int(rng.integers(0, 2**31))
    return scene


# ---------------------------------------------------------------- rendering

class Motion:
    """The smooth functions of time a scene's description implies (waves drawn from its own seeds)."""

    def __init__(self, scene):
        self.scene = scene
        width, height = scene["size"]
        frames = scene["frames"]
        camera = scene["camera"]
        rng = np.random.default_rng(camera["wave_seed"])
        self.camera_wave = [smooth_wave(rng, 12.0, frames), smooth_wave(rng, 6.0, frames),
                            smooth_wave(rng, 0.015, frames)]
        self.object_waves = {}
        for obj in scene["objects"]:
            rng = np.random.default_rng(obj["wave_seed"])
            self.object_waves[obj["index"]] = [smooth_wave(rng, obj["wobble"][0], frames),
                                               smooth_wave(rng, obj["wobble"][1], frames),
                                               smooth_wave(rng, 0.08, frames)]
        self.bounds = (0.03 * width, 0.97 * width, 0.05 * height, 0.95 * height)

    def camera(self, t):
        """Similarity from output pixels to background-frame pixels: (A, b)."""
        camera = self.scene["camera"]
        width, height = self.scene["size"]
        scale = math.exp(camera["zoom"] * t + self.camera_wave[2](t))
        background = self.scene["_background"][0]
        centre = np.array([background.shape[1] / 2 + camera["pan"][0] * (t - self.scene["frames"] / 2)
                           + self.camera_wave[0](t),
                           background.shape[0] / 2 + camera["pan"][1] * (t - self.scene["frames"] / 2)
                           + self.camera_wave[1](t)])
        # The view stays inside the background: its 25% margin exceeds the largest pan (~36 px) and zoom-out (8%).
        a = np.eye(2) / scale
        b = centre - a @ np.array([width / 2, height / 2])
        return a, b

    def pose(self, obj, t):
        """Object centre (x, y), angle and scale at time t."""
        wx, wy, ws = self.object_waves[obj["index"]]
        x = fold(obj["start"][0] + obj["velocity"][0] * t + wx(t), self.bounds[0], self.bounds[1])
        y = fold(obj["start"][1] + obj["velocity"][1] * t + wy(t), self.bounds[2], self.bounds[3])
        return np.array([x, y]), obj["angle"] + obj["spin"] * t, math.exp(obj["scale_drift"] * t + ws(t))

    def parts(self, obj, t):
        """Each part's outline in image coordinates and its image-to-texture affine (A, b)."""
        centre, angle, scale = self.pose(obj, t)
        result = []
        for part in obj["parts"]:
            swing = part["swing"] * math.sin(2 * math.pi * t / part["swing_period"] + part["swing_phase"])
            part_angle = angle + swing
            offset = np.array(part["offset"]) * obj["radius"]
            part_centre = centre + scale * rotation(part_angle) @ offset
            morph = np.sin(2 * math.pi * t / part["morph_period"] + np.arange(4))
            coefficients = np.array(part["coefficients"]) + np.array(part["morph"]) * morph
            local = blob_outline(coefficients, part["phases"], part["radius"] * obj["radius"])
            points = part_centre + scale * local @ rotation(part_angle).T
            a = rotation(-part_angle) / scale
            texture_centre = np.array(obj["texture_centre"]) + offset
            b = texture_centre - a @ part_centre
            result.append((points, a, b, part_angle, scale))
        return result

    def occluder(self, t):
        occluder = self.scene["occluder"]
        target = next(o for o in self.scene["objects"] if o["index"] == occluder["target"])
        centre, _, scale = self.pose(target, occluder["when"])
        centre = centre + np.array(occluder["jitter"]) * target["radius"] * scale
        centre = centre + np.array(occluder["velocity"]) * (t - occluder["when"])
        if occluder["kind"] == "bar":
            local = bar_outline(occluder["width"], occluder["length"])
        else:
            local = blob_outline(occluder["coefficients"], occluder["phases"], occluder["radius"])
        points = centre + local @ rotation(occluder["angle"]).T
        a = rotation(-occluder["angle"])
        texture = occluder["_texture"]
        b = np.array([texture.shape[1] / 2, texture.shape[0] / 2]) - a @ centre
        return points, a, b


def warp_texture(texture, a, b, x0, y0, shape):
    """Texture sampled at image pixels (x0.., y0..) through the image-to-texture affine tex = a p + b."""
    matrix = np.concatenate([a, (b + a @ np.array([x0, y0]))[:, None]], axis=1)
    return cv2.warpAffine(texture, matrix, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT_101)


def render_instant(scene, motion, t, frame_index):
    """The frame at time t over background frame `frame_index` (float32 BGR) and each object's visible alpha
    {index: HxW}."""
    width, height = scene["size"]
    a, b = motion.camera(t)
    matrix = np.concatenate([a, b[:, None]], axis=1)
    image = cv2.warpAffine(scene["_background"][frame_index], matrix, (width, height),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101)
    visible = {}

    def composite(alpha, x0, y0, colour, index):
        h, w = alpha.shape
        region = (slice(y0, y0 + h), slice(x0, x0 + w))
        image[region] = image[region] * (1 - alpha[..., None]) + colour * alpha[..., None]
        for other in visible.values():
            other[region] *= 1 - alpha
        if index is not None:
            layer = visible.setdefault(index, np.zeros((height, width), np.float32))
            # Parts of one object: the later part covers the earlier ones like any layer (above), then adds itself.
            layer[region] += alpha

    for obj in scene["objects"]:
        gain = (1 + obj.get("tone", 0.0)) * (1 + obj["gain"] * math.sin(2 * math.pi * t / 37.0 + obj["wave_seed"] % 7))
        for points, pa, pb, part_angle, scale in motion.parts(obj, t):
            filled = fill_alpha(points, (width, height))
            if filled is None:
                visible.setdefault(obj["index"], np.zeros((height, width), np.float32))
                continue
            alpha, x0, y0 = filled
            colour = warp_texture(obj["_texture"], pa, pb, x0, y0, alpha.shape)
            if obj["shading"] > 0:
                # Light from one side of the object: a linear ramp across it in its own coordinates.
                ys, xs = np.mgrid[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]].astype(np.float32)
                centre, angle, _ = motion.pose(obj, t)
                direction = rotation(angle + obj["shading_angle"]) @ np.array([1.0, 0.0])
                ramp = ((xs - centre[0]) * direction[0] + (ys - centre[1]) * direction[1]) / (obj["radius"] * scale)
                colour = colour * np.clip(1 + obj["shading"] * ramp, 0.4, 1.6)[..., None]
            colour = colour * gain
            composite(alpha, x0, y0, colour, obj["index"])
    if scene["occluder"] is not None:
        points, oa, ob = motion.occluder(t)
        filled = fill_alpha(points, (width, height))
        if filled is not None:
            alpha, x0, y0 = filled
            colour = warp_texture(scene["occluder"]["_texture"], oa, ob, x0, y0, alpha.shape)
            composite(alpha, x0, y0, colour, None)
    if scene["lighting"] is not None:
        light = scene["lighting"]
        gain = 1 + light["amplitude"] * math.sin(2 * math.pi * t / light["period"] + light["phase"])
        image *= gain * (1 + np.array(light["tint"], np.float32))
    return image, visible


def render_frame(scene, motion, index):
    """Frame `index` (uint8 BGR before noise and JPEG: float32) and its object ids (uint8)."""
    exposure = scene["exposure"]
    times = [index] if exposure == 0 else [index + exposure * (k / (SUBFRAMES - 1) - 0.5) for k in range(SUBFRAMES)]
    image, visible = None, {}
    for t in times:
        frame, layers = render_instant(scene, motion, t, index)
        image = frame if image is None else image + frame
        for key, value in layers.items():
            visible[key] = value if key not in visible else visible[key] + value
    image /= len(times)
    width, height = scene["size"]
    ids = np.zeros((height, width), np.uint8)
    for key, value in visible.items():
        # Visible alphas sum to at most 1 per pixel, so at most one object exceeds 0.5.
        ids[value / len(times) > 0.5] = key
    return image, ids


def finish(scene, image, index):
    """Sensor noise and 8-bit quantisation (JPEG compression happens when the frame is written)."""
    rng = np.random.default_rng([scene["noise_seed"], index])
    noisy = image + rng.normal(0, scene["noise"], image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def public(description):
    """The JSON-able part of a description (keys starting with _ hold arrays)."""
    if isinstance(description, dict):
        return {k: public(v) for k, v in description.items() if not k.startswith("_")}
    if isinstance(description, list):
        return [public(v) for v in description]
    return description


def write_sequence(scene, out, name):
    images = os.path.join(out, "JPEGImages", "480p", name)
    masks = os.path.join(out, "Annotations", "480p", name)
    os.makedirs(images, exist_ok=True)
    os.makedirs(masks, exist_ok=True)
    motion = Motion(scene)
    areas = []
    for index in range(scene["frames"]):
        image, ids = render_frame(scene, motion, index)
        cv2.imwrite(os.path.join(images, f"{index:05d}.jpg"), finish(scene, image, index),
                    [cv2.IMWRITE_JPEG_QUALITY, scene["jpeg_quality"]])
        write_palette_png(os.path.join(masks, f"{index:05d}.png"), ids)
        areas.append([int((ids == o["index"]).sum()) for o in scene["objects"]])
    return areas


def open_clips(folder, frames):
    """(name, frame count, reader, cuts) for each readable clip at least MIN_CLIP_SIDE px on its shorter side with
    `frames` consecutive frames free of shot cuts."""
    clips = []
    for path in list_files(folder, VIDEO_EXTENSIONS):
        capture = cv2.VideoCapture(path)
        ok, frame = capture.read()
        capture.release()
        if not ok or min(frame.shape[:2]) < MIN_CLIP_SIDE:
            continue
        count, cuts = scan_clip(path, 2000)
        if count >= frames and cut_free_offsets(count, frames, cuts):
            clips.append((os.path.basename(path), count,
                          lambda offset, n, cover, path=path: read_clip(path, offset, n, cover), cuts))
    if not clips:
        sys.exit(f"{folder}: no readable clip of at least {frames} frames without a shot cut and {MIN_CLIP_SIDE} px")
    return clips


def clip_group(name):
    """Clips of one source and scene share a group: the package prefix, with intel's asl-* clips as one."""
    package, _, clip = name.partition("__")
    return package + ("/asl" if clip.startswith("asl-") else "/" + clip)


def first_frame_ok(scene):
    """Every object shows at least 1500 px in the first frame (the annotation propagation starts from)."""
    _, ids = render_frame(scene, Motion(scene), 0)
    return all((ids == o["index"]).sum() >= 1500 for o in scene["objects"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", help="folder of video clips (e.g. ../shared/data/videos)")
    parser.add_argument("textures", help="folder of still photos (e.g. ../shared/data/textures)")
    parser.add_argument("out", help="output DAVIS-layout folder (created)")
    parser.add_argument("--sequences", type=int, default=12)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", default="854x480", help="WIDTHxHEIGHT (default: DAVIS 480p)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        sys.exit(f"--size {args.size}: expected WIDTHxHEIGHT")
    if args.sequences < 1 or args.frames < 2 or width < 64 or height < 64:
        sys.exit("need --sequences >= 1, --frames >= 2 and a size of at least 64x64")
    cv2.setNumThreads(1)
    textures = load_textures(args.textures)
    clips = open_clips(args.videos, args.frames)
    records = []
    # Sequences take the clip groups in a seeded order, so a set sees as many different scenes as there are groups
    # (the 20 sign-language clips, one camera and room, are one group).
    groups = {}
    for clip in clips:
        groups.setdefault(clip_group(clip[0]), []).append(clip)
    order = [groups[key] for key in sorted(groups)]
    order = [order[i] for i in np.random.default_rng([args.seed]).permutation(len(order))]
    for index in range(args.sequences):
        rng = np.random.default_rng([args.seed, index])
        for _ in range(20):
            scene = make_scene(rng, (width, height), args.frames, order[index % len(order)], textures)
            if first_frame_ok(scene):
                break
        else:
            sys.exit(f"sequence {index}: no scene with visible objects in 20 tries")
        name = f"syn{index:02d}"
        areas = write_sequence(scene, args.out, name)
        record = public(scene)
        record.update(name=name, object_areas_first_last=[areas[0], areas[-1]])
        records.append(record)
        print(f"{name}: {scene['clip']} from frame {scene['offset']}, {len(scene['objects'])} object(s), "
              f"occluder {scene['occluder']['kind'] if scene['occluder'] else 'none'}, "
              f"exposure {scene['exposure']:.2f}", flush=True)
    with open(os.path.join(args.out, "scenes.json"), "w") as f:
        json.dump(dict(seed=args.seed, size=[width, height], frames=args.frames, sequences=records), f, indent=1)


if __name__ == "__main__":
    main()
