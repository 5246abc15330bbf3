import AtomicOutput
import Foundation
import MCJEPA
import VideoIO

/// The frame loop `propagate` and `segment` share: frames (decoded a few ahead) -> the network's encoder -> the
/// caller's mask for the frame -> `MaskOutput` (palette PNGs named by `FrameInput.name(ofFrame:)` and an optional
/// overlay video). The folder is written under a temporary name and renamed when complete; existing outputs are
/// refused unless `overwrite`.
public struct MaskVideoJob {
    public let source: FrameInput
    public let decode: DecodeOptions
    public let outputFolder: String
    public let video: String?
    public let overwrite: Bool
    /// Weight of the colours in the overlay's fill (outlines are solid).
    public var opacity: Float = 0.5
    /// Ids listed in the overlay's legend (colour swatch and number), in order; empty: no legend.
    public var legend: [UInt8] = []

    public init(source: FrameInput, decode: DecodeOptions, outputFolder: String, video: String?, overwrite: Bool) {
        self.source = source
        self.decode = decode
        self.outputFolder = outputFolder
        self.video = video
        self.overwrite = overwrite
    }

    /// Runs the loop; `mask` gets each frame and its features (`estimator.features`, so they serve its flow too)
    /// and returns its object ids (width x height).
    /// - Throws: `VideoIOError` for an input that cannot be read, `AtomicOutputError` for an output that exists or
    ///   cannot be written, `VideoPipelineError` when no frame is decoded; whatever `mask` throws. Nothing is left
    ///   behind then.
    public func run(estimator: FlowEstimator, reporter: ProgressReporter,
                    mask: (VideoFrame, FrameFeatures) throws -> [UInt8]) async throws -> Summary {
        let opened = try source.open(decode)  // checks the input before any output is made
        try AtomicOutput.checkFree(outputFolder, overwrite: overwrite)
        if let video { try AtomicOutput.checkFree(video, overwrite: overwrite) }
        let staged = try StagedOutputFolder(outputFolder, overwrite: overwrite, outputExtensions: ["png"])
        defer { staged.discardUnlessCommitted() }
        let output = MaskOutput(folder: staged.path, video: video, encodeOptions: opened.encodeOptions,
                                replace: overwrite, name: { source.name(ofFrame: $0, options: decode) })
        output.overlayOpacity = opacity
        output.legend = legend
        for try await frame in source.framesDecodedAhead(decode) {
            try output.write(frame: frame, ids: try mask(frame, estimator.features(FrameImage(frame))),
                             input: source.displayPath)
            reporter.update(done: output.framesWritten, total: opened.expectedFrames)
        }
        reporter.finish(done: output.framesWritten, total: opened.expectedFrames)
        guard output.framesWritten > 0 else {
            throw VideoPipelineError(path: source.displayPath, reason: "no frames decoded (check --start/--duration)")
        }
        try output.finish()
        try staged.commit(removingOnFailure: [video].compactMap { $0 })
        return Summary(job: self, masks: output.framesWritten, videoFrames: output.videoFrameCount)
    }

    /// What a run wrote; its description is the line a command prints.
    public struct Summary: CustomStringConvertible {
        public let job: MaskVideoJob
        public let masks: Int
        /// Frames of the overlay video (0 without one).
        public let videoFrames: Int

        public var description: String {
            "wrote \(masks) mask(s) to \(job.outputFolder)" + (job.video.map { " and \(videoFrames) frame(s) to \($0)" } ?? "")
        }
    }
}
