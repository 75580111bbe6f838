#!/usr/bin/env bash
# Makes src/impasto/data/clips/street.mp4, the bundled demo and test clip (`make clip`): 3 s
# (30 frames at 10 fps, frames 560-589) of vtest.avi, OpenCV's 768x576 street scene from
# Debian's opencv-doc package (examples/data/vtest.avi; "Files: *" in its copyright file:
# Apache-2.0 AND BSD-3-Clause), scaled to a long side of 384 px and written as H.264 by
# impasto's own reader and writer. Frames 560-589 have people walking near the camera.
#
# The package comes from Debian's archive (apt-get download; run `apt-get update` first on a
# fresh machine), or from the .deb named by OPENCV_DOC_DEB. The version used is printed, to be
# recorded in src/impasto/data/clips/SOURCES.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=src/impasto/data/clips/street.mp4
START=${START:-560}
FRAMES=${FRAMES:-30}
SIZE=${SIZE:-384}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${OPENCV_DOC_DEB:-}" ]; then
    deb=$OPENCV_DOC_DEB
else
    (cd "$work" && apt-get download opencv-doc)
    deb=$(ls "$work"/opencv-doc_*.deb)
fi
dpkg-deb -x "$deb" "$work/x"
source="$work/x/usr/share/doc/opencv-doc/examples/data/vtest.avi"
echo "source: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version), $(sha256sum "$source" | cut -c1-64)"

"$PYTHON" - "$source" "$OUT" "$START" "$FRAMES" "$SIZE" <<'PY'
import sys

from impasto.video.frames import VideoWriter, check_range, probe, read_frames

source, out, start, count, size = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
info = probe(source)
frames = check_range(info, start, start + count)
with VideoWriter(out, info.fps) as writer:
    for frame in read_frames(source, frames, size=size):
        writer.write(frame)
made = probe(out)
print(f"wrote {out}: {made.width}x{made.height}, {made.frames} frames at {made.fps:g} fps")
PY
ls -l "$OUT"
