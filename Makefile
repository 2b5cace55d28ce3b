# libblip — build, test and install.
#   make                 release build: build/lib/libblip.so.0 (Swift runtime inside), build/bin/blip
#   make test            every test: Swift unit/golden tests, C ABI tests, examples
#   make install PREFIX=/usr/local
PREFIX ?= /usr/local
BUILD := build
SWIFT_RELEASE := swift build -c release -Xswiftc -static-stdlib
CC ?= cc

.PHONY: all release test test-swift test-c install clean

all: release

# -static-stdlib puts the Swift runtime inside libblip.so and the blip binary, so neither needs
# a Swift toolchain at run time. (It is not in Package.swift: it would break `swift test`.)
release:
	$(SWIFT_RELEASE)
	mkdir -p $(BUILD)/lib $(BUILD)/bin $(BUILD)/include $(BUILD)/pkgconfig
	cp .build/release/libblip.so $(BUILD)/lib/libblip.so.0
	ln -sf libblip.so.0 $(BUILD)/lib/libblip.so
	cp .build/release/blip-cli $(BUILD)/bin/blip
	cp include/blip.h $(BUILD)/include/blip.h

test: test-swift test-c

test-swift:
	swift build --build-tests
	swift test --skip-build

test-c: release
	sh Tests/capi/run.sh $(BUILD)

install: release
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/lib/libblip.so.0 $(DESTDIR)$(PREFIX)/lib/libblip.so.0
	ln -sf libblip.so.0 $(DESTDIR)$(PREFIX)/lib/libblip.so
	install -m 644 include/blip.h $(DESTDIR)$(PREFIX)/include/blip.h
	install -m 755 $(BUILD)/bin/blip $(DESTDIR)$(PREFIX)/bin/blip
	sed -e 's|@PREFIX@|$(PREFIX)|' Bindings/pkgconfig/blip.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/blip.pc

clean:
	rm -rf $(BUILD) .build
