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
            or --max-flow; the colour wheel is drawn in a corner (--no-legend to leave it out).
            """)

    @OptionGroup var input: VideoInputOptions
    @Option(help: "Folder of flow files (as written by `flow`).") var flow: String
    @Option(name: .shortAndLong, help: "Output video (.mp4, .mkv) or PNG sequence (seq/%06d.png).") var output: String
    @Option(help: "color, overlay, arrows, side-by-side.") var style: FlowVideoStyle = .color
    @Option(help: "Flow magnitude (px) of full colour saturation (default: robust, from recent frames).") var maxFlow: Float?
    @Flag(inversion: .prefixedNo, help: "Draw the colour wheel in a corner (default: on for color).") var legend: Bool?
    @Option(help: "Decoder threads.") var threads = 2
    @OptionGroup var reporting: ReportingOptions
    @OptionGroup var overwriteOption: OverwriteOption

    func validate() throws {
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        if let maxFlow, !(maxFlow > 0 && maxFlow.isFinite) { throw ValidationError("--max-flow must be a positive finite number") }
    }

    func run() async throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: flow, isDirectory: &isFolder), isFolder.boolValue else {
            printError("\(flow): no such folder of flow files")
            throw Exit.badInput
        }
        let source = try input.frameInput()
        let decode = input.decodeOptions(threads: threads)
        let opened = try openOrExit(source, decode)
        try checkOutputFree(output, overwrite: overwriteOption.overwrite)
        let reporter = reporting.reporter()
        let video = FlowVideoOutput(path: output, style: style, maxFlow: maxFlow, legend: legend ?? (style == .color),
                                    options: opened.encodeOptions, replace: overwriteOption.overwrite)
        let total = opened.expectedFrames
        var done = 0
        try await runReportingErrors(input: source.displayPath) {
            try await renderFlowFiles(flow, over: source, decode: decode, into: video) { frames in
                done = frames
                reporter.update(done: done, total: total)
            }
            reporter.finish(done: done, total: total)
            guard await video.frameCount > 0 else {
                printError("\(flow): no flow file named like 000000.flo matches a frame of \(source.displayPath)")
                throw Exit.badInput
            }
            try await video.finish()
        }
        print("wrote \(await video.frameCount) frame(s) to \(output)")
    }
}
