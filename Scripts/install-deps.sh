#!/usr/bin/env bash
# Installs the Debian packages mcjepa-video builds against (FFmpeg 5.1 with libx264, OpenBLAS, OpenCV's video module).
# Idempotent: does nothing when they are already present.
set -euo pipefail
packages=(libavcodec-dev libavformat-dev libswscale-dev libavutil-dev libopenblas-dev libopencv-video-dev pkg-config ffmpeg)
# For the tests only: zzuf mutates files for Scripts/fuzz.sh (the run-time image does not need it).
fuzzing=(zzuf)
missing=()
for p in "${packages[@]}" "${fuzzing[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
