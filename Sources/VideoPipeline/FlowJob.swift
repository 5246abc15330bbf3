import AtomicOutput
import Dataset
import FlowIO
import Foundation
import MCJEPA
import VideoIO

/// A flow video to render: where, in which style, and how its colours are scaled.
public struct FlowVideoRequest: Sendable {
    public var path: String
    public var style: FlowVideoStyle
    /// Flow magnitude (px) of full colour saturation; nil: robust, per shot (`RobustFlowScale`).
    public var maxFlow: Float?
    /// Draw the colour wheel in a corner.
    public var legend: Bool

    /// The legend is drawn by default for the `color` style, where it is the only key to the colours.
    public init(path: String, style: FlowVideoStyle = .color, maxFlow: Float? = nil, legend: Bool? = nil) {
        self.path = path
        self.style = style
        self.maxFlow = maxFlow
        self.legend = legend ?? (style == .color)
    }

    func output(_ options: EncodeOptions, replace: Bool) -> FlowVideoOutput {
        FlowVideoOutput(path: path, style: style, maxFlow: maxFlow, legend: legend, options: options, replace: replace)
    }
}

/// `flow`'s whole run: `FlowPairs` over a frame source, handed to the outputs on a writer task of their own
/// (`writeConcurrently`): flow files in a folder written under a temporary name and renamed when complete, and
/// optionally a rendered flow video. Existing outputs are refused unless `overwrite`.
public struct FlowJob {
    public let source: FrameInput
    public let decode: DecodeOptions
    public let outputFolder: String
    public let files: FlowFileOptions
    /// Frames between the two frames of a pair.
    public let stride: Int
    /// `SceneCutDetector`'s threshold; nil: no detection. An image pair is never cut.
    public let sceneCutThreshold: Double?
    public let video: FlowVideoRequest?
    public let overwrite: Bool

    /// Every kind of file a flow folder holds, in any format: `overwrite` replaces only a folder of these.
    public static let outputExtensions = Set(FlowFileFormat.allCases.map(\.rawValue) + ["png", "json"])

    public init(source: FrameInput, decode: DecodeOptions, outputFolder: String, files: FlowFileOptions, stride: Int = 1,
                sceneCutThreshold: Double? = SceneCutDetector.defaultThreshold, video: FlowVideoRequest? = nil,
                overwrite: Bool = false) {
        self.source = source
        self.decode = decode
        self.outputFolder = outputFolder
        self.files = files
        self.stride = stride
        self.sceneCutThreshold = sceneCutThreshold
        self.video = video
        self.overwrite = overwrite
    }

    /// Runs every pair through `estimator`, reporting progress (frames, and pairs as a counter) to `reporter`.
    /// - Throws: `VideoIOError` for an input that cannot be read, `AtomicOutputError` for an output that exists or
    ///   cannot be written, `VideoPipelineError` when no pair lies within one shot. Nothing is left behind then.
    public func run(estimator: FlowEstimator, reporter: ProgressReporter) async throws -> Summary {
        let opened = try source.open(decode)  // checks the input before any output is made
        try AtomicOutput.checkFree(outputFolder, overwrite: overwrite)
        if let video { try AtomicOutput.checkFree(video.path, overwrite: overwrite) }
        let staged = try StagedOutputFolder(outputFolder, overwrite: overwrite, outputExtensions: Self.outputExtensions)
        defer { staged.discardUnlessCommitted() }
        let (source, decode) = (source, decode)
        let fileOutput = FlowFileOutput(folder: staged.path, options: files, name: { source.name(ofFrame: $0, options: decode) })
        let videoOutput = video?.output(opened.encodeOptions, replace: overwrite)
        // Two images are the pair the user asked for; a video, pattern or folder of frames may hold cuts.
        let isPair = if case .imagePair = source { true } else { false }
        let pairs = FlowPairs(source: source, decode: decode, estimator: estimator, options: FlowPairOptions(
            stride: stride, backward: files.needsBackward, keepFrames: video != nil,
            sceneCutThreshold: isPair ? nil : sceneCutThreshold))
        let total = opened.expectedFrames
        var done = 0, pairCount = 0
        // The outputs (actors) are written by the writer task, and finished after it ends.
        let outputs: [FlowPairOutput] = [fileOutput] + (videoOutput.map { [$0] } ?? [])
        try await writeConcurrently(pairs, progress: { event in
            done = event.framesDecoded
            if case .pair = event { pairCount += 1 }
            reporter.update(done: done, total: total, counters: ["pairs": pairCount])
        }, write: { event in
            for output in outputs { try await output.write(event) }
        })
        for output in outputs { try await output.finish() }
        reporter.finish(done: done, total: total, counters: ["pairs": pairCount])
        let summary = Summary(job: self, pairs: await fileOutput.pairsWritten, skipped: await fileOutput.skipped.count,
                              videoFrames: await videoOutput?.frameCount ?? 0)
        guard summary.pairs > 0 else {
            throw VideoPipelineError(path: source.displayPath, reason: "\(done) frame(s) decoded, no pair of frames "
                                     + "\(stride) apart in one shot (check --start/--duration/--stride)")
        }
        try staged.commit(removingOnFailure: [video?.path].compactMap { $0 })
        return summary
    }

    /// What a run wrote; its description is the line a command prints.
    public struct Summary: CustomStringConvertible {
        public let job: FlowJob
        /// Pairs whose flow files were written.
        public let pairs: Int
        /// Pairs left out because a scene cut lies between their frames (listed in skipped.json).
        public let skipped: Int
        /// Frames of the flow video (0 without one).
        public let videoFrames: Int

        public var description: String {
            var text = "wrote \(pairs) flow file(s)\(job.files.backward ? " (+ backward)" : "") to \(job.outputFolder)"
            if skipped > 0 { text += "; \(skipped) pair(s) across scene cuts skipped (skipped.json)" }
            if let video = job.video { text += " and \(videoFrames) frame(s) to \(video.path)" }
            return text
        }
    }
}
