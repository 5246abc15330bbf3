"""forward_backward_check.py, run as a script on a generated clip with random `test`-preset weights."""
import os
import subprocess
import sys

import cv2
import numpy as np
import torch

from test_train import REFERENCE

sys.path.insert(0, REFERENCE)
from mcjepa.model import build_model, weights_metadata  # noqa: E402
from mcjepa.weights import save_file  # noqa: E402


def _clip(path, frames, seed=0):
    """A blurred-noise texture sliding 2 px right per frame, as MJPG (OpenCV writes it without extra codecs)."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (160, 260, 3)).astype(np.float32), (0, 0), 2.0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (192, 128))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.clip(texture[16:144, 40 - 2 * i:232 - 2 * i], 0, 255).astype(np.uint8))
    writer.release()


def _weights(path, with_config=True):
    """Random `test`-preset weights, with the config in the metadata as the trainers write it, or as a bare state_dict."""
    model = build_model("test")
    metadata = weights_metadata(model.cfg) if with_config else None
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata)


def _run(*args):
    return subprocess.run([sys.executable, os.path.join(REFERENCE, "forward_backward_check.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_one_row_per_clip_and_a_looser_test_marks_more_pixels_visible(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    _weights(weights)  # the model's size comes from the file: no --preset
    clips = [tmp_path / "a.avi", tmp_path / "b.avi"]
    for seed, clip in enumerate(clips):
        _clip(clip, 6, seed)
    result = _run(str(weights), *map(str, clips), "--frame", "3", "--size", "128x192",
                  "--alpha2", "0.5", "4", "1000000")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:5] == ["clip", "|flow|", "vis@0.5", "vis@4", "vis@1e+06"]
    assert [line.split()[0] for line in lines[1:]] == ["a.avi", "b.avi"]
    for line in lines[1:]:
        values = [float(x) for x in line.split()[1:]]
        visible = values[1:4]
        assert all(0 <= v <= 1 for v in visible)
        assert visible[0] <= visible[1] <= visible[2]
        assert visible[2] == 1.0  # a bound of 10^6 px^2 passes every pixel of a random network's small flows


def test_a_clip_too_short_is_an_error_naming_it(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    _weights(weights)
    clip = tmp_path / "short.avi"
    _clip(clip, 3)
    result = _run(str(weights), str(clip), "--frame", "2", "--size", "128x192")
    assert result.returncode != 0
    assert "short.avi: fewer than 4 frames" in result.stderr


def test_a_bare_state_dict_needs_a_preset_and_a_wrong_one_is_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "bare.safetensors"
    _weights(weights, with_config=False)
    clip = tmp_path / "a.avi"
    _clip(clip, 6)
    common = (str(weights), str(clip), "--frame", "3", "--size", "128x192")
    assert _run(*common, "--preset", "test").returncode == 0
    for extra, cause in [((), "no model config"), (("--preset", "tiny"), "Error(s) in loading state_dict")]:
        result = _run(*common, *extra)
        assert result.returncode != 0
        error = result.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith(str(weights)) and cause in error[0], result.stderr
