import ArgumentParser
import Foundation
import MCJEPA
import Segmentation
import VideoIO
import VideoPipeline

/// `mcjepa-video segment INPUT`: unsupervised segmentation of every frame into a few segments that follow
/// objects and motion, kept consistent over time through the flow (`VideoSegmenter`).
struct SegmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Split every frame of a video into a few segments that follow objects and motion.",
        discussion: """
            Each frame's cells (level --level of the encoder's pyramid, stride 2^level; the default 3 is stride \
            8) are described by their features and their motion and clustered into --segments segments \
            (default 5) by spherical k-means: from k-means++ seeds on the first frame, then with each segment's \
            centre following the cells that ended the frame in it, so segment numbers (and colours) stay with \
            what they cover. Motion is the network's flow to the previous frame where it passes the \
            forward-backward check and predicts the frame clearly better than standing still does; elsewhere \
            (a flat wall, a still scene, where the flow only wanders) pixels are taken as still. The previous \
            frame's segments are carried along that motion wherever the content is still what it was, averaged \
            with the new assignment and favoured over it; boundaries are put on the frame's colour edges by a \
            guided filter, and a pixel changes segment only for a clearly better one, so a still scene stays \
            still (mcjepa-bench segment: under 0.3% of pixels per frame on Samples/ frames repeated with \
            noise). --no-flow skips the flow decoder (faster; no motion cue and no carrying). Masks are DAVIS palette PNGs DIR/%06d.png, one per frame, with segment ids \
            1...K; DIR defaults to INPUT_BASENAME.segments next to the input and is written under a temporary \
            name, renamed when complete. --video draws the segments over the frames (translucent fill, outlines, \
            a legend of segment colours) at the input's timestamps. INPUT may be a folder of frames (.jpg/.png in \
            name order): masks are then named as the frames and the video runs at 30 fps. Existing outputs are \
            refused unless -y. Exit codes: 0 ok, 1 failure (e.g. no weights, output exists), 2 usage, 3 bad input.
            """)

    @OptionGroup var input: VideoInputOptions
    @Option(help: "K, the number of segments (1...255).") var segments = 5
    @Option(name: .shortAndLong, help: "Output folder for the masks (default: INPUT_BASENAME.segments next to the input).")
    var output: String?
    @Option(help: "Also write the segments drawn over the video to this path (e.g. out.mp4).") var video: String?
    @Option(help: "Encoder pyramid level whose features are clustered (1...6, stride 2^level).") var level = 3
    @Flag(help: "No flow: segments from features alone, not carried from frame to frame (faster).") var noFlow = false
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
        var job = MaskVideoJob(source: try input.frameInput(), decode: input.decodeOptions(threads: modelOptions.threads),
                               outputFolder: output ?? input.defaultOutputFolder(suffix: "segments"), video: video,
                               overwrite: overwriteOption.overwrite)
        // Every pixel has a segment: a light fill keeps the picture visible under it.
        job.opacity = 0.35
        job.legend = (1...segments).map { UInt8($0) }
        let segmentation = ModelVideoSegmentation(estimator: estimator, level: level, useFlow: !noFlow,
                                                  configuration: VideoSegmenter.Configuration(segments: segments))
        print(try await runReportingErrors(input: job.source.displayPath) {
            try await job.run(estimator: estimator, reporter: reporter) { frame, features in
                segmentation.next(features, rgb: frame.rgb)
            }
        })
    }
}
