#!/usr/bin/env python3
"""Loads shards written by `mcjepa-video preprocess` with the `webdataset` package and checks them.

Usage: python3 Reference/load_shards.py SHARDS_DIR      (pip install webdataset numpy opencv-python-headless)

Reads manifest.json for the shard pattern, iterates every sample through webdataset (which groups a sample's
adjacent members by key), decodes both frames, and checks them against each sample's JSON and against the
per-shard stats files. Prints counts; exits 1 if anything disagrees.
"""
import json
import os
import sys

import cv2
import numpy as np
import webdataset as wds


def decode_image(key, data):
    """PNG/JPEG members to HxWx3 uint8 RGB with OpenCV (webdataset's own "rgb8" decoder needs Pillow)."""
    if not key.endswith((".png", ".jpg")):
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{key}: not a decodable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def main(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    expected_pairs = 0
    missing = []
    for shard in manifest["shards"]:
        stats_path = os.path.join(folder, shard["stats"])
        if not os.path.exists(stats_path):
            missing.append(shard["name"])
            continue
        with open(stats_path) as f:
            expected_pairs += json.load(f)["pairs"]
    if missing:
        print(f"shards not done yet (no stats file): {', '.join(missing)}", file=sys.stderr)
        return 1

    ext = manifest["image_format"]
    url = os.path.join(folder, manifest["urls"])
    dataset = (wds.WebDataset(url, shardshuffle=False, empty_check=False)
               .decode(decode_image)
               .to_tuple(f"f0.{ext}", f"f1.{ext}", "json", "__key__", "__url__"))
    samples, per_shard, per_video, problems = 0, {}, {}, []
    for first, second, meta, key, shard_url in dataset:
        samples += 1
        per_shard[os.path.basename(shard_url)] = per_shard.get(os.path.basename(shard_url), 0) + 1
        per_video[meta["source"]] = per_video.get(meta["source"], 0) + 1
        if key != meta["key"] or "." in key:
            problems.append(f"{key}: key does not match its JSON ({meta['key']})")
        for name, image in (("f0", first), ("f1", second)):
            if image.shape != (meta["height"], meta["width"], 3):
                problems.append(f"{key}.{name}: shape {image.shape}, JSON says {meta['height']}x{meta['width']}")
        if meta["frame1"] <= meta["frame0"]:
            problems.append(f"{key}: frame1 {meta['frame1']} is not after frame0 {meta['frame0']}")

    print(f"webdataset {getattr(wds, '__version__', '?')}: {samples} samples in {len(per_shard)} shards "
          f"(stats say {expected_pairs}), {len(per_video)} videos with pairs")
    for name in sorted(per_shard):
        print(f"  {name}: {per_shard[name]} samples")
    if samples != expected_pairs:
        problems.append(f"{samples} samples loaded but the stats files count {expected_pairs}")
    for problem in problems[:20]:
        print("problem:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
