// swift-tools-version: 6.2
// libblip: BLIP on the CPU as a shared library with a stable C ABI (include/blip.h).
import PackageDescription

let root = Context.packageDirectory
// Unchecked arithmetic and exclusivity only where it is measured to matter: the kernels. Every
// target that parses untrusted input (safetensors, config.json, the int8 file, the tokenizer,
// image geometry, manifests, shards) keeps Swift's bounds and overflow checks.
let uncheckedKernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "libblip",
    products: [
        // libblip.so: only the blip_* C symbols are exported (exports.map), SONAME libblip.so.0.
        .library(name: "blip", type: .dynamic, targets: ["BlipLibrary"]),
        .executable(name: "blip-cli", targets: ["BlipCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The public header, imported into Swift so the C API layer shares its structs.
        .systemLibrary(name: "CBlip", path: "Sources/CBlip"),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // Tar (WebDataset shards) is read and written by libarchive, not by a parser of our own.
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        // C where C is unavoidable: libjpeg/libpng longjmp error handling, loading OpenBLAS
        // after choosing its core type, CPUID.
        // OpenBLAS is not a link dependency: blas_loader.c dlopens it (see the comment there).
        .target(name: "CBlipSupport", dependencies: ["CJPEG", "CPNG"],
                linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "BlipKernels", dependencies: ["CBlipSupport"], swiftSettings: uncheckedKernels),
        .target(name: "BlipCore", dependencies: ["BlipKernels", "CBlipSupport"]),
        // Datasets (manifests, augmentation, prefetching) and training: they parse untrusted
        // manifests and drive long jobs, so they keep Swift's bounds and overflow checks; the
        // hot loops they call live in BlipKernels.
        .target(name: "BlipData", dependencies: ["BlipCore", "CArchive"], exclude: ["README.md"]),
        // CapFilt: the caption-and-filter pipeline over Core's tasks and Data's readers/writers.
        .target(name: "BlipCapFilt", dependencies: ["BlipData", "BlipCore"], exclude: ["README.md"]),
        .target(name: "BlipTraining", dependencies: ["BlipData", "BlipCore", "BlipKernels"], exclude: ["README.md"]),
        .target(name: "BlipCAPI", dependencies: ["BlipCore", "BlipTraining", "BlipCapFilt", "CBlip", "CBlipSupport"]),
        // The shared library's link settings only (see SharedLibrary.swift for why apart).
        .target(name: "BlipLibrary", dependencies: ["BlipCAPI"], exclude: ["exports.map"],
                linkerSettings: [.unsafeFlags(["-Xlinker", "-soname=libblip.so.0",
                                               "-Xlinker", "--version-script=\(root)/Sources/BlipLibrary/exports.map"])]),
        .executableTarget(name: "BlipCLI", dependencies: [
            "BlipCore", "BlipTraining", "BlipCapFilt", "CBlip", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The vision encoder's GEMMs on the packed kernel and OpenBLAS, and the attention kernels' rates (bench/gemm_bench/main.swift).
        .executableTarget(name: "GemmBench", dependencies: ["BlipKernels"], path: "bench/gemm_bench"),
        // Fuzz targets over the parsers of untrusted input (Tests/fuzz/README.md). An ordinary
        // build replays the committed corpora (`make test`); Tests/fuzz/run.sh builds it with
        // libFuzzer and AddressSanitizer.
        .executableTarget(name: "BlipFuzz", dependencies: ["BlipCore", "BlipData", "BlipCAPI", "CBlip"], path: "Tests/fuzz/BlipFuzz"),
        .testTarget(name: "BlipCoreTests", dependencies: ["BlipCore", "BlipKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BlipTrainingTests", dependencies: ["BlipTraining", "BlipData", "BlipCore", "BlipKernels"],
                    resources: [.copy("Fixtures")]),
        // Uses BlipCoreTests' fixture models and photos by path (no second copy of them).
        .testTarget(name: "BlipCapFiltTests", dependencies: ["BlipCapFilt", "BlipData", "BlipCore"]),
    ],
    // Swift 5 mode: the model is immutable and shared across threads by design (blip.h's
    // thread-safety rule); raw-pointer kernels do not fit strict Sendable checking.
    swiftLanguageModes: [.v5]
)
