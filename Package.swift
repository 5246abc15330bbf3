// swift-tools-version:6.0
import PackageDescription

// One direction of flow: CFFmpeg/COpenBLAS/CSIMDMath (C), AtomicOutput -> VideoIO, NN -> FlowIO (its PNGs through
// VideoIO) -> FlowRefinement -> MCJEPA -> VideoPipeline -> the CLI.
let package = Package(
    name: "mcjepa-video",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mcjepa-video", targets: ["mcjepa-video"]),
        .library(name: "VideoIO", targets: ["VideoIO"]),
        .library(name: "FlowIO", targets: ["FlowIO"]),
        .library(name: "FlowRefinement", targets: ["FlowRefinement"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "MCJEPA", targets: ["MCJEPA"]),
        .library(name: "Dataset", targets: ["Dataset"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Segmentation", targets: ["Segmentation"]),
        .library(name: "VideoPipeline", targets: ["VideoPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavcodec-dev", "libavformat-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Writing outputs: one temporary-name scheme, renames that never clobber, cleanup on interrupt.
        .target(name: "AtomicOutput"),
        .target(name: "VideoIO", dependencies: ["CFFmpeg", "AtomicOutput"]),
        .target(name: "FlowIO", dependencies: ["VideoIO", "AtomicOutput"]),
        .target(name: "CSIMDMath"),
        // OpenCV's DIS (Debian libopencv-video-dev) behind a C interface; only its three libraries are linked.
        .target(
            name: "CDISFlow",
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])],
            linkerSettings: [.linkedLibrary("opencv_video"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_core")]
        ),
        .target(name: "FlowRefinement", dependencies: ["FlowIO", "CSIMDMath", "CDISFlow"]),
        .target(name: "NN", dependencies: ["COpenBLAS", "AtomicOutput"]),
        .target(name: "Dataset", dependencies: ["VideoIO", "CFFmpeg", "AtomicOutput"]),
        .target(name: "Segmentation", dependencies: ["FlowIO", "VideoIO", "NN"]),
        .target(name: "Pipeline", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "MCJEPA", dependencies: ["NN", "FlowIO", "FlowRefinement", "AtomicOutput"], resources: [.copy("Weights")]),
        // Frame sources -> the network -> sinks, decoding, computing and writing concurrently; what every
        // command that reads video runs on.
        .target(name: "VideoPipeline", dependencies: [
            "VideoIO", "FlowIO", "FlowRefinement", "MCJEPA", "Dataset", "Segmentation", "AtomicOutput",
            .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
        ]),
        .executableTarget(
            name: "mcjepa-video",
            dependencies: [
                "VideoIO", "FlowIO", "FlowRefinement", "NN", "MCJEPA", "Dataset", "Pipeline", "Segmentation", "VideoPipeline",
                "AtomicOutput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks print a figure and a ratio against a peer measured in the same run; not part of the tests.
        .executableTarget(
            name: "mcjepa-bench",
            dependencies: [
                "VideoIO", "FlowIO", "FlowRefinement", "NN", "MCJEPA", "Dataset", "VideoPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Finding and running the built CLI, shared by the end-to-end tests of every target.
        .target(name: "CommandLineTestSupport", path: "Tests/CommandLineTestSupport"),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO", "CFFmpeg", "CommandLineTestSupport"]),
        .testTarget(name: "FlowIOTests", dependencies: ["FlowIO", "CommandLineTestSupport"]),
        .testTarget(name: "FlowRefinementTests", dependencies: ["FlowRefinement", "CDISFlow", "CSIMDMath", "FlowIO", "NN"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "CommandLineTestSupport"]),
        .testTarget(name: "SegmentationTests", dependencies: ["Segmentation", "VideoIO", "NN", "CommandLineTestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "CommandLineTestSupport"]),
        .testTarget(name: "MCJEPATests", dependencies: ["MCJEPA", "VideoIO", "FlowIO", "Dataset", "FlowRefinement", "NN", "CommandLineTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "VideoPipelineTests", dependencies: ["VideoPipeline", "VideoIO", "FlowIO", "MCJEPA", "NN", "CommandLineTestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN"], resources: [.copy("Fixtures")]),
        // Hostile input, interrupted and failed runs, resource limits: the tool's refusals, end to end.
        .testTarget(name: "ReliabilityTests", dependencies: ["CommandLineTestSupport", "AtomicOutput"]),
    ],
    swiftLanguageModes: [.v6]
)
