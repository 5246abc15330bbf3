import ArgumentParser
import FlowRefinement
import MCJEPA

/// Benchmarks are not tests: each prints a figure and its ratio against a peer measured in the same run.
/// Usage: swift run -c release mcjepa-bench <name> [options]
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcjepa-bench",
        abstract: "Benchmarks: each prints a figure and its ratio against a peer measured in the same run.",
        subcommands: [DecodeBench.self, FlowSpeedBench.self, FlowIOBench.self, ModelBench.self, NNBench.self,
                      PipelineBench.self, PreprocessBench.self, RefineBench.self, SegmentBench.self, TrainBench.self,
                      VOSBench.self])
}

/// Two positive integers written `AxB`; each option says which is the width.
struct Dimensions: ExpressibleByArgument, CustomStringConvertible {
    let first: Int, second: Int

    init?(argument: String) {
        let parts = argument.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let first = parts[0], let second = parts[1], first >= 1, second >= 1 else { return nil }
        (self.first, self.second) = (first, second)
    }

    var description: String { "\(first)x\(second)" }
}

/// The model to time: a preset with the decoder's variants (shared by `model` and `train`).
struct BenchModelOptions: ParsableArguments {
    @Option(help: "Model preset.") var config = "tiny"
    @Option(help: "The decoder's finest level (default: the preset's).") var decoderStopLevel: Int?
    @Option(help: "Convex upsampler width, 0 for bilinear (default: the preset's).") var upsamplerWidth: Int?
    @Flag(inversion: .prefixedNo, help: "One flow estimator per decoded level, or one shared (default: the preset's).")
    var perLevelEstimators: Bool?
    @Option(help: "Iterations of the recurrent refinement, 0 for none (default: the preset's).") var refinementIterations: Int?
    @Option(help: "The refinement's width, with --refinement-iterations (default: \(ModelConfig.defaultRefinementWidth)).")
    var refinementWidth: Int?
    @Option(help: "Iterations of the fine head at 1/4, 0 for none (default: the preset's).") var fineIterations: Int?
    @Option(help: "The fine head's width, with --fine-iterations (default: \(ModelConfig.defaultFineWidth)).")
    var fineWidth: Int?

    func validate() throws {
        guard ModelConfig.presets[config] != nil else {
            let names = ModelConfig.presets.keys.sorted().joined(separator: ", ")
            throw ValidationError("--config must be one of \(names)")
        }
        if let decoderStopLevel, !(1...ModelConfig.levelCount).contains(decoderStopLevel) {
            throw ValidationError("--decoder-stop-level must be in 1...\(ModelConfig.levelCount)")
        }
        if let upsamplerWidth, !(0...1024).contains(upsamplerWidth) {
            throw ValidationError("--upsampler-width must be in 0...1024")
        }
        if let refinementIterations, !(0...64).contains(refinementIterations) {
            throw ValidationError("--refinement-iterations must be in 0...64")
        }
        if let refinementWidth, !(1...1024).contains(refinementWidth) {
            throw ValidationError("--refinement-width must be in 1...1024")
        }
        if let fineIterations, !(0...64).contains(fineIterations) {
            throw ValidationError("--fine-iterations must be in 0...64")
        }
        if let fineWidth, !(1...1024).contains(fineWidth) {
            throw ValidationError("--fine-width must be in 1...1024")
        }
        if let problem = model.validationError() { throw ValidationError("the network: \(problem)") }
    }

    var model: ModelConfig {
        var model = ModelConfig.presets[config]!
        model.decoderStopLevel = decoderStopLevel ?? model.decoderStopLevel
        model.upsamplerWidth = upsamplerWidth ?? model.upsamplerWidth
        model.perLevelEstimators = perLevelEstimators ?? model.perLevelEstimators
        model.refinementIterations = refinementIterations ?? model.refinementIterations
        model.refinementWidth = model.refinementIterations == 0 ? 0
            : refinementWidth ?? (model.refinementWidth > 0 ? model.refinementWidth : ModelConfig.defaultRefinementWidth)
        model.fineIterations = fineIterations ?? model.fineIterations
        model.fineWidth = model.fineIterations == 0 ? 0
            : fineWidth ?? (model.fineWidth > 0 ? model.fineWidth : ModelConfig.defaultFineWidth)
        return model
    }
}

struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode + RGB frames/s of VideoReader against the ffmpeg CLI, then peak RSS over long decodes.")
    @Argument(help: "Video files (default: Samples/motion.mov, a 720p clip made in /tmp, shared/data's phone clip).")
    var files: [String] = []

    func run() throws { try decodeBenchmark(files) }
}

struct FlowSpeedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Pairs/s of the network alone and the default flow against OpenCV DIS medium on the same frames.")
    @Option(help: "Video whose first pairs are timed.") var video = "Samples/realshort.mp4"
    @Option(help: "Frame size WxH (at least 32x32).") var size = Dimensions(argument: "640x360")!
    @Option(help: "Pairs to time.") var pairs = 20
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Also time the network + a search with these DIS parameters (`flow --search-options`; repeatable).")
    var searchOptions: [String] = []
    @Flag(help: "Time only DIS medium, the default and the --search-options candidates.") var searchOnly = false

    func validate() throws {
        guard size.first >= 32, size.second >= 32 else { throw ValidationError("--size must be at least 32x32") }
        for text in searchOptions {
            do { _ = try SeededDISSearch.Configuration(parsing: text) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() throws {
        try flowSpeedBenchmark(video: video, width: size.first, height: size.second, pairCount: max(1, pairs),
                               threads: max(1, threads),
                               candidates: try searchOptions.map { ($0, try SeededDISSearch.Configuration(parsing: $0)) },
                               searchOnly: searchOnly)
    }
}

struct FlowIOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowio",
        abstract: "Reading and writing flow files and the colour wheel, against raw reads.")
    @Option(help: "Runs to average.") var repeats = 20
    @Option(help: "Also time reading this KITTI flow PNG written by another encoder.") var png: String?

    func run() throws { try benchFlowIO(repeats: max(1, repeats), png: png) }
}

struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "ms per pair of the model against the same weights in PyTorch, then `mcjepa-video flow` end to end.")
    @Option(help: "Runs; the best is kept.") var reps = 10
    @Option(help: "Thread counts, comma-separated.") var threads = "1,2"
    @Option(help: "Frame sizes WxH, comma-separated.") var sizes = "640x360,1024x436"
    @OptionGroup var modelOptions: BenchModelOptions
    @Flag(help: "Skip the end-to-end `mcjepa-video flow` run.") var noEndToEnd = false

    var threadCounts: [Int] { threads.split(separator: ",").compactMap { Int($0) } }
    var parsedSizes: [Dimensions] { sizes.split(separator: ",").compactMap { Dimensions(argument: String($0)) } }

    func validate() throws {
        guard !threadCounts.isEmpty, threadCounts.count == threads.split(separator: ",").count,
              threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads takes counts like 1,2")
        }
        guard !parsedSizes.isEmpty, parsedSizes.count == sizes.split(separator: ",").count else {
            throw ValidationError("--sizes takes WxH sizes like 640x360,1024x436")
        }
    }

    func run() throws {
        try modelBenchmark(reps: max(1, reps), threadCounts: threadCounts,
                           sizes: parsedSizes.map { ($0.first, $0.second) }, config: modelOptions.model,
                           endToEnd: !noEndToEnd)
    }
}

struct NNBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nn",
        abstract: "The NN kernels and a conv stack against PyTorch.")
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Runs; the best is kept.") var reps = 10
    @Option(help: "Only the convolutions whose label contains this, or 'stack'.") var only: String?

    func run() throws { try nnBenchmark(threads: max(1, threads), reps: max(1, reps), only: only) }
}

