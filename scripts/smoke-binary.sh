#!/usr/bin/env bash
# Smoke test of a built vidkompy binary: scripts/smoke-binary.sh BINARY
#
# Runs BINARY from an empty temp folder with a clean environment (no DENO_DIR, no repo, no cache)
# on the `deno task demo` pair, made here with ffmpeg: bg 960x540 30 fps 8 s with a tone, fg its
# 480x270 crop at (240,136) from 1.5 s, 5 s long, brightened. Checks that `comp --json` exits 0,
# writes the output with exactly fg's frame count, and reports x=240 y=136 (±1) and a time
# offset of 1.5 s (±0.05). Exits non-zero on any failure. Needs ffmpeg, ffprobe and python3.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY" >&2
  exit 2
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[ -x "$bin" ] || { echo "smoke: $1 is not an executable file" >&2; exit 2; }
for t in ffmpeg ffprobe python3; do
  command -v "$t" >/dev/null 2>&1 || { echo "smoke: $t not found on PATH" >&2; exit 2; }
done
ffmpeg_bin="$(command -v ffmpeg)"
ffprobe_bin="$(command -v ffprobe)"
tool_dirs="$(dirname "$ffmpeg_bin"):$(dirname "$ffprobe_bin")"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vidkompy-smoke.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ff() { "$ffmpeg_bin" -hide_banner -nostdin -v error -y "$@"; }
ff -f lavfi -i "testsrc2=s=960x540:r=30,noise=alls=6:allf=t" \
  -f lavfi -i "sine=f=440:sample_rate=48000" -t 8 \
  -c:v libx264 -crf 26 -preset veryfast -pix_fmt yuv420p -c:a aac bg.mp4
ff -ss 1.5 -i bg.mp4 -t 5 -an -vf "crop=480:270:240:136,eq=brightness=0.06:contrast=1.1" \
  -c:v libx264 -crf 16 -preset veryfast -pix_fmt yuv420p fg.mp4

frames() {
  "$ffprobe_bin" -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets \
    -of csv=p=0 "$1"
}

status=0
env -i "PATH=/usr/bin:/bin:$tool_dirs" "HOME=$tmp" \
  "$bin" comp --bg bg.mp4 --fg fg.mp4 -o out.mp4 --json >report.json 2>stderr.txt || status=$?
if [ "$status" -ne 0 ]; then
  echo "smoke: FAIL: '$bin comp' exited $status" >&2
  cat stderr.txt >&2
  exit 1
fi
[ -s out.mp4 ] || { echo "smoke: FAIL: out.mp4 was not written" >&2; exit 1; }

fg_frames="$(frames fg.mp4)"
out_frames="$(frames out.mp4)"
if [ "$fg_frames" != "$out_frames" ]; then
  echo "smoke: FAIL: out.mp4 has $out_frames frames, fg has $fg_frames" >&2
  exit 1
fi

python3 - report.json <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    r = json.load(f)

def find(obj, key):
    """First value of `key` in a nested dict, preferring the alignment's spatial/temporal parts."""
    if isinstance(obj, dict):
        if key in obj and not isinstance(obj[key], (dict, list)):
            return obj[key]
        for v in obj.values():
            got = find(v, key)
            if got is not None:
                return got
    elif isinstance(obj, list):
        for v in obj:
            got = find(v, key)
            if got is not None:
                return got
    return None

def sub(obj, key):
    if isinstance(obj, dict):
        if key in obj and isinstance(obj[key], dict):
            return obj[key]
        for v in obj.values():
            got = sub(v, key)
            if got is not None:
                return got
    return None

sp = sub(r, "spatial") or r
tm = sub(r, "temporal") or r
x, y, off = find(sp, "x"), find(sp, "y"), find(tm, "offset")
errors = []
if not isinstance(x, (int, float)) or abs(x - 240) > 1:
    errors.append(f"x={x}, expected 240±1")
if not isinstance(y, (int, float)) or abs(y - 136) > 1:
    errors.append(f"y={y}, expected 136±1")
if not isinstance(off, (int, float)) or abs(off - 1.5) > 0.05:
    errors.append(f"offset={off}, expected 1.5±0.05")
if errors:
    print("smoke: FAIL: " + "; ".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"smoke: alignment x={x} y={y} offset={off}", file=sys.stderr)
PY
echo "smoke: OK: $out_frames frames, alignment as expected ($bin)" >&2
