import ArgumentParser
import FlowIO
import FlowRefinement
import Foundation
import MCJEPA
import NN
import VideoIO

extension FlowFileFormat: ExpressibleByArgument {}

/// `mcjepa-video flow INPUT`: optical flow for every pair of frames `--stride` apart, as flow files named by the
/// pair's first frame index, and optionally a rendered flow video.
struct FlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Estimate optical flow for every pair of frames of a video with MC-JEPA.",
        discussion: """
            Pairs are (i, i + stride) for i = 0, 1, 2, ... (frame indices count from the first decoded frame, i.e. \
            from --start). The flow of pair (i, i + stride) is written to DIR/%06d.<format> named by i, e.g. \
            000000.flo for (0, 1); with --backward the flow from frame i + stride back to frame i is \
            DIR/%06d.bw.<format>. Flow is in pixels of the input frames (u right, v down), at full resolution even \
            with --max-side (which only shrinks what the network sees). The network's flow then seeds a search on \
            the frames: OpenCV's DIS (patch inverse search and variational refinement, coarse to fine, down to \
            full resolution) started from the network's flow instead of from zero, so the network supplies the \
            large motions and the search the sub-pixel precision (flow-dev: EPE 0.81x DIS medium's in geometric \
            mean over the pairs, against 1.94x for the network alone); --no-refine writes the network's flow as \
            it is, about twice as fast. --flip-average also runs the network on the frames mirrored left to right and averages \
            the two flows (half the speed; on the built-in weights, flow-dev EPE against DIS medium in geometric mean over the pairs: network 1.94x -> 1.86x, refined 0.81x -> 0.81x). DIR defaults to INPUT_BASENAME.flow next \
            to the input; it is written under a temporary name and renamed when complete, and an existing DIR or \
            --video file is refused unless -y. Each frame's features are computed once and serve both pairs it \
            belongs to. --video renders one picture per pair at the first frame's timestamp (the input's timing). \
            Exit codes: 0 ok, 1 failure (e.g. no weights, output exists), 2 usage, 3 bad input (video or weights \
            file).
            """)

    @Argument(help: "Input video.") var input: String
    @Option(name: .shortAndLong, help: "Output folder for flow files (default: INPUT_BASENAME.flow next to the input).")
    var output: String?
    @Option(help: "Flow file format: flo (Middlebury), png (KITTI 16-bit), npy.") var format: FlowFileFormat = .flo
    @Option(help: "Frames between the two frames of a pair.") var stride = 1
    @Flag(help: "Also write the backward flow (second frame to first).") var backward = false
    @Option(help: "Also render a flow video to this path (e.g. out.mp4).") var video: String?
    @Option(help: "Style of the flow video: color, overlay, arrows, side-by-side.") var style: FlowVideoStyle = .color
    @Option(help: "Flow magnitude (px) of full colour saturation in the video (default: running maximum).")
    var maxFlow: Float?
    @Option(help: "Weights file (safetensors). Default: the built-in weights, if this build has them.")
    var model: String?
    @Option(help: "Shrink frames so their longer side is at most N pixels for the network (flow is scaled back).")
    var maxSide: Int?
    @Flag(help: "Average the flow with that of the frames mirrored left to right (twice the time; on the built-in weights, flow-dev EPE against DIS medium in geometric mean over the pairs: network 1.94x -> 1.86x, refined 0.81x -> 0.81x).")
    var flipAverage = false
    @Flag(inversion: .prefixedNo, help: "Refine the network's flow on the frames with a DIS search seeded by it (--no-refine: the network's flow as it is).")
    var refine = true
    @Option(help: "Seconds into the video to start at.") var start: Double = 0
    @Option(help: "Seconds of video to process (default: to the end).") var duration: Double?
    @Option(help: "Threads for decoding and the network.") var threads = 2
    @Flag(name: [.customShort("y"), .long], help: "Replace existing outputs.") var overwrite = false
    @Option(help: "Progress on stderr: auto (a bar on a terminal), json (one JSON line per frame), none.")
    var progress: FlowProgressMode = .auto

    func validate() throws {
        try OptionRange.check(stride, OptionRange.stride, "--stride")
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        guard format != .pfm else { throw ValidationError("--format must be flo, png or npy") }
        try OptionRange.check(maxSide, 8...OptionRange.side.upperBound, "--max-side")
        if let maxFlow, !(maxFlow > 0 && maxFlow.isFinite) { throw ValidationError("--max-flow must be a positive finite number") }
        try OptionRange.checkStart(start)
        try OptionRange.checkDuration(duration)
    }

    func run() async throws {
        let weights = try loadWeights(modelPath: model)
        setThreads(threads)
        let reader: VideoReader
        do {
            reader = try VideoReader(path: input, options: DecodeOptions(threads: threads, start: start, duration: duration))
        } catch let error as VideoIOError {
            printError(error.description)
            throw Exit.badInput
        }
        let outputDir = output ?? defaultOutputFolder(for: input, suffix: "flow")
        try checkOutputFree(outputDir, overwrite: overwrite)
        if let video { try checkOutputFree(video, overwrite: overwrite) }
        let staged = try StagedOutputFolder(outputDir)
        defer { staged.discardUnlessCommitted() }

        let estimator = FlowEstimator(model: weights.model, maxSide: maxSide, flipAverage: flipAverage,
                                      refinement: refine ? RefinementMethod.standard.refiner(threads: threads) : nil)
        let reporter = FlowProgressReporter(mode: progress, total: expectedFrames(reader.info))
        var window: [(frame: VideoFrame, features: FrameFeatures)] = []
        var renderer: FlowVideoRenderer?
        var pairs = 0, frames = 0
        let prefetcher = Prefetcher<(VideoFrame, FrameImage)?>()
        let nextFrame = { () throws -> (VideoFrame, FrameImage)? in
            guard let frame = try reader.nextFrame() else { return nil }
            return (frame, FrameImage(width: frame.width, height: frame.height, rgb8: frame.rgb))
        }
        let writer = BackgroundWriter()
        do {
            prefetcher.start(nextFrame)
            while let (frame, image) = try prefetcher.take() {
                prefetcher.start(nextFrame) // decode the next frame while this one goes through the network
                if let first = window.first?.frame, first.width != frame.width || first.height != frame.height {
                    throw VideoIOError(path: input, operation: "size change", message:
                        "frame \(frame.index) is \(frame.width)x\(frame.height), earlier frames \(first.width)x\(first.height)")
                }
                let features = estimator.features(image)
                window.append((frame, features))
                frames += 1
                if window.count > stride {
                    let (earlier, earlierFeatures) = window.removeFirst()
                    let forward = estimator.flow(from: earlierFeatures, to: features)
                    let back = backward ? estimator.flow(from: features, to: earlierFeatures) : nil
                    if let video, renderer == nil {
                        renderer = try FlowVideoRenderer(path: video, style: style, maxFlow: maxFlow, frameWidth: frame.width,
                                                         frameHeight: frame.height, info: reader.info)
                    }
                    let name = String(format: "%06d", earlier.index), activeRenderer = renderer
                    try writer.submit { [format] in
                        let folder = URL(fileURLWithPath: staged.path)
                        try FlowFile.write(forward, to: folder.appendingPathComponent("\(name).\(format.rawValue)"), format: format)
                        if let back {
                            try FlowFile.write(back, to: folder.appendingPathComponent("\(name).bw.\(format.rawValue)"), format: format)
                        }
                        try activeRenderer?.write(frame: earlier, flow: forward)
                    }
                    pairs += 1
                }
                reporter.update(frames: frames, pairs: pairs)
            }
            try writer.drain()
        } catch let error as VideoIOError {
            try? writer.drain()
            reporter.finish()
            // Errors of the video writer name the output; everything else here is the input's fault.
            printError(error.description)
            throw error.path == video ? Exit.failure : Exit.badInput
        } catch let error as FlowIOError {
            try? writer.drain()
            reporter.finish()
            printError("\(outputDir): \(error)")
            throw Exit.failure
        } catch {
            try? writer.drain()
            reporter.finish()
            printError("\(outputDir): \(error.localizedDescription)")
            throw Exit.failure
        }
        reporter.finish()
        guard pairs > 0 else {
            printError("\(input): \(frames) frame(s) decoded, a pair needs \(stride + 1) (check --start/--duration/--stride)")
            throw Exit.badInput
        }
        do {
            try renderer?.finish()
            try staged.commit()
        } catch {
            printError("\(outputDir): cannot complete the output (\(error))")
            throw Exit.failure
        }
        var summary = "wrote \(pairs) flow file(s)\(backward ? " (+ backward)" : "") to \(outputDir)"
        if let video { summary += " and \(renderer?.frameCount ?? 0) frame(s) to \(video)" }
        FileHandle.standardError.write(Data("\(summary)\n".utf8))
    }

    /// Frames the range should hold, for the ETA (nil when the file does not say).
    private func expectedFrames(_ info: VideoInfo) -> Int? {
        let rate = info.averageFrameRate.isValid ? info.averageFrameRate.doubleValue : 0
        guard rate > 0, info.duration > 0 else { return info.metadataFrameCount }
        let seconds = min(duration ?? .infinity, max(0, info.duration - start))
        return max(1, Int((seconds * rate).rounded()))
    }
}

/// A hidden name beside `path` for writing before the final rename (same folder, so the rename is atomic).
func temporarySibling(of path: String) -> String {
    let url = URL(fileURLWithPath: path)
    return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
}

/// The weights `--model` names, else the built-in ones; prints which weights run. Exit 1 when this build has no
/// built-in weights, 3 when the file is unusable.
func loadWeights(modelPath: String?) throws -> LoadedWeights {
    guard let path = modelPath ?? BuiltInWeights.path else {
        printError(BuiltInWeights.missingMessage)
        throw Exit.failure
    }
    do {
        let loaded = try WeightsFile.load(path: path)
        FileHandle.standardError.write(Data("\(modelPath == nil ? "built-in " : "")\(loaded.banner)\n".utf8))
        return loaded
    } catch let error as WeightsError {
        printError(error.description)
        throw Exit.badInput
    }
}
