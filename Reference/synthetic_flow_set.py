#!/usr/bin/env python3
"""A held-out set of synthetic flow pairs in the layout `mcjepa-video eval flow` reads (SET/PAIR/{img1.png,
img2.png,flow.flo}), for choosing inference-time options without looking at evaluation data.

Usage: python3 Reference/synthetic_flow_set.py ../shared/data/textures OUT [--pairs 24] [--seed 12345]
       mcjepa-video eval flow OUT [--no-refine] [--flip-average]

The pairs are stage 3's distribution of the built-in weights' recipe (`SyntheticPairs`: still photos moved as 2-4
layers by random similarity motions with translations up to 96 px drawn as 96 u^2, photometric jitter), at 320x448,
with their exact flow. The default seed and count give the 24 pairs on which the flow refinement's schedule and
flip averaging were chosen (Sources/MCJEPA/Weights/README.md). They are made from the photos only, never from
flow-dev or davis-dev.
"""
import argparse
import os

import cv2
import numpy as np

from mcjepa.data import SyntheticPairs


def write_flo(path: str, flow: np.ndarray) -> None:
    """Middlebury .flo: magic 202021.25, width, height, then (u, v) float32 per pixel, row-major."""
    height, width = flow.shape[:2]
    with open(path, "wb") as f:
        f.write(np.float32(202021.25).tobytes())
        f.write(np.int32(width).tobytes())
        f.write(np.int32(height).tobytes())
        f.write(np.ascontiguousarray(flow, np.float32).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", help="folder of still photos (e.g. ../shared/data/textures)")
    parser.add_argument("out", help="output set folder (created)")
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    source = SyntheticPairs([args.photos], size=(320, 448), max_shift=96, shift_power=2, max_layers=4, jitter=True)
    rng = np.random.default_rng(args.seed)
    for index in range(args.pairs):
        sample = source.sample(rng)
        folder = os.path.join(args.out, f"syn{index:02d}")
        os.makedirs(folder, exist_ok=True)
        for key, name in (("f0", "img1.png"), ("f1", "img2.png")):
            rgb8 = (np.clip(sample[key], 0, 1) * 255 + 0.5).astype(np.uint8)
            cv2.imwrite(os.path.join(folder, name), cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR))
        write_flo(os.path.join(folder, "flow.flo"), sample["flow"])
    print(f"wrote {args.pairs} pairs to {args.out}")


if __name__ == "__main__":
    main()
