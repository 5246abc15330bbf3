"""The OpenCV DIS baselines whose figures sit next to ours in every evaluation: dis_baseline.py (flow on an
evaluation set) and vos_baselines.py (DIS mask warping on a DAVIS folder), run as scripts on small generated sets."""
import os
import subprocess
import sys

import cv2
import numpy as np

from test_train import REFERENCE

sys.path.insert(0, REFERENCE)
from vos_baselines import read_label_png, write_palette_png  # noqa: E402


def _texture(height, width, seed=0):
    """Smooth random texture (blurred noise): DIS needs gradients everywhere to lock on."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height, width)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def _run(script, *args):
    return subprocess.run([sys.executable, os.path.join(REFERENCE, script), *args], capture_output=True, text=True,
                          timeout=120)


def _read_flo(path):
    with open(path, "rb") as f:
        assert np.fromfile(f, "<f4", 1)[0] == np.float32(202021.25)
        width, height = np.fromfile(f, "<i4", 2)
        return np.fromfile(f, "<f4").reshape(height, width, 2)


def test_dis_baseline_writes_flo_files_that_recover_a_shift(tmp_path):
    texture = _texture(200, 260)
    pair = tmp_path / "set" / "shifted"
    pair.mkdir(parents=True)
    # img2(x, y) = img1(x - 3, y - 2): every pixel moves by (+3, +2).
    img1 = texture[10:170, 10:230]
    img2 = texture[8:168, 7:227]
    for name, image in (("img1.png", img1), ("img2.png", img2)):
        cv2.imwrite(str(pair / name), np.repeat(np.clip(image, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
    result = _run("dis_baseline.py", str(tmp_path / "set"), str(tmp_path / "out"), "--preset", "medium",
                  "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "DIS medium, 1 threads" in result.stdout
    flow = _read_flo(tmp_path / "out" / "shifted.flo")
    assert flow.shape == (160, 220, 2)
    inner = flow[20:-20, 20:-20].reshape(-1, 2)
    assert np.allclose(np.median(inner, axis=0), [3, 2], atol=0.25), np.median(inner, axis=0)


def test_dis_baseline_names_an_unreadable_image(tmp_path):
    pair = tmp_path / "set" / "broken"
    pair.mkdir(parents=True)
    (pair / "img1.png").write_bytes(b"not a png")
    (pair / "img2.png").write_bytes(b"not a png")
    result = _run("dis_baseline.py", str(tmp_path / "set"), str(tmp_path / "out"))
    assert result.returncode != 0
    assert result.stderr.strip().endswith(f"{pair / 'img1.png'}: cannot be read")


def test_vos_baseline_warps_the_first_mask_along_the_motion(tmp_path):
    texture = _texture(220, 300, seed=1)
    davis = tmp_path / "davis"
    images = davis / "JPEGImages" / "480p" / "square"
    annotations = davis / "Annotations" / "480p" / "square"
    images.mkdir(parents=True)
    annotations.mkdir(parents=True)
    # Three frames of a camera pan: frame t shows the texture moved right by 4t px; the mask (object 1) moves with it.
    # As in DAVIS, every frame has an annotation file; the later ones are left empty here, so the masks written for
    # frames 1 and 2 can only come from warping the first.
    mask = np.zeros((160, 220), np.uint8)
    mask[60:100, 80:130] = 1
    for t in range(3):
        frame = texture[20:180, 40 - 4 * t:260 - 4 * t]
        cv2.imwrite(str(images / f"{t:05d}.jpg"), np.repeat(frame.astype(np.uint8)[..., None], 3, axis=2),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        write_palette_png(str(annotations / f"{t:05d}.png"), mask if t == 0 else np.zeros_like(mask))
    result = _run("vos_baselines.py", str(davis), str(tmp_path / "out"), "--threads", "1")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "square"
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png", "00002.png"]
    assert np.array_equal(read_label_png(str(out / "00000.png")), mask)
    last = read_label_png(str(out / "00002.png"))
    expected = np.roll(mask, 8, axis=1)
    iou = np.logical_and(last == 1, expected == 1).sum() / np.logical_or(last == 1, expected == 1).sum()
    assert iou > 0.9, iou
