import ArgumentParser
import FlowIO
import Foundation
import VideoIO
import VideoPipeline

/// `mcjepa-video render INPUT --flow DIR -o OUT.mp4`: a flow video from flow files already written by `flow`.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a flow video from a video and its flow files (one per pair, named by frame index).",
        discussion: """
            For each frame i (counted from --start, which must be the one given to `flow`) the flow DIR/%06d.flo \
            (or .png, .npy, .pfm; a folder of frames: named as the frame's image) is drawn at the frame's \
            timestamp, so the output keeps the input's timing; frames without a flow file (the last --stride \
            frames, pairs across scene cuts) are skipped. Flow files must have the frames' size. OUT: .mp4/.mov \
            H.264, .mkv lossless FFV1, a .png pattern (seq/%06d.png) or a folder: a PNG sequence numbered by frame \
            index from 000000, like the flow files. Colours: the median of recent frames' 99th-percentile motion, \
            restarted at scene cuts (detected on the frames as `flow` detects them), or --max-flow; the colour \
            wheel is drawn in a corner (--no-legend to leave it out).
            """)

    @OptionGroup var input: VideoInputOptions
    @Option(help: "Folder of flow files (as written by `flow`).") var flow: String
    @Option(name: .shortAndLong, help: "Output video (.mp4, .mkv) or PNG sequence (seq/%06d.png).") var output: String
    @Option(help: "color, overlay, arrows, side-by-side.") var style: FlowVideoStyle = .color
    @Option(help: "Flow magnitude (px) of full colour saturation (default: robust, per shot).") var maxFlow: Float?
    @Flag(inversion: .prefixedNo, help: "Draw the colour wheel in a corner (default: on for color).") var legend: Bool?
    @Option(help: "Scene-cut threshold (0...1; 1 turns detection off): the colour scale restarts at each cut.")
    var cutThreshold = 0.12
    @Option(help: "Decoder threads.") var threads = 2
    @OptionGroup var reporting: ReportingOptions
    @OptionGroup var overwriteOption: OverwriteOption

    func validate() throws {
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        if let maxFlow, !(maxFlow > 0 && maxFlow.isFinite) { throw ValidationError("--max-flow must be a positive finite number") }
        try OptionRange.check(cutThreshold, 0...1, "--cut-threshold")
    }

    func run() async throws {
        let job = FlowRenderJob(source: try input.frameInput(), decode: input.decodeOptions(threads: threads), flowFolder: flow,
                                video: FlowVideoRequest(path: output, style: style, maxFlow: maxFlow, legend: legend),
                                sceneCutThreshold: cutThreshold < 1 ? cutThreshold : nil, overwrite: overwriteOption.overwrite)
        let frames = try await runReportingErrors(input: job.source.displayPath) { try await job.run(reporter: reporting.reporter()) }
        print("wrote \(frames) frame(s) to \(output)")
    }
}
