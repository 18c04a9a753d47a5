#!/usr/bin/env bash
# Regenerates the upstream simulator's media assets in src/simulator/assets/.
#
# The files are committed; the simulator only reads them at runtime and never needs ffmpeg.
# Run this only to change the assets (needs ffmpeg with libx264 and libwebp, e.g. Debian's
# `apt-get install -y ffmpeg`).
#
#   sample.mp4       2 s, 360x640 (portrait, like sora's default 720x1280), 24 fps, H.264 main
#                    profile, yuv420p, moov atom up front (+faststart) so it plays while streaming
#   thumbnail.webp   the first frame of sample.mp4, 360x640
#   spritesheet.jpg  a 4x2 grid of frames (every 0.25 s), each 90x160
set -euo pipefail

cd "$(dirname "$0")/../src/simulator/assets"

SRC="testsrc2=size=360x640:rate=24:duration=2"
LABEL="drawtext=text='reelay simulator':x=(w-text_w)/2:y=h-60:fontsize=22:fontcolor=white:box=1:boxcolor=black@0.6"

# drawtext needs a font; fall back to the plain test pattern when none is available.
if ffmpeg -hide_banner -loglevel error -f lavfi -i "color=size=16x16:duration=0.1" -vf "$LABEL" -f null - 2>/dev/null; then
  VF="$LABEL,format=yuv420p"
else
  VF="format=yuv420p"
fi

ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$SRC" -vf "$VF" \
  -c:v libx264 -profile:v main -preset veryslow -crf 32 -g 48 -movflags +faststart -an \
  sample.mp4

ffmpeg -hide_banner -loglevel error -y -i sample.mp4 -frames:v 1 \
  -c:v libwebp -quality 60 thumbnail.webp

ffmpeg -hide_banner -loglevel error -y -i sample.mp4 \
  -vf "fps=4,scale=90:160,tile=4x2" -frames:v 1 -q:v 5 spritesheet.jpg

for f in sample.mp4 thumbnail.webp spritesheet.jpg; do
  ffprobe -v error -show_entries format=format_name,duration:stream=codec_name,profile,pix_fmt,width,height,nb_frames \
    -of compact "$f"
done
ls -l sample.mp4 thumbnail.webp spritesheet.jpg
