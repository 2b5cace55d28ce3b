#!/bin/sh
# Builds and runs every example against an installed libblip (PREFIX given as $1), the way a
# user would: C through pkg-config, Python through the installed package. Run by `make examples`.
set -eu
PREFIX=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MODELS=$ROOT/Tests/BlipCoreTests/Fixtures/models
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig

cc -std=c99 -Wall -Werror "$HERE/c/caption.c" $(pkg-config --cflags --libs blip) -o "$TMP/caption"
cc -std=c99 -D_POSIX_C_SOURCE=199309L -Wall -Werror "$HERE/c/frames.c" $(pkg-config --cflags --libs blip) -lm -o "$TMP/frames"

# No Swift toolchain on the library path: the installed library must carry its runtime.
env -i LD_LIBRARY_PATH="$PREFIX/lib" "$TMP/caption" "$MODELS/captioning" "$ROOT"/Examples/images/*
env -i LD_LIBRARY_PATH="$PREFIX/lib" "$TMP/frames" "$MODELS/captioning" 3 320 180

python3 "$HERE/python/caption_folder.py" "$MODELS/captioning" "$ROOT/Examples/images" --out "$TMP/captions.jsonl"
test "$(wc -l < "$TMP/captions.jsonl")" -eq 3
python3 "$HERE/python/image_search.py" "$MODELS/itm" "$ROOT/Examples/images" "a cat" --top 2 --rerank
# the bundled scene filter finds the scene a text describes
python3 "$HERE/python/image_search.py" "$ROOT/Examples/models/match" "$ROOT/Examples/scenes" "two large red circles" \
    --top 1 --rerank > "$TMP/search.txt"
cat "$TMP/search.txt"
grep -q "example_000004.png" "$TMP/search.txt"
echo "examples ran"
