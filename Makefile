# libblip — build, test and install.
#   make                 release build: build/lib/libblip.so.0 (Swift runtime inside), build/bin/blip
#   make test            every test: Swift unit/golden tests, C ABI tests, examples
#   make install PREFIX=/usr/local
PREFIX ?= /usr/local
BUILD := build
# pkg-config tells where OpenBLAS lives; libblip dlopens it from there at run time.
OPENBLAS_LIBDIR := $(shell pkg-config --variable=libdir openblas 2>/dev/null)
SWIFT_RELEASE := swift build -c release -Xswiftc -static-stdlib \
	$(if $(OPENBLAS_LIBDIR),-Xcc -DBLIP_OPENBLAS_LIBDIR='"$(OPENBLAS_LIBDIR)"')
CC ?= cc
# The version is written once, in include/blip.h (the library and the CLI read the same macros).
VERSION := $(shell sed -n 's/^\#define BLIP_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/blip.h | paste -sd. -)

.PHONY: all release test test-swift test-c test-python test-fuzz-corpus test-fuzz-short test-sanitizers python examples install clean

all: release

# -static-stdlib puts the Swift runtime inside libblip.so and the blip binary, so neither needs
# a Swift toolchain at run time. (It is not in Package.swift: it would break `swift test`.)
release:
	$(SWIFT_RELEASE)
	mkdir -p $(BUILD)/lib $(BUILD)/bin $(BUILD)/include $(BUILD)/pkgconfig
	# copy, then rename: a running blip keeps its old file instead of failing the build
	cp .build/release/libblip.so $(BUILD)/lib/libblip.so.0.new && mv -f $(BUILD)/lib/libblip.so.0.new $(BUILD)/lib/libblip.so.0
	ln -sf libblip.so.0 $(BUILD)/lib/libblip.so
	cp .build/release/blip-cli $(BUILD)/bin/blip.new && mv -f $(BUILD)/bin/blip.new $(BUILD)/bin/blip
	cp include/blip.h $(BUILD)/include/blip.h

test: test-swift test-c test-python test-fuzz-corpus examples test-sanitizers test-fuzz-short

test-swift:
	swift build --build-tests
	swift test --skip-build

# The committed fuzz corpora, replayed through an ordinary build of the fuzz targets: every input
# that once found a problem (and every seed) stays a regression test. Fuzzing: Tests/fuzz/run.sh.
FUZZ_TARGETS := safetensors config int8 image tokenizer manifest webdataset generation
test-fuzz-corpus: release
	for t in $(FUZZ_TARGETS); do .build/release/BlipFuzz $$t Tests/fuzz/corpus/$$t || exit 1; done

# A short libFuzzer run of every target (AddressSanitizer on), from the committed seeds: new
# code that breaks a parser on inputs near the seeds fails here. Long runs: Tests/fuzz/run.sh.
FUZZ_SHORT_SECONDS ?= 15
test-fuzz-short:
	sh Tests/fuzz/run.sh all $(FUZZ_SHORT_SECONDS)

# The Swift tests under AddressSanitizer (with LeakSanitizer; Tests/sanitizers/lsan.supp lists
# the only allowed leaks, none of them libblip's) with UndefinedBehaviorSanitizer on the C code
# (Swift on Linux has no UBSan; its own checks stay on outside the kernels), the multithreaded
# suites under ThreadSanitizer, and the CLI's three tasks plus every seed image under valgrind,
# which also sees libjpeg, libpng and OpenBLAS. Separate build folders (.build-asan, .build-tsan).
# The ASan build is optimized (-c release, with -enable-testing for the tests' @testable imports):
# ASan checks every memory access the optimized code makes, and the suite ran in 60 s instead of
# 951 s unoptimized (Zen 3, 2 cores: most of CI's time); the build took 4.3 minutes on a clean CI run.
ASAN := -c release -Xswiftc -enable-testing --scratch-path .build-asan --sanitize=address -Xcc -fsanitize=undefined \
	-Xcc -fno-sanitize-recover=undefined -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined
ASAN_C := $(BUILD)/asan
ASAN_CC := clang -std=c99 -g -Wall -Werror -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fuse-ld=lld -Iinclude
ASAN_LINK := -L$(ASAN_C) -l:libblip.so.0
ASAN_RUN := LD_LIBRARY_PATH=$(ASAN_C) LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/sanitizers/lsan.supp
TSAN := --scratch-path .build-tsan --sanitize=thread
TSAN_SUITES := ParallelismTests|CapFiltPipelineTests|BatchLoaderTests|KernelGradientTests
# Debian 12's valgrind 3.19 cannot read the DWARF 5 that Swift's clang writes: it runs stripped
# copies. The C example must end with nothing definitely or indirectly lost ("possibly lost" are
# the thread-local blocks of worker threads still parked at exit).
VALGRIND := valgrind --error-exitcode=99 --leak-check=no --quiet
VALGRIND_LEAKS := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --quiet
VDIR := $(BUILD)/valgrind
VBLIP := $(VDIR)/blip
FIX := Tests/BlipCoreTests/Fixtures
test-sanitizers: release
	swift build --build-tests $(ASAN)
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/sanitizers/lsan.supp swift test --skip-build $(ASAN)
	# The C ABI tests and the C examples, compiled with clang's ASan + UBSan, against the ASan
	# build of libblip.so (its SONAME is libblip.so.0: a link of that name in $(ASAN_C)).
	swift build $(ASAN) --product blip
	mkdir -p $(ASAN_C) && ln -sf $(CURDIR)/.build-asan/release/libblip.so $(ASAN_C)/libblip.so.0
	$(ASAN_CC) Tests/capi/test_capi.c $(ASAN_LINK) -lpthread -lm -o $(ASAN_C)/test_capi
	$(ASAN_CC) Examples/c/caption.c $(ASAN_LINK) -o $(ASAN_C)/caption
	$(ASAN_CC) -D_POSIX_C_SOURCE=199309L Examples/c/frames.c $(ASAN_LINK) -lm -o $(ASAN_C)/frames
	BLIP_CAPI_EXPECTED=Tests/capi/expected_itm_embeddings.txt $(ASAN_RUN) $(ASAN_C)/test_capi $(CURDIR)/$(FIX) $(CURDIR)/Tests/BlipTrainingTests/Fixtures
	$(ASAN_RUN) $(ASAN_C)/caption $(FIX)/models/captioning Examples/images/* > /dev/null
	$(ASAN_RUN) $(ASAN_C)/frames $(FIX)/models/captioning 3 320 180 > /dev/null
	swift build --build-tests $(TSAN)
	swift test --skip-build $(TSAN) --filter '$(TSAN_SUITES)'
	mkdir -p $(VDIR)
	strip -o $(VBLIP) $(BUILD)/bin/blip
	strip -o $(VDIR)/libblip.so.0 $(BUILD)/lib/libblip.so.0
	$(CC) -std=c99 -Wall -Werror Examples/c/caption.c -Iinclude -L$(BUILD)/lib -l:libblip.so.0 -o $(VDIR)/caption
	LD_LIBRARY_PATH=$(VDIR) $(VALGRIND_LEAKS) $(VDIR)/caption $(FIX)/models/captioning Examples/images/cat.jpg Examples/images/coffee.png > /dev/null
	$(VALGRIND) $(VBLIP) caption --model $(FIX)/models/captioning --beams 2 $(FIX)/photos/chelsea.png > /dev/null
	$(VALGRIND) $(VBLIP) answer --model $(FIX)/models/vqa-gen --question "what is it?" $(FIX)/photos/coffee.jpg > /dev/null
	$(VALGRIND) $(VBLIP) match --model $(FIX)/models/itm --text "a cat" $(FIX)/photos/camera_gray.png > /dev/null
	for f in Tests/fuzz/corpus/image/*; do $(VALGRIND) $(VBLIP) caption --model $(FIX)/models/captioning --max-length 3 $$f > /dev/null 2>&1; \
		[ $$? -ne 99 ] || { echo "valgrind: errors on $$f"; exit 1; }; done
	@echo "sanitizers and valgrind: clean"

test-c: release
	sh Tests/capi/run.sh $(BUILD)

# The Python package, carrying a copy of the library (pure Python + ctypes: no compiler needed).
python: release
	cp $(BUILD)/lib/libblip.so.0 Bindings/python/blip/libblip.so.0
	python3 -m pip install --quiet ./Bindings/python

test-python: python
	cd Bindings/python && BLIP_CLI=$(CURDIR)/$(BUILD)/bin/blip python3 -m pytest -q tests
	python3 -m pytest -q scripts/scene_world scripts/test_capfilt_experiment.py scripts/test_probe_scene_shapes.py scripts/test_probe_filter_pairs.py

# Builds the C examples against an installed copy (as a user would, via pkg-config) and runs
# them and the Python examples on the bundled images with the bundled tiny models.
examples: python
	rm -rf $(BUILD)/prefix && $(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD)/prefix > /dev/null
	sh Examples/run.sh $(CURDIR)/$(BUILD)/prefix

install: release
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/lib/libblip.so.0 $(DESTDIR)$(PREFIX)/lib/libblip.so.0
	ln -sf libblip.so.0 $(DESTDIR)$(PREFIX)/lib/libblip.so
	install -m 644 include/blip.h $(DESTDIR)$(PREFIX)/include/blip.h
	install -m 755 $(BUILD)/bin/blip $(DESTDIR)$(PREFIX)/bin/blip
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' Bindings/pkgconfig/blip.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/blip.pc

clean:
	rm -rf $(BUILD) .build