struct PipelineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "The flow command's pipeline against the network it runs; its peak memory on a long stride.")
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Frames of the clip.") var frames = 60
    @Option(help: "Runs of each after a warm-up; the best is kept.") var reps = 2
    @Option(help: "Weights (default: the built-in ones, else a random tiny model).") var model: String?
    @Flag(help: "Skip the memory measurement.") var noMemory = false

    func validate() throws {
        guard frames >= 2 else { throw ValidationError("--frames must be at least 2") }
    }

    func run() throws {
        try pipelineBenchmark(threads: max(1, threads), frames: frames, reps: max(1, reps), model: model,
                              memory: !noMemory)
    }
}

struct PreprocessBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Preprocessing throughput against a plain ffmpeg extraction of the same frames.")
    @Argument(help: "Folder of videos.") var folder: String
    @Option(help: "Frame size WxH.") var size = Dimensions(argument: "320x256")!
    @Option(help: "Frames between the two of a pair.") var stride = 2
    @Option(help: "Pairs per video at most.") var maxPairs = 32
    @Option(help: "Videos at most.") var videos: Int?
    @Option(help: "Decoder and encoder threads.") var threads = 2

    func run() throws {
        try preprocessBenchmark(folder: folder, width: size.first, height: size.second, stride: max(1, stride),
                                maxPairs: max(1, maxPairs), videoLimit: videos ?? Int.max, threads: max(1, threads))
    }
}

struct RefineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refine",
        abstract: "The coarse-to-fine flow refinement against OpenCV's on the same schedule.")
    @Option(help: "Frame size WxH.") var size = Dimensions(argument: "640x360")!
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Runs; the best is kept.") var reps = 5

    func run() throws {
        try refineBenchmark(width: size.first, height: size.second, threads: max(1, threads), reps: max(1, reps))
    }
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "ms per training step of the flow batch against the same step in PyTorch; with --content-local-views (--content-dense), the step with its content batch, with multi-crop local views (the dense content loss) against without; with --train-through-alignment, the flow step with the losses on the aligned flow against without.")
    @Option(help: "Runs; the best is kept.") var reps = 5
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Crop HxW.") var crop = Dimensions(argument: "256x320")!
    @Option(help: "Pairs per batch.") var batch = 1
    @Option(help: "With local views: content items per step (two global views each).") var contentBatch = 8
    @Option(help: "With local views: global content view side.") var contentSize = 128
    @Option(help: "Multi-crop local views per content item: also time the step with the content batch, without and with them (0 = flow batch only).")
    var contentLocalViews = 0
    @Option(help: "Local view side.") var contentLocalSize = 64
    @Option(help: "Weight of the dense content loss: also time the step with the content batch, without and with it (0 = not timed).")
    var contentDense: Float = 0
    @Option(help: "Encoder level of the dense content loss.") var contentDenseLevel = ModelConfig.defaultLocalProjectorLevel
    @Option(help: "Feature-space (nearest-neighbour) pairs of the dense content loss kept per item and direction.") var contentDenseNn = 0
    @Flag(help: "Also time the flow step with the losses on the aligned flow (train --train-through-alignment), interleaved with the step without, and print the ratio.")
    var trainThroughAlignment = false
    @OptionGroup var modelOptions: BenchModelOptions

    func validate() throws {
        guard contentDense >= 0 && contentDense.isFinite else { throw ValidationError("--content-dense must be a number >= 0") }
        guard (1...ModelConfig.levelCount).contains(contentDenseLevel) else {
            throw ValidationError("--content-dense-level must be in 1...\(ModelConfig.levelCount)")
        }
    }

    func run() throws {
        let content = contentLocalViews > 0 || contentDense > 0
            ? ContentBenchSettings(batch: max(2, contentBatch), size: contentSize, localViews: contentLocalViews,
                                   localSize: contentLocalSize, denseWeight: contentDense, denseLevel: contentDenseLevel,
                                   denseNearest: max(0, contentDenseNn))
            : nil
        try trainBenchmark(reps: max(1, reps), threads: max(1, threads), crop: (crop.first, crop.second),
                           batch: max(1, batch), preset: modelOptions.config, config: modelOptions.model, content: content,
                           throughAlignment: trainThroughAlignment)
    }
}
