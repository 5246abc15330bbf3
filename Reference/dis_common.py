"""What the OpenCV DIS baselines share: presets, grayscale loading, and the --preset/--threads options.

Used by dis_baseline.py (flow on an evaluation set) and vos_baselines.py (DIS mask warping on DAVIS).
"""
import sys

import cv2

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def add_dis_arguments(parser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="medium")
    parser.add_argument("--threads", type=int, default=2)


def make_dis(args):
    """A DIS instance for args.preset, with OpenCV limited to args.threads threads."""
    cv2.setNumThreads(args.threads)
    return cv2.DISOpticalFlow_create(PRESETS[args.preset])


def read_gray(path):
    """An image file as 8-bit grayscale; exits with a one-line error naming the file if it cannot be read.

    cvtColor, not IMREAD_GRAYSCALE: libpng's grey conversion rounds differently, and DIS is sensitive enough to
    that to move the mean EPE on flow-dev by up to 0.9 px (medium: 12.69 vs 11.78).
    """
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        sys.exit(f"{path}: cannot be read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
