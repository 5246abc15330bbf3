#!/usr/bin/env python3
"""Photometric check of flow on real video, where no ground truth exists: warp frame i+1 back onto frame i with a
method's flow and measure the mean absolute colour difference (0-255, over pixels whose match lands inside the
frame), against OpenCV DIS medium's flow on the same frames.

Usage: python3 Reference/warp_error.py VIDEO FLOWDIR [--pairs N]
FLOWDIR holds `mcjepa-video flow VIDEO --format flo` output (000000.flo is frames 0 -> 1, at the video's size).
A lower warp error is not the same as a truer flow (occlusions, flat regions), but a flow that leaves a higher one
than DIS's on most pairs is visibly worse on that video.
"""
import argparse
import os
import sys

import cv2
import numpy as np



def read_flo(path):
    """Middlebury .flo (magic 202021.25, int32 width and height, interleaved float32 u, v); exits naming the file."""
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) != 12 or np.frombuffer(header[:4], "<f4")[0] != 202021.25:
            sys.exit(f"{path}: not a .flo file")
        width, height = np.frombuffer(header[4:], "<i4")
        data = np.frombuffer(f.read(), "<f4")
    if data.size != width * height * 2:
        sys.exit(f"{path}: truncated .flo file")
    return data.reshape(height, width, 2)


def warp_error(first, second, flow):
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    warped = cv2.remap(second, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    diff = np.abs(warped.astype(np.float32) - first.astype(np.float32)).mean(-1)
    return float(diff[inside].mean()) if inside.any() else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("flows")
    parser.add_argument("--pairs", type=int, default=1000)
    args = parser.parse_args()
    cv2.setNumThreads(2)
    capture = cv2.VideoCapture(args.video)
    frames = []
    while len(frames) < args.pairs + 1:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ours, theirs = [], []
    for i in range(len(frames) - 1):
        path = os.path.join(args.flows, f"{i:06d}.flo")
        if not os.path.exists(path):
            break
        flow = read_flo(path)
        if flow.shape[:2] != frames[i].shape[:2]:
            sys.exit(f"{path}: flow is {flow.shape[1]}x{flow.shape[0]}, frames are {frames[i].shape[1]}x{frames[i].shape[0]}")
        gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in (frames[i], frames[i + 1])]
        ours.append(warp_error(frames[i], frames[i + 1], flow))
        theirs.append(warp_error(frames[i], frames[i + 1], dis.calc(gray[0], gray[1], None)))
    if not ours:
        sys.exit(f"{args.flows}: no flow files 000000.flo ... for {args.video}")
    ratios = np.array(ours) / np.maximum(np.array(theirs), 1e-6)
    print(f"{os.path.basename(args.video)}: {len(ours)} pairs, warp error {np.mean(ours):.2f} against DIS medium's "
          f"{np.mean(theirs):.2f}; geometric mean of ratios {np.exp(np.log(ratios).mean()):.3f}, "
          f"pairs won {(ratios < 1).sum()} of {len(ours)}")


if __name__ == "__main__":
    main()
