import ArgumentParser
import Dataset
import FlowIO
import FlowRefinement
import MCJEPA
import NN
import Foundation
import VideoIO
import VideoPipeline

extension Exit {
    /// EX_TEMPFAIL: the output could not be written (permissions, full disk, I/O); the same command may succeed
    /// later, so schedulers should retry it (with --resume nothing finished is redone).
    static let retry = ExitCode(75)
}

struct PreprocessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Turn unlabeled videos into WebDataset shards of frame pairs for self-supervised training.",
        discussion: """
            Writes shard-NNNNNN.tar (samples <videoid>_<frame6>.f0.png, .f1.png, .json), shard-NNNNNN.stats.json \
            (written last: the shard is done) and manifest.json. The plan depends only on the inputs and options, \
            so --shard-index I --shard-count N (or Slurm/Kubernetes indices) on N machines writes exactly the \
            shards one machine would. Exit codes: 0 done, 3 no usable videos, 75 output error (retry with --resume).
            """)

    @Argument(help: "Video files and folders (searched recursively by extension).")
    var inputs: [String] = []

    @Option(name: .customLong("manifest"), help: "A text file listing one video path per line (repeatable).")
    var manifests: [String] = []

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("out")], help: "Output folder for shards.")
    var output: String

    @Option(help: "Comma-separated extensions taken from folders.")
    var extensions: String = VideoInputs.defaultExtensions.sorted().joined(separator: ",")

    @Option(help: "Frames between the two frames of a pair.")
    var stride: Int = 1

    @Option(help: "Skip pairs whose motion score (mean abs difference of 32x32 thumbnails, 0...1) is below this.")
    var minMotion: Double = 0

    @Option(help: "Most pairs per video.")
    var maxPairs: Int = 64

    @Option(help: "Pair budget per shard; a shard holds pairs-per-shard / max-pairs videos.")
    var pairsPerShard: Int = 1024

    @Option(help: "Scene-cut threshold on the thumbnail difference of consecutive frames (0...1).")
    var cutThreshold: Double = SceneCutDetector.defaultThreshold

    @Option(help: "Centre-crop and resize frames to exactly WIDTHxHEIGHT.")
    var size: FrameSize?

    @Option(help: "Shrink frames so the longer side is at most this (keeps the aspect ratio).")
    var maxSide: Int?

    @Option(help: "Store frames as JPEG of this quality (1...100) instead of PNG.")
    var jpegQuality: Int?

    @Option(help: "This worker's index among --shard-count workers (else SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX).")
    var shardIndex: Int?

    @Option(help: "Number of workers sharing the run (else SLURM_ARRAY_TASK_COUNT or MCJEPA_SHARD_COUNT).")
    var shardCount: Int?

    @Flag(help: "Skip shards that are already done (their stats file exists).")
    var resume = false

    @Flag(name: [.customShort("y"), .long], help: "Rewrite shards that exist.")
    var overwrite = false

    @Flag(help: "Also store the flow of each pair as <key>.flow.npy (H x W x 2 float32, in pixels of the stored frames): the model's, refined on the frames as `flow` does.")
    var flow = false

    @Flag(inversion: .prefixedNo, help: "With --flow: refine the model's flow on the frames (the default; --no-refine stores the network's flow as it is, in about half the time).")
    var refine: Bool?

    @Flag(help: "With --flow: also estimate the backward flow and store NaN (unknown) where the forward-backward check fails, so that training learns the stored flow only where it is self-consistent (about twice the time).")
    var maskInconsistent = false

    @Option(help: "Weights for --flow (safetensors). Default: the built-in weights, if this build has them.")
    var model: String?

    @Option(help: "Decoder threads, and threads encoding images.")
    var threads: Int = 2

    @OptionGroup var searchOptions: SearchOptions
    @OptionGroup var range: RangeOptions
    @OptionGroup var reporting: ReportingOptions

    func validate() throws {
        if inputs.isEmpty && manifests.isEmpty { throw ValidationError("give video files, folders or --manifest") }
        try OptionRange.check(stride, OptionRange.stride, "--stride")
        try OptionRange.check(maxPairs, 1...1_000_000, "--max-pairs")
        try OptionRange.check(pairsPerShard, 1...1_000_000, "--pairs-per-shard")
        try OptionRange.check(minMotion, 0...1, "--min-motion")
        try OptionRange.check(cutThreshold, 0...1, "--cut-threshold")
        if size != nil && maxSide != nil { throw ValidationError("use either --size or --max-side") }
        try OptionRange.check(maxSide, 2...OptionRange.side.upperBound, "--max-side")
        if let size {
            try size.check("--size")
            // Two frames of a pair, each as RGB bytes and as the resizer's float copy, plus the encoder's buffers.
            try OptionRange.checkFitsInMemory(width: size.width, height: size.height, bytesPerPixel: 64, "--size")
        }
        if let maxSide { try OptionRange.checkFitsInMemory(width: maxSide, height: maxSide, bytesPerPixel: 64, "--max-side") }
        if let jpegQuality, !(1...100).contains(jpegQuality) { throw ValidationError("--jpeg-quality must be 1...100") }
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        if model != nil && !flow { throw ValidationError("--model applies only with --flow") }
        if refine != nil && !flow { throw ValidationError("--refine and --no-refine apply only with --flow") }
        if maskInconsistent && !flow { throw ValidationError("--mask-inconsistent applies only with --flow") }
        if searchOptions.searchOptions != nil && !flow { throw ValidationError("--search-options applies only with --flow") }
        if searchOptions.searchOptions != nil && refine == false { throw ValidationError("--search-options contradicts --no-refine") }
        _ = try searchOptions.configuration(refinement: flowRefinement)
    }

    func run() async throws {
        try preprocess()
    }

    /// The refinement of the stored flow: the default search unless --no-refine.
    private var flowRefinement: RefinementMethod? { (refine ?? true) ? .standard : nil }

    private func preprocess() throws {
        let allowed = Set(extensions.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        let reporter = reporting.reporter()
        let (videos, skipped) = try VideoInputs.scan(paths: inputs, manifests: manifests, extensions: allowed)
        for entry in skipped { reporter.note("mcjepa-video: skipped \(entry.path): \(entry.reason)") }
        guard !videos.isEmpty else {
            throw DatasetError.badInput(path: (inputs + manifests).joined(separator: ", "), reason: "no videos found")
        }
        let worker = try WorkerAssignment.resolve(index: shardIndex, count: shardCount,
                                                  environment: ProcessInfo.processInfo.environment)
        var options = PreprocessOptions(output: output)
        options.sampling = SamplingOptions(stride: stride, minMotion: minMotion, maxPairs: maxPairs,
                                           cutThreshold: cutThreshold)
        options.pairsPerShard = pairsPerShard
        options.resume = resume
        options.overwrite = overwrite
        options.encodingThreads = threads
        if let size {
            options.resize = .exact(width: size.width, height: size.height)
        } else if let maxSide {
            options.resize = .maxSide(maxSide)
        }
        if flow {
            let weights = try loadWeights(modelPath: model, verbose: reporting.verbose, reporter: reporter)
            options.storeFlow(of: FlowEstimator(loaded: weights, refinement: flowRefinement,
                                                search: try searchOptions.configuration(refinement: flowRefinement),
                                                threads: threads),
                              maskInconsistent: maskInconsistent)
        }
        let encoder = try FFmpegImageEncoder(format: jpegQuality.map { .jpeg(quality: $0) } ?? .png)
        let opener = VideoFileOpener(resize: options.resize, threads: threads, start: range.start, duration: range.duration)
        let plan = ShardPlan(videos: videos, pairsPerShard: pairsPerShard, maxPairsPerVideo: maxPairs)
        let preprocessor = Preprocessor(plan: plan, options: options, encoder: encoder, openSource: opener.open)

        var last = PreprocessProgress()
        let summary = try preprocessor.run(worker: worker) { state in
            last = state
            reporter.update(state)
        }
        reporter.finish(last)

        let resumed = summary.shardsResumed.isEmpty ? "" : ", \(summary.shardsResumed.count) already done"
        print("\(output): \(summary.shardsWritten.count) of \(plan.shardCount) shards written by worker "
              + "\(worker.index)/\(worker.count)\(resumed); \(summary.pairs) pairs from \(summary.videosProcessed) "
              + "videos, \(summary.videosFailed) failed")
        for stats in summary.shardsWritten {
            for video in stats.videos where video.error != nil {
                reporter.note("mcjepa-video: skipped \(video.source): \(video.error!)")
            }
        }
        if summary.videosProcessed > 0 && summary.videosFailed == summary.videosProcessed {
            throw DatasetError.badInput(path: output, reason: "no usable videos: all \(summary.videosFailed) failed")
        }
    }
}
