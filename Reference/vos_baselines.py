#!/usr/bin/env python3
"""Mask warping with OpenCV DIS flow, the classical baseline for `mcjepa-video eval vos`.

Usage: python3 Reference/vos_baselines.py DAVIS_ROOT OUTDIR [--preset medium] [--threads 2]

For each sequence of DAVIS_ROOT (JPEGImages/480p/<seq>/*.jpg, Annotations/480p/<seq>/*.png) it starts from the
first annotation and, for every next frame t, warps the previous *predicted* mask with the backward flow from
frame t to frame t-1 (DIS on grayscale frames, nearest-neighbour sampling, outside = background). Masks are
written as palette PNGs with the DAVIS palette to OUTDIR/<seq>/<frame>.png (frame 0 is the given mask). Score with:
    mcjepa-video eval vos DAVIS_ROOT --pred OUTDIR
and compare with the copy-the-first-mask baseline (`--pred first-mask`).

Measured on shared/data/davis-dev (five DAVIS-2016 sequences, 2 threads): J&F 0.456 (J 0.458, F 0.454), DIS 73 ms
per 854x480 pair; copying the first mask gives 0.317. (Bilinear warping of the mask thresholded at 0.5 gives 0.461.)

Masks are read as eval vos reads them: palette indices (DAVIS 2017), or grayscale 0/255 (DAVIS 2016) where 255
is object 1. No PIL needed: the few PNG features involved (8-bit gray or palette, non-interlaced) are handled here.
"""
import argparse
import os
import struct
import sys
import time
import zlib

import cv2
import numpy as np

from dis_common import add_dis_arguments, make_dis, read_gray


def davis_palette():
    """The PASCAL VOC / DAVIS palette: the bits of index k spread over R, G, B from the high bit down."""
    palette = np.zeros((256, 3), np.uint8)
    for index in range(256):
        r = g = b = 0
        k = index
        for shift in range(8):
            r |= ((k >> 0) & 1) << (7 - shift)
            g |= ((k >> 1) & 1) << (7 - shift)
            b |= ((k >> 2) & 1) << (7 - shift)
            k >>= 3
        palette[index] = (r, g, b)
    return palette


def read_label_png(path):
    """Palette indices (colour type 3) or gray values (colour type 0) of an 8-bit non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (0, 3) or interlace:
        sys.exit(f"{path}: only 8-bit gray or palette non-interlaced masks are supported")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, width + 1)
    out = np.zeros((height, width), np.int32)
    previous = np.zeros(width, np.int32)
    for y in range(height):
        kind, row = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 1:  # Sub: running sum along the row
            row = np.cumsum(row) % 256
        elif kind == 2:  # Up
            row = (row + previous) % 256
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            row = row.copy()
            for x in range(width):
                left = row[x - 1] if x else 0
                up, up_left = previous[x], (previous[x - 1] if x else 0)
                if kind == 3:
                    row[x] = (row[x] + (left + up) // 2) % 256
                else:
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                    row[x] = (row[x] + pred) % 256
        out[y] = row
        previous = row
    return out.astype(np.uint8)


def write_palette_png(path, ids):
    """An 8-bit palette PNG with the DAVIS palette, written to a temporary name and renamed."""
    height, width = ids.shape

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = np.concatenate([np.zeros((height, 1), np.uint8), ids.astype(np.uint8)], axis=1)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
           + chunk(b"PLTE", davis_palette().tobytes()) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
           + chunk(b"IEND", b""))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)


def object_ids(labels):
    """As eval vos: a mask whose only non-zero value is 255 is one object (1); otherwise 255 is void (0)."""
    values = set(np.unique(labels).tolist()) - {0}
    if 255 not in values:
        return labels
    return np.where(labels == 255, 1 if values == {255} else 0, labels).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("davis")
    parser.add_argument("out")
    add_dis_arguments(parser)
    args = parser.parse_args()

    dis = make_dis(args)
    annotations = os.path.join(args.davis, "Annotations", "480p")
    images = os.path.join(args.davis, "JPEGImages", "480p")
    if not os.path.isdir(annotations):
        sys.exit(f"{args.davis}: not a DAVIS folder (no Annotations/480p)")
    sequences = sorted(s for s in os.listdir(annotations) if not s.startswith("."))
    total, pairs = 0.0, 0
    for sequence in sequences:
        frames = sorted(f[:-4] for f in os.listdir(os.path.join(annotations, sequence)) if f.endswith(".png"))
        os.makedirs(os.path.join(args.out, sequence), exist_ok=True)
        mask = object_ids(read_label_png(os.path.join(annotations, sequence, frames[0] + ".png")))
        write_palette_png(os.path.join(args.out, sequence, frames[0] + ".png"), mask)
        previous = read_gray(os.path.join(images, sequence, frames[0] + ".jpg"))
        height, width = previous.shape
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        for frame in frames[1:]:
            current = read_gray(os.path.join(images, sequence, frame + ".jpg"))
            start = time.perf_counter()
            # Backward flow: for each pixel of frame t, where it was in frame t-1.
            flow = dis.calc(current, previous, None)
            total += time.perf_counter() - start
            pairs += 1
            mask = cv2.remap(mask, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            write_palette_png(os.path.join(args.out, sequence, frame + ".png"), mask)
            previous = current
        print(f"{sequence:24s} {len(frames)} frames")
    print(f"DIS {args.preset}, {args.threads} threads: {1000 * total / max(pairs, 1):.1f} ms per pair over {pairs} pairs")


if __name__ == "__main__":
    main()
