#!/bin/sh
# Coverage-guided fuzzing of libblip's parsers with libFuzzer and AddressSanitizer.
#
#   sh Tests/fuzz/run.sh TARGET [SECONDS] [JOBS]     e.g. sh Tests/fuzz/run.sh safetensors 1800
#   sh Tests/fuzz/run.sh all 1800                    every target, one after the other
#
# Builds BlipFuzz with -sanitize=fuzzer,address (Swift) and -fsanitize=fuzzer-no-link,address
# (C: the PNG/JPEG glue) into .build-fuzz, then runs TARGET for SECONDS (default 60) starting
# from the committed seeds in Tests/fuzz/corpus/TARGET. Inputs that reach new code are kept in
# .build-fuzz/corpus/TARGET (merge the useful ones into the committed corpus with
# `-merge=1`); a crash, leak, sanitizer report or a hang (30 s per input; 120 s for generation) stops the run and leaves the input
# in .build-fuzz/crashes/TARGET/, and this script exits non-zero.
set -eu
TARGET=${1:?usage: run.sh TARGET|all [SECONDS] [JOBS]}
SECONDS_PER_TARGET=${2:-60}
JOBS=${3:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD="$ROOT/.build-fuzz"
TARGETS="safetensors config int8 image tokenizer manifest webdataset generation"

swift build -c release --scratch-path "$BUILD" --product BlipFuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DBLIP_FUZZING \
    -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >&2
BIN="$BUILD/release/BlipFuzz"
# libFuzzer's -jobs writes fuzz-N.log into the current folder: only ask for it when wanted.
PARALLEL=""
[ "$JOBS" -gt 1 ] && PARALLEL="-jobs=$JOBS -workers=$JOBS"

run_one() {
    t=$1
    mkdir -p "$BUILD/corpus/$t" "$BUILD/crashes/$t"
    echo "fuzzing $t for $SECONDS_PER_TARGET s" >&2
    # 4 GB RSS and 30 s per input: the limits blip.h promises are far below both. Generation
    # inputs do real work in proportion to what they ask (up to 64 beams sampling with a top-p
    # sort of every beam's vocabulary row per token: 4 s in a release build, ten times that
    # under ASan on a shared core), so that target gets 120 s; a stall still shows.
    timeout=30
    [ "$t" = generation ] && timeout=120
    BLIP_FUZZ_TARGET=$t BLIP_FUZZ_FIXTURES="$ROOT/Tests/BlipCoreTests/Fixtures" \
        ASAN_OPTIONS=detect_leaks=0 \
        "$BIN" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -timeout=$timeout -max_len=1048576 \
        $PARALLEL -print_final_stats=1 \
        -artifact_prefix="$BUILD/crashes/$t/" "$BUILD/corpus/$t" "$ROOT/Tests/fuzz/corpus/$t"
}

if [ "$TARGET" = all ]; then
    for t in $TARGETS; do run_one "$t"; done
else
    run_one "$TARGET"
fi
