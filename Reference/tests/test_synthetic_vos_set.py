"""synthetic_vos_set.py: the held-out synthetic VOS set. Its masks must be exactly where the composited objects are
visible (occlusion and motion blur included), its output a function of the seed, and its layout the one
`mcjepa-video eval vos` reads."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from test_train import REFERENCE

sys.path.insert(0, REFERENCE)
import synthetic_vos_set as vos_set  # noqa: E402
from vos_baselines import read_label_png  # noqa: E402

SIZE = (160, 96)


def _inputs(tmp_path):
    """A 320x240 clip of 30 frames (a drifting random texture) and two photos."""
    rng = np.random.default_rng(0)
    videos, textures = tmp_path / "videos", tmp_path / "textures"
    videos.mkdir()
    textures.mkdir()
    base = cv2.GaussianBlur(rng.uniform(0, 255, (300, 400, 3)).astype(np.float32), (0, 0), 3)
    writer = cv2.VideoWriter(str(videos / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    assert writer.isOpened()
    for t in range(30):
        writer.write(np.clip(base[t:t + 240, t:t + 320] * 1.5 - 60, 0, 255).astype(np.uint8))
    writer.release()
    for name in ("a.png", "b.jpg"):
        cv2.imwrite(str(textures / name), rng.integers(0, 256, (120, 150, 3), dtype=np.uint8))
    return videos, textures


def _generate(videos, textures, out, seed, sequences=2, frames=6):
    return subprocess.run([sys.executable, os.path.join(REFERENCE, "synthetic_vos_set.py"), str(videos),
                           str(textures), str(out), "--sequences", str(sequences), "--frames", str(frames),
                           "--size", f"{SIZE[0]}x{SIZE[1]}", "--seed", str(seed)],
                          capture_output=True, text=True, timeout=120)


def _photo(seed, detail):
    """A 300x400 photo-like image, float32 BGR 0..255: random colours on a `detail` x `detail` px grid, smoothly
    interpolated."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0, 255, (300 // detail, 400 // detail, 3)).astype(np.float32)
    return cv2.resize(cells, (400, 300), interpolation=cv2.INTER_CUBIC)


