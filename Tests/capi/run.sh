#!/bin/sh
# C ABI checks against a release build laid out as `make` leaves it (BUILD=build):
#  1. blip.h compiles alone as strict C99 (and as C++);
#  2. libblip.so exports exactly the functions blip.h declares, has SONAME libblip.so.0 and
#     no dependency on a Swift runtime;
#  3. a C program links libblip.so and passes test_capi.c (inference, finetuning, CapFilt).
set -eu
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB="$ROOT/$BUILD/lib/libblip.so.0"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf '#include "blip.h"\nint main(void){return 0;}\n' > "$TMP/h.c"
cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$ROOT/include" -c "$TMP/h.c" -o "$TMP/h.o"
if command -v c++ >/dev/null; then
    c++ -x c++ -Wall -Werror -I"$ROOT/include" -c "$TMP/h.c" -o "$TMP/hpp.o"
fi
echo "blip.h compiles as C99 (-Wall -Wextra -Werror -pedantic)"

sed -n 's/^BLIP_API[^(]*[ *]\(blip_[a-z0-9_]*\)(.*/\1/p' "$ROOT/include/blip.h" | sort -u > "$TMP/declared"
# global or weak, defined symbols of the dynamic table (local entries are not exported)
readelf --dyn-syms -W "$LIB" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" {sub(/@.*/, "", $8); print $8}' | sort -u > "$TMP/exported"
if ! diff "$TMP/declared" "$TMP/exported" > "$TMP/diff"; then
    echo "declared (<) and exported (>) symbols differ:"; cat "$TMP/diff"; exit 1
fi
echo "libblip.so exports exactly the $(wc -l < "$TMP/declared") functions blip.h declares"
readelf -d "$LIB" | grep -q 'SONAME.*libblip.so.0' || { echo "SONAME is not libblip.so.0"; exit 1; }
if readelf -d "$LIB" | grep NEEDED | grep -q swift; then echo "libblip.so needs a Swift runtime library"; exit 1; fi
# OpenBLAS must be loaded by libblip itself (after choosing its kernels), never as a NEEDED entry
if readelf -d "$LIB" | grep NEEDED | grep -q openblas; then echo "libblip.so links OpenBLAS directly (it must dlopen it)"; exit 1; fi
echo "SONAME libblip.so.0, no libswift* dependency, OpenBLAS loaded at run time"

cc -std=c99 -Wall -Wextra -Werror -I"$ROOT/include" "$HERE/test_capi.c" -L"$ROOT/$BUILD/lib" -lblip -lpthread -lm \
   -Wl,-rpath,"$ROOT/$BUILD/lib" -o "$TMP/test_capi"
BLIP_CAPI_EXPECTED="$HERE/expected_itm_embeddings.txt" "$TMP/test_capi" "$ROOT/Tests/BlipCoreTests/Fixtures" "$ROOT/Tests/BlipTrainingTests/Fixtures"
