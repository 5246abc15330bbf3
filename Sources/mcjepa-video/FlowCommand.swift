import ArgumentParser
import FlowIO
import Foundation
import MCJEPA
import VideoIO
import VideoPipeline

extension FlowFileFormat: ExpressibleByArgument {}

/// `mcjepa-video flow INPUT`: optical flow for every pair of frames `--stride` apart (VideoPipeline's `FlowPairs`),
/// as flow files named by the pair's first frame, and optionally a rendered flow video.
struct FlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Estimate optical flow for every pair of frames of a video with MC-JEPA.",
        discussion: """
            INPUT is a video, an ffmpeg image pattern (frames/%06d.png), a folder of frames (sorted by name), or \
            two images (one flow file). Pairs are (i, i + stride) for i = 0, 1, 2, ... (indices count from \
            --start). The flow of pair (i, i + stride) is DIR/%06d.<format> named by i (a folder's frames: by the \
            image's name), e.g. 000000.flo for (0, 1); --backward adds the flow from frame i + stride back to \
            frame i as DIR/%06d.bw.<format>. Flow is in pixels of the input frames (u right, v down), at full \
            resolution even with --max-side (which only shrinks what the network sees). The network's flow then \
            seeds a search on the frames: OpenCV's DIS (patch inverse search and variational refinement, coarse \
            to fine, down to full resolution) started from the network's flow, so the network supplies the large \
            motions and the search the sub-pixel precision (flow-dev: EPE 0.78x DIS medium's in geometric mean \
            over the pairs, against 1.65x for the network alone and 1.94x for its decoder without the feature alignment). --refinement fast-search stops the search at \
            half resolution, as DIS's medium preset does: about twice as fast, 0.94x DIS medium's error; \
            --no-refine writes the network's flow as it is, faster still. --flip-average also runs the mirrored frames and averages the two flows (half \
            the speed; flow-dev against DIS medium: the decoder's flow 1.94x -> 1.86x, refined with the search's previous parameters 0.81x either way). \
            --search-options KEY=VALUE,... (advanced) sets OpenCV DIS's parameters for the search, over those of the \
            --refinement: finest-scale, patch-size, patch-stride, gradient-descent-iterations, \
            variational-refinement-iterations/-alpha/-delta/-gamma, mean-normalization, spatial-propagation, and \
            passes (searches run one after the other, each seeded by the last).

            --occlusion writes DIR/%06d.occ.png per pair: 255 where the first frame's pixel is occluded in the \
            second, by the forward-backward check |f + b'|^2 >= 0.01 (|f|^2 + |b'|^2) + 0.5 (b' = the backward \
            flow where the pixel lands; pixels leaving the frame are occluded). --confidence writes \
            DIR/%06d.conf.png, 255 x exp(-|f + b'|^2 / (0.01 (|f|^2 + |b'|^2) + 0.5)): 255 for a perfect round \
            trip, under 94 exactly where --occlusion says occluded; threshold it higher to keep only the surest \
            pixels. Both cost the backward flow.

            Scene cuts are detected (the detector `preprocess` uses) and no pair is made across one; the pairs \
            left out are listed in DIR/skipped.json. --video renders one picture per pair at the first frame's \
            timestamp: .mp4/.mov H.264, .mkv lossless FFV1, a .png pattern or folder a PNG sequence numbered by \
            frame index like the flow files. Its colours are scaled by the median of recent pairs' 99th-percentile \
            motion, restarted at scene cuts (or --max-flow), with a colour-wheel legend (--no-legend). DIR \
            defaults to INPUT_BASENAME.flow next to the input and is written under a temporary name, renamed when \
            complete. Each frame's features are computed once; with a long --stride the frames are read twice \
            instead of kept, so memory stays flat. See `mcjepa-video help` for the shared conventions.
            """)

    @OptionGroup var input: VideoInputOptions
    @Option(name: .shortAndLong, help: "Output folder for flow files (default: INPUT_BASENAME.flow next to the input).")
    var output: String?
    @Option(help: "Flow file format: flo (Middlebury), png (KITTI 16-bit), npy, pfm.") var format: FlowFileFormat = .flo
    @Option(help: "Frames between the two frames of a pair.") var stride = 1
    @Flag(help: "Also write the backward flow (second frame to first).") var backward = false
    @Flag(help: "Also write an occlusion mask per pair (NNNNNN.occ.png, 255 = occluded).") var occlusion = false
    @Flag(help: "Also write a confidence map per pair (NNNNNN.conf.png, 0-255).") var confidence = false
    @Option(help: "Also render a flow video to this path (.mp4, .mkv, or a .png pattern).") var video: String?
    @Option(help: "Style of the flow video: color, overlay, arrows, side-by-side.") var style: FlowVideoStyle = .color
    @Option(help: "Flow magnitude (px) of full colour saturation in the video (default: robust, per shot).")
    var maxFlow: Float?
    @Flag(inversion: .prefixedNo, help: "Draw the colour wheel in a corner of the video (default: on for color).")
    var legend: Bool?
    @Flag(help: "Average the flow with that of the frames mirrored left to right (twice the time).") var flipAverage = false
    @Flag(inversion: .prefixedNo, help: "Refine the network's flow on the frames with a DIS search seeded by it (--no-refine: the network's flow as it is).")
    var refine = true
    @Option(help: "How the network's flow is refined: search (DIS seeded by it, to full resolution), fast-search (to half resolution), or variational.")
    var refinement: RefinementMethod = .standard
    @Option(help: "Scene-cut threshold (0...1; 1 turns detection off).") var cutThreshold = 0.12
    @OptionGroup var searchOptions: SearchOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var reporting: ReportingOptions
    @OptionGroup var overwriteOption: OverwriteOption

    func validate() throws {
        try OptionRange.check(stride, OptionRange.stride, "--stride")
        if let maxFlow, !(maxFlow > 0 && maxFlow.isFinite) { throw ValidationError("--max-flow must be a positive finite number") }
        guard (0...1).contains(cutThreshold) else { throw ValidationError("--cut-threshold must be in 0...1") }
        if !refine && refinement != .standard { throw ValidationError("--refinement contradicts --no-refine") }
        _ = try searchOptions.configuration(refinement: refine ? refinement : nil)
    }

    func run() async throws {
        let reporter = reporting.reporter()
        let estimator = try modelOptions.estimator(flipAverage: flipAverage, refinement: refine ? refinement : nil,
                                                   search: try searchOptions.configuration(refinement: refine ? refinement : nil),
                                                   verbose: reporting.verbose, reporter: reporter)
        let job = FlowJob(source: try input.frameInput(allowPair: true), decode: input.decodeOptions(threads: modelOptions.threads),
                          outputFolder: output ?? input.defaultOutputFolder(suffix: "flow"),
                          files: FlowFileOptions(format: format, backward: backward, occlusion: occlusion, confidence: confidence),
                          stride: stride, sceneCutThreshold: cutThreshold < 1 ? cutThreshold : nil,
                          video: video.map { FlowVideoRequest(path: $0, style: style, maxFlow: maxFlow, legend: legend) },
                          overwrite: overwriteOption.overwrite)
        print(try await runReportingErrors(input: job.source.displayPath) {
            try await job.run(estimator: estimator, reporter: reporter)
        })
    }
}

/// Runs a command's work. The modules' errors say themselves whether an input or an output failed, and the entry
/// point reports them (`failure(of:)`); an error of no module is reported here against the input (exit 1).
func runReportingErrors<T>(input: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch where failure(of: error) == nil && !(error is ExitCode) {
        printError("\(input): \(describe(error))")
        throw Exit.failure
    }
}
