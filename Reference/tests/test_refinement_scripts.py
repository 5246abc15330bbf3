"""The scripts behind the flow refinement: variational_refinement_reference.py (the OpenCV parity fixture of the
Swift FlowRefinement tests, and the peer of `mcjepa-bench refine`) and synthetic_flow_set.py (the held-out synthetic
pairs on which the refinement's schedule was chosen)."""
import os
import subprocess
import sys

import cv2
import numpy as np
from safetensors.numpy import load_file

from test_train import REFERENCE

sys.path.insert(0, REFERENCE)
import variational_refinement_reference as refinement  # noqa: E402


def test_schedule_is_the_swift_one():
    # CoarseToFineRefinement.scales: from 1/16, halved while the shorter side would be under 16 px.
    assert refinement.schedule(436, 1024) == (16, 8, 4, 2, 1)
    assert refinement.schedule(200, 640) == (8, 4, 2, 1)
    assert refinement.schedule(96, 128) == refinement.SCALES == (4, 2, 1)
    assert refinement.schedule(12, 20) == (1,)


def test_committed_fixture_is_what_the_script_writes(tmp_path, monkeypatch):
    committed = load_file(refinement.OUT)
    monkeypatch.setattr(refinement, "OUT", str(tmp_path / "fixture.safetensors"))
    refinement.write_fixture()
    fresh = load_file(refinement.OUT)
    assert sorted(fresh) == sorted(committed)
    for name in fresh:
        np.testing.assert_allclose(fresh[name], committed[name], atol=1e-4, err_msg=(
            f"{name}: regenerate with python3 Reference/variational_refinement_reference.py"))


def test_coarse_to_fine_recovers_a_shift_that_one_level_cannot():
    rng = np.random.default_rng(3)
    source = refinement.texture(rng, 96, 128)
    gray1 = np.clip(source[32:128, 32:160] + 0.5, 0, 255).astype(np.uint8)
    gray2 = np.clip(source[28:124, 26:154] + 0.5, 0, 255).astype(np.uint8)  # content moves by (6, 4)
    blocks = rng.uniform(-2, 2, (12, 16, 2)).astype(np.float32)
    initial = np.ascontiguousarray(np.kron(blocks, np.ones((8, 8, 1), np.float32)) + np.float32([6, 4]))
    truth = np.float32([6, 4])

    def error(flow):
        return float(np.sqrt(((flow - truth) ** 2).sum(2))[8:-8, 8:-8].mean())

    pyramid = refinement.coarse_to_fine(gray1, gray2, initial)
    assert error(pyramid) < 0.5 * error(initial)
    assert error(pyramid) < error(refinement.refine(gray1, gray2, initial))


def test_bench_prints_opencvs_time():
    result = subprocess.run([sys.executable, os.path.join(REFERENCE, "variational_refinement_reference.py"), "--bench",
                             "--size", "64x48", "--threads", "1", "--reps", "1"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split("opencv_ms ")[1]) > 0


def test_synthetic_set_has_eval_flows_layout(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(photos / f"p{i}.png"), cv2.GaussianBlur(rng.uniform(0, 255, (300, 400, 3)), (0, 0), 2))
    out = tmp_path / "set"
    result = subprocess.run([sys.executable, os.path.join(REFERENCE, "synthetic_flow_set.py"), str(photos), str(out),
                             "--pairs", "2"], capture_output=True, text=True, timeout=120, cwd=REFERENCE)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ["syn00", "syn01"]
    assert sorted(os.listdir(out / "syn00")) == ["flow.flo", "img1.png", "img2.png"]
    with open(out / "syn00" / "flow.flo", "rb") as f:
        assert np.fromfile(f, "<f4", 1)[0] == np.float32(202021.25)
        width, height = np.fromfile(f, "<i4", 2)
    assert (width, height) == (448, 320)
    assert cv2.imread(str(out / "syn00" / "img1.png")).shape == (320, 448, 3)
