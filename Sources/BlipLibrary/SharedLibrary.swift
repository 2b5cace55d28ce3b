// libblip.so: this target holds nothing but the shared library's link settings (SONAME and the
// export list in exports.map). They live apart from BlipCAPI, whose functions they export,
// because a target's linker flags apply to every binary that links it: the fuzz harness links
// BlipCAPI too, and under a version script that hides every other symbol AddressSanitizer's
// malloc interceptors would no longer be visible to the Swift runtime.
@_exported import BlipCAPI