def _write_clip(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    assert writer.isOpened()
    for frame in frames:
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()


def _clip_with_cut(path, count, cut):
    """A clip of `count` frames: one photo drifting 1 px a frame up to frame `cut`, another one from there."""
    first, second = _photo(1, 25), _photo(2, 25)
    _write_clip(path, [(first if t < cut else second)[t:t + 240, t:t + 320] for t in range(count)])


def _files(root):
    found = {}
    for base, _, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def test_same_seed_same_set_in_davis_layout(tmp_path):
    videos, textures = _inputs(tmp_path)
    for out, seed in (("one", 5), ("two", 5), ("other", 6)):
        result = _generate(videos, textures, tmp_path / out, seed)
        assert result.returncode == 0, result.stderr
    one, two, other = _files(tmp_path / "one"), _files(tmp_path / "two"), _files(tmp_path / "other")
    assert one == two
    assert one != other
    for sequence in ("syn00", "syn01"):
        for frame in range(6):
            image = cv2.imread(str(tmp_path / "one" / "JPEGImages" / "480p" / sequence / f"{frame:05d}.jpg"))
            assert image.shape == (SIZE[1], SIZE[0], 3)
            ids = read_label_png(str(tmp_path / "one" / "Annotations" / "480p" / sequence / f"{frame:05d}.png"))
            assert ids.shape == (SIZE[1], SIZE[0])
    scenes = json.loads(one["scenes.json"])
    assert [s["name"] for s in scenes["sequences"]] == ["syn00", "syn01"]
    first = read_label_png(str(tmp_path / "one" / "Annotations" / "480p" / "syn00" / "00000.png"))
    assert set(np.unique(first)) == {0} | {o["index"] for o in scenes["sequences"][0]["objects"]}


def test_a_folder_without_usable_clips_is_refused(tmp_path):
    _, textures = _inputs(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _generate(empty, textures, tmp_path / "out", 1)
    assert result.returncode != 0
    assert str(empty) in result.stderr and "no readable clip" in result.stderr
    assert not (tmp_path / "out").exists()


def _flat_scene(seed, size=(256, 160)):
    """A scene with two objects and an occluder over a black background, each layer one pure colour channel
    (object 1 red, object 2 green, occluder blue) and no lighting: each channel is then that layer's visible alpha."""
    black = lambda offset, count, cover: [np.zeros((cover[1], cover[0], 3), np.float32) for _ in range(count)]
    clips = [("black", 20, black, [])]
    textures = [("grey", np.full((64, 64, 3), 128, np.float32))]
    for attempt in range(200):
        scene = vos_set.make_scene(np.random.default_rng([seed, attempt]), size, 8, clips, textures)
        if len(scene["objects"]) == 2 and scene["occluder"] is not None and scene["exposure"] > 0:
            break
    else:
        raise AssertionError("no scene with two objects, an occluder and motion blur")
    for obj, channel in zip(scene["objects"], (2, 1)):
        obj["_texture"] = np.zeros((64, 64, 3), np.float32)
        obj["_texture"][..., channel] = 255
        obj.update(shading=0.0, gain=0.0, tone=0.0)
    scene["occluder"]["_texture"] = np.zeros((64, 64, 3), np.float32)
    scene["occluder"]["_texture"][..., 0] = 255
    scene["lighting"] = None
    return scene


def test_masks_are_where_each_object_is_visible_through_occlusion_and_blur():
    scene = _flat_scene(3)
    motion = vos_set.Motion(scene)
    occluded, seen = 0, set()
    for index in range(scene["frames"]):
        image, ids = vos_set.render_frame(scene, motion, index)
        red, green, blue = image[..., 2] / 255, image[..., 1] / 255, image[..., 0] / 255
        decided = (np.abs(red - 0.5) > 1e-3) & (np.abs(green - 0.5) > 1e-3)
        expected = np.where(red > 0.5, 1, np.where(green > 0.5, 2, 0))
        assert np.array_equal(ids[decided], expected[decided]), index
        seen |= set(np.unique(ids).tolist())
        # Where the occluder covers an object, the mask there is background.
        occluded += int(((blue > 0.5) & ((red > 0) | (green > 0))).sum())
        assert not np.any((ids > 0) & (blue > 0.5))
    assert seen == {0, 1, 2}
    assert occluded > 0, "the occluder never covered an object: the test would not check occlusion"


def test_masks_follow_the_outline_not_the_bounding_box():
    scene = _flat_scene(4, size=(854, 480))
    _, ids = vos_set.render_frame(scene, vos_set.Motion(scene), 0)
    assert vos_set.first_frame_ok(scene)
    ys, xs = np.nonzero(ids == 1)
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert 0.3 * box < len(ys) < 0.95 * box


def _swift_tool():
    for candidate in (os.environ.get("MCJEPA_VIDEO"),
                      os.path.join(REFERENCE, "..", ".build", "release", "mcjepa-video"),
                      os.path.join(REFERENCE, "..", ".build", "debug", "mcjepa-video"),
                      shutil.which("mcjepa-video")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def test_eval_vos_reads_the_set(tmp_path):
    tool = _swift_tool()
    if tool is None:
        pytest.skip("no mcjepa-video build (swift build, or MCJEPA_VIDEO=path)")
    videos, textures = _inputs(tmp_path)
    assert _generate(videos, textures, tmp_path / "set", 2).returncode == 0
    result = subprocess.run([tool, "eval", "vos", str(tmp_path / "set"), "--pred", "first-mask", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    scenes = json.loads((tmp_path / "set" / "scenes.json").read_text())
    assert [s["sequence"] for s in report["sequences"]] == ["syn00", "syn01"]
    assert [len(s["objects"]) for s in report["sequences"]] == [len(s["objects"]) for s in scenes["sequences"]]
    assert 0 < report["jAndF"] < 1


def test_a_cut_between_two_photos_is_found_at_its_frame(tmp_path):
    _clip_with_cut(tmp_path / "cut.avi", 30, 17)
    assert vos_set.scan_clip(str(tmp_path / "cut.avi"), 2000) == (30, [17])


def test_slow_motion_lighting_change_and_a_steady_fast_pan_are_not_cuts(tmp_path):
    photo = _photo(3, 10)
    # Drifting 1 px a frame while the light goes from 0.7 to 1.3 of its level.
    slow = [photo[t:t + 240, t:t + 320] * (0.7 + 0.6 * t / 29) for t in range(30)]
    # Panning 4 px a frame over a finer photo: every transition changes more than CUT_MIN_CHANGE.
    fine = cv2.resize(_photo(4, 5), (800, 600))
    fast = [fine[2 * t:2 * t + 240, 4 * t:4 * t + 320] for t in range(30)]
    _write_clip(tmp_path / "slow.avi", slow)
    _write_clip(tmp_path / "fast.avi", fast)
    assert vos_set.scan_clip(str(tmp_path / "slow.avi"), 2000) == (30, [])
    changes = [np.abs(vos_set.thumbnail(b.astype(np.float32)) - vos_set.thumbnail(a.astype(np.float32))).mean()
               for a, b in zip(fast, fast[1:])]
    assert min(changes) > vos_set.CUT_MIN_CHANGE, "the pan would not test the comparison with the neighbours"
    assert vos_set.scan_clip(str(tmp_path / "fast.avi"), 2000) == (30, [])


def test_a_scene_takes_a_window_without_a_cut():
    requested = []

    def reader(offset, count, cover):
        requested.append((offset, count))
        return [np.zeros((cover[1], cover[0], 3), np.float32) for _ in range(count)]

    textures = [("grey", np.full((64, 64, 3), 128, np.float32))]
    # 11 of the 13 windows of 12 frames cross the cut at frame 12: a draw that ignored it would cross it.
    for seed in range(20):
        scene = vos_set.make_scene(np.random.default_rng(seed), (128, 96), 12, [("cut", 24, reader, [12])], textures)
        assert scene["offset"] in (0, 12) and requested[-1] == (scene["offset"], 12)
    # A clip whose one window free of cuts (frames 100-111) is rarely drawn: every other frame starts a shot.
    cuts = sorted(set(range(1, 200)) - set(range(101, 112)))
    assert vos_set.cut_free_offsets(200, 12, cuts) == [100]
    for seed in range(3):
        scene = vos_set.make_scene(np.random.default_rng(seed), (128, 96), 12, [("cuts", 200, reader, cuts)], textures)
        assert scene["offset"] == 100


def test_the_set_never_crosses_a_planted_cut(tmp_path):
    _, textures = _inputs(tmp_path)
    videos = tmp_path / "cut-videos"
    videos.mkdir()
    _clip_with_cut(videos / "cut.avi", 24, 12)
    result = _generate(videos, textures, tmp_path / "set", 1, sequences=4, frames=12)
    assert result.returncode == 0, result.stderr
    scenes = json.loads((tmp_path / "set" / "scenes.json").read_text())["sequences"]
    assert len(scenes) == 4
    for scene in scenes:
        assert scene["clip_cuts"] == [12]
        assert scene["offset"] in (0, 12), scene["offset"]
