#!/usr/bin/env bash
# Regenerate the spoken audio for the listening exercises of this course.
#
# For every exercise with `type: listening` in course.yaml, speaks its
# `answer` with espeak-ng and writes three files into audio/:
#
#   audio/<exercise-key>-low.mp3     MP3, mono, 16 kHz, 32 kbit/s
#   audio/<exercise-key>-medium.mp3  MP3, mono, 22.05 kHz, 64 kbit/s
#   audio/<exercise-key>-high.ogg    Ogg Vorbis, mono, 22.05 kHz, ~80 kbit/s
#
# The course document must list these files in the exercise's `audio:`
# (see content/README.md). The generated files are committed; nothing at
# build or test time needs espeak-ng or ffmpeg.
#
# Usage:
#   ./generate_audio.sh              # every listening exercise
#   ./generate_audio.sh KEY [KEY…]   # only these exercise keys
#
# Needs: espeak-ng, ffmpeg/ffprobe (Debian: apt-get install espeak-ng ffmpeg)
# and a Python 3 with PyYAML (set PYTHON=/path/to/python to choose one).
# Output is bit-exact (no encoder tags, fixed Ogg serial), so re-running
# with the same tool versions does not change the committed files.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COURSE="$HERE/course.yaml"
OUT="$HERE/audio"
PYTHON="${PYTHON:-python3}"

VOICE="${VOICE:-es}"     # espeak-ng Castilian Spanish
SPEED="${SPEED:-140}"    # words per minute (espeak-ng default is 175)

for tool in espeak-ng ffmpeg ffprobe "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "error: '$tool' not found" >&2; exit 1; }
done
"$PYTHON" -c 'import yaml' 2>/dev/null \
  || { echo "error: $PYTHON has no PyYAML (pip install pyyaml, or set PYTHON)" >&2; exit 1; }

# key<TAB>sentence for each listening exercise (optionally filtered by key).
list_listening() {
  "$PYTHON" - "$COURSE" "$@" <<'PY'
import sys, yaml
course = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
wanted = set(sys.argv[2:])
found = set()
for section in course["sections"]:
    for unit in section["units"]:
        for lesson in unit["lessons"]:
            for ex in lesson["exercises"]:
                if ex.get("type") != "listening":
                    continue
                if wanted and ex["key"] not in wanted:
                    continue
                found.add(ex["key"])
                text = " ".join(ex["answer"].split())
                print(f'{ex["key"]}\t{text}')
missing = wanted - found
if missing:
    sys.exit("error: no listening exercise with key: " + ", ".join(sorted(missing)))
PY
}

# check FILE FORMAT_NAME CODEC — the file must really decode as declared.
check() {
  local fmt codec
  fmt="$(ffprobe -v error -show_entries format=format_name -of csv=p=0 "$1")"
  codec="$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$1")"
  if [ "$fmt" != "$2" ] || [ "$codec" != "$3" ]; then
    echo "error: $1 is $fmt/$codec, expected $2/$3" >&2
    exit 1
  fi
}

mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

entries="$(list_listening "$@")"
[ -n "$entries" ] || { echo "no listening exercises found" >&2; exit 1; }

count=0
while IFS=$'\t' read -r key text; do
  wav="$TMP/$key.wav"
  espeak-ng -v "$VOICE" -s "$SPEED" -w "$wav" -- "$text" </dev/null

  # Trim espeak-ng's trailing silence down to 0.15 s.
  trim="areverse,silenceremove=start_periods=1:start_threshold=-50dB:start_silence=0.15,areverse"
  common=(-nostdin -hide_banner -loglevel error -y -i "$wav" -map_metadata -1
          -fflags +bitexact -flags:a +bitexact -af "$trim" -ac 1)
  ffmpeg "${common[@]}" -ar 16000 -c:a libmp3lame -b:a 32k \
         -id3v2_version 0 "$OUT/$key-low.mp3"
  ffmpeg "${common[@]}" -ar 22050 -c:a libmp3lame -b:a 64k \
         -id3v2_version 0 "$OUT/$key-medium.mp3"
  ffmpeg "${common[@]}" -ar 22050 -c:a libvorbis -b:a 80k \
         "$OUT/$key-high.ogg"

  check "$OUT/$key-low.mp3" mp3 mp3
  check "$OUT/$key-medium.mp3" mp3 mp3
  check "$OUT/$key-high.ogg" ogg vorbis
  echo "ok  $key  \"$text\""
  count=$((count + 1))
done <<<"$entries"

echo "generated $((count * 3)) files for $count listening exercises in $OUT"
