#!/usr/bin/env python3
"""OpenCV reference of the flow refinement (`FlowRefinement.VariationalRefinement`, `CoarseToFineRefinement`),
writing a parity fixture for the Swift tests.

Usage: python3 Reference/variational_refinement_reference.py
       (writes Tests/FlowRefinementTests/Fixtures/variational_refinement.safetensors; needs opencv-python-headless,
       numpy and safetensors)
       python3 Reference/variational_refinement_reference.py --bench --size 640x360 --threads 2 --reps 5
       (the peer of `mcjepa-bench refine`: OpenCV's time for the same coarse-to-fine schedule, as "opencv_ms X")

The Swift refinement minimises the same energy as OpenCV's `cv2.VariationalRefinement` (the last stage of DIS)
with the same constants. A 96x128 textured frame is moved by a smooth rotation-and-shift motion; the initial flow
is the true flow plus a smooth error of a few pixels. The fixture holds the two 8-bit luma frames, the true and
the initial flow, one `VariationalRefinement.calc` at full size with OpenCV's defaults, and the coarse-to-fine
schedule of `CoarseToFineRefinement` (levels 1/4, 1/2, 1 at this size: images and initial flow shrunk by area averaging,
the flow enlarged between levels bilinearly with its values scaled) run with OpenCV.
"""
import argparse
import os
import time

import cv2
import numpy as np
from safetensors.numpy import save_file

HEIGHT, WIDTH = 96, 128
SCALES = (4, 2, 1)  # CoarseToFineRefinement: 1/16 and 1/8 (6x8, 12x16) fall under its 16 px minimum side
OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "FlowRefinementTests", "Fixtures",
                   "variational_refinement.safetensors")


def texture(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth random texture with edges at several scales, 0..255 float, with a 32 px margin on every side."""
    image = np.zeros((height + 64, width + 64), np.float32)
    for sigma, amplitude in ((12, 90), (4, 50), (1.5, 30)):
        noise = rng.standard_normal(image.shape).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        image += amplitude * blurred / blurred.std()
    return np.clip(image + 128, 0, 255)


def true_flow() -> np.ndarray:
    """Flow of a 2-degree rotation about the centre plus a (3.4, -2.2) px shift, (H, W, 2)."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    angle = np.deg2rad(2.0)
    cx, cy = WIDTH / 2, HEIGHT / 2
    x1 = cx + np.cos(angle) * (xs - cx) - np.sin(angle) * (ys - cy) + 3.4
    y1 = cy + np.sin(angle) * (xs - cx) + np.cos(angle) * (ys - cy) - 2.2
    return np.stack([x1 - xs, y1 - ys], axis=2).astype(np.float32)


def refine(gray1, gray2, flow):
    out = np.ascontiguousarray(flow, np.float32).copy()
    cv2.VariationalRefinement_create().calc(gray1, gray2, out)
    return out


def schedule(height: int, width: int, coarsest: int = 16, minimum_side: int = 16):
    """CoarseToFineRefinement.scales: from 1/coarsest, halved while the shorter side would be under minimum_side."""
    scale = coarsest
    while scale > 1 and min(width, height) // scale < minimum_side:
        scale //= 2
    scales = []
    while scale >= 1:
        scales.append(scale)
        scale //= 2
    return tuple(scales)


def coarse_to_fine(gray1, gray2, flow, scales=SCALES):
    height, width = gray1.shape
    level = None
    for scale in scales:
        lw, lh = width // scale, height // scale
        ratio = np.array([lw / width, lh / height], np.float32)
        if level is None:
            level = cv2.resize(flow, (lw, lh), interpolation=cv2.INTER_AREA) * ratio
        else:
            level = cv2.resize(level, (lw, lh), interpolation=cv2.INTER_LINEAR) * np.array(
                [lw / level.shape[1], lh / level.shape[0]], np.float32)
        a = cv2.resize(gray1, (lw, lh), interpolation=cv2.INTER_AREA) if scale > 1 else gray1
        b = cv2.resize(gray2, (lw, lh), interpolation=cv2.INTER_AREA) if scale > 1 else gray2
        level = refine(a, b, level)
    return level


def bench(size: str, threads: int, reps: int) -> None:
    """Best-of-reps wall time of `coarse_to_fine` on a textured pair moved by 3 px with a blocky initial flow."""
    width, height = (int(v) for v in size.split("x"))
    cv2.setNumThreads(threads)
    rng = np.random.default_rng(1)
    source = texture(rng, height, width)
    gray1 = np.clip(source[32:32 + height, 32:32 + width] + 0.5, 0, 255).astype(np.uint8)
    gray2 = np.clip(source[30:30 + height, 29:29 + width] + 0.5, 0, 255).astype(np.uint8)
    blocks = rng.uniform(-2, 2, (height // 8 + 1, width // 8 + 1, 2)).astype(np.float32)
    initial = np.ascontiguousarray(np.kron(blocks, np.ones((8, 8, 1), np.float32))[:height, :width] + 3)
    scales = schedule(height, width)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        coarse_to_fine(gray1, gray2, initial, scales)
        best = min(best, time.perf_counter() - start)
    print(f"opencv_ms {1000 * best:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", action="store_true", help="time OpenCV on the schedule instead of writing the fixture")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if args.bench:
        bench(args.size, args.threads, args.reps)
    else:
        write_fixture()


def write_fixture():
    rng = np.random.default_rng(7)
    source = texture(rng)
    flow = true_flow()
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    # Frame 2 at p + flow(p) shows what frame 1 shows at p: sample the source backwards through the motion's
    # inverse, approximated by the flow itself (the motion is small and smooth).
    frame1 = source[32:32 + HEIGHT, 32:32 + WIDTH]
    frame2 = cv2.remap(source, xs + 32 - flow[..., 0], ys + 32 - flow[..., 1], cv2.INTER_CUBIC)
    gray1 = np.clip(frame1 + 0.5, 0, 255).astype(np.uint8)
    gray2 = np.clip(frame2 + 0.5, 0, 255).astype(np.uint8)
    error = np.stack([cv2.GaussianBlur(rng.standard_normal((HEIGHT, WIDTH)).astype(np.float32), (0, 0), 20)
                      for _ in range(2)], axis=2)
    initial = flow + 3 * error / np.abs(error).max()
    single = refine(gray1, gray2, initial)
    pyramid = coarse_to_fine(gray1, gray2, initial)

    def planes(f):
        return np.ascontiguousarray(f.transpose(2, 0, 1), np.float32)

    def epe(f):
        return float(np.sqrt(((f - flow) ** 2).sum(2)).mean())

    save_file({"gray1": gray1.astype(np.float32), "gray2": gray2.astype(np.float32), "truth": planes(flow),
               "initial": planes(initial), "single": planes(single), "pyramid": planes(pyramid)}, OUT,
              metadata={"opencv": cv2.__version__})
    print(f"wrote {os.path.normpath(OUT)}: EPE initial {epe(initial):.3f}, one level {epe(single):.3f}, "
          f"coarse-to-fine {epe(pyramid):.3f} (OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()
