import ArgumentParser
import Foundation
import MCJEPA
import Segmentation
import VideoIO
import VideoPipeline

/// `mcjepa-video segment INPUT --segments K`: unsupervised content segmentation of every frame by k-means over
/// the model's dense features, with segment identities kept over time.
struct SegmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Split every frame of a video into K segments by k-means over MC-JEPA features.",
        discussion: """
            Each frame's features (level --level of the encoder's pyramid, stride 2^level; the default 3 is \
            stride 8) are clustered into K segments by spherical k-means (cosine similarity). The first frame \
            starts from deterministic k-means++ seeds, each later frame from the previous frame's centroids; \
            segment identities are then matched to the previous frame's on centroid similarity plus the overlap \
            with the previous segments carried over by the model's backward flow (--no-flow: centroid similarity \
            only, which skips the flow decoder and is faster). Masks are DAVIS palette PNGs DIR/%06d.png, one per \
            frame, with segment ids 1...K (each cell of the grid takes one id); DIR defaults to \
            INPUT_BASENAME.segments next to the input and is written under a temporary name, renamed when \
            complete. --video draws the segments over the frames at the input's timestamps. INPUT may be a folder \
            of frames (.jpg/.png in name order): masks are then named as the frames and the video runs at 30 fps. Existing outputs are \
            refused unless -y. Exit codes: 0 ok, 1 failure (e.g. no weights, output exists), 2 usage, 3 bad input.
            """)

    @OptionGroup var input: VideoInputOptions
    @Option(help: "K, the number of segments (1...255).") var segments: Int
    @Option(name: .shortAndLong, help: "Output folder for the masks (default: INPUT_BASENAME.segments next to the input).")
    var output: String?
    @Option(help: "Also write the segments drawn over the video to this path (e.g. out.mp4).") var video: String?
    @Option(help: "Encoder pyramid level whose features are clustered (1...6, stride 2^level).") var level = 3
    @Flag(help: "Match segment identities on centroid similarity only (no backward flow).") var noFlow = false
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var reporting: ReportingOptions
    @OptionGroup var overwriteOption: OverwriteOption

    func validate() throws {
        guard (1...255).contains(segments) else { throw ValidationError("--segments must be in 1...255") }
        guard (1...ModelConfig.levelCount).contains(level) else {
            throw ValidationError("--level must be in 1...\(ModelConfig.levelCount)")
        }
    }

    func run() async throws {
        let reporter = reporting.reporter()
        let estimator = try modelOptions.estimator(verbose: reporting.verbose, reporter: reporter)
        let job = MaskVideoJob(input: input, outputDir: output ?? defaultOutputFolder(for: input.inputs[0], suffix: "segments"),
                               video: video, overwrite: overwriteOption.overwrite, threads: modelOptions.threads,
                               reporter: reporter)
        let source = try job.openInput()
        let segmenter = ContentSegmenter(configuration: ContentSegmenter.Configuration(segments: segments))
        var previous: FrameFeatures?
        _ = try await job.run(source: source, encoder: estimator.encoder) { frame, features in
            let (map, stride) = frameAlignedFeatures(features, level: level)
            // Flow from this frame back to the previous one: where each cell was, to carry the old segments over.
            let backward = noFlow ? nil : previous.map { estimator.flow(from: features, to: $0) }
            previous = features
            let labels = segmenter.segment(map, backwardFlow: backward)
            return ContentSegmenter.frameMask(labels, gridWidth: map.width, gridHeight: map.height, stride: stride,
                                              frameWidth: frame.width, frameHeight: frame.height)
        }
    }
}
