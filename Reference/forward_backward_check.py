#!/usr/bin/env python3
"""How consistent the model's forward and backward flows are on real video, and how far from zero its flow is
between a frame and itself: the figures that set the forward-backward occlusion test (`occ_alpha1`, `occ_alpha2`,
`--min-visible`) of a self-supervised stage (Training/runs/stage08-ssl-video/README.md).

Usage: python3 Reference/forward_backward_check.py WEIGHTS VIDEO... [--frame 20] [--size 256x320]
                                                   [--alpha2 0.5 4] [--preset tiny]

The model's size comes from the weights file's metadata (--preset only for a file without one).

For each clip: frames FRAME and FRAME+1, resized to the training crop size, through the model (RGB in [0,1]) in
both directions; prints the mean flow magnitude, the fraction of pixels the UnFlow test marks visible for each
alpha2 (alpha1 = 0.01), the median |forward + warped backward|, and the median magnitude of the flow from the
first frame to itself at full resolution and at the finest decoded level (in that level's pixels).
"""
import argparse

import cv2
import torch

from mcjepa.losses import occlusion_mask
from mcjepa.model import load_model
from mcjepa.ops import backward_warp


def read_pair(path: str, index: int, size: tuple) -> tuple:
    capture = cv2.VideoCapture(path)
    frames = []
    while len(frames) < index + 2:
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"{path}: fewer than {index + 2} frames")
        frames.append(frame)
    height, width = size

    def tensor(bgr):
        rgb = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)[:, :, ::-1].copy()
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255

    return tensor(frames[index]), tensor(frames[index + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights")
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--frame", type=int, default=20)
    parser.add_argument("--size", default="256x320", help="HxW, multiples of 64")
    parser.add_argument("--alpha2", type=float, nargs="+", default=[0.5, 4.0])
    parser.add_argument("--preset", default=None,
                        help="model size for a weights file without a config in its metadata (a bare state_dict)")
    args = parser.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    torch.set_num_threads(1)
    try:
        model, _ = load_model(args.weights, args.preset)
    except (ValueError, RuntimeError, OSError) as error:
        message = str(error).splitlines()[0]  # load_state_dict's error lists every mismatch, one per line
        raise SystemExit(message if message.startswith(args.weights) else f"{args.weights}: {message}")
    header = "clip".ljust(40) + "  |flow|" + "".join(f"  vis@{a:g}" for a in args.alpha2) + "  |f+b'|  self  self@finest"
    print(header)
    with torch.no_grad():
        for path in args.videos:
            a, b = read_pair(path, args.frame, size)
            feats_a, feats_b = model.encode(a), model.encode(b)
            _, forward = model.flow(feats_a, feats_b)
            _, backward = model.flow(feats_b, feats_a)
            self_levels, self_full = model.flow(feats_a, feats_a)
            visible = [float(occlusion_mask(forward, backward, 0.01, alpha2).mean()) for alpha2 in args.alpha2]
            disagreement = (forward + backward_warp(backward, forward)).norm(dim=1).median()
            row = path.split("/")[-1][:40].ljust(40) + f"  {float(forward.norm(dim=1).mean()):6.2f}"
            row += "".join(f"  {v:7.2f}" for v in visible)
            row += f"  {float(disagreement):6.2f}  {float(self_full.norm(dim=1).median()):4.2f}"
            row += f"  {float(self_levels[-1].norm(dim=1).median()):11.3f}"
            print(row)


if __name__ == "__main__":
    main()
