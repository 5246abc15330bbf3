import Foundation
import MCJEPA
import Segmentation
import VideoIO
import VideoPipeline

/// The frame loop `propagate` and `segment` share: frames (decoded a few ahead) -> the network's encoder -> the
/// command's mask for the frame -> VideoPipeline's `MaskOutput` (palette PNGs named by `FrameInput.name(ofFrame:)`
/// and an optional overlay video). DIR is written under a temporary name and renamed when complete; existing
/// outputs are refused unless `overwrite`. Errors are printed on one line and thrown as the command's exit code.
struct MaskVideoJob {
    let input: VideoInputOptions
    let outputDir: String
    let video: String?
    let overwrite: Bool
    let threads: Int
    let reporter: ProgressReporter
    /// Weight of the colours in the overlay's fill (outlines are solid).
    var opacity: Float = 0.5
    /// Ids listed in the overlay's legend (colour swatch and number), in order; empty: no legend.
    var legend: [UInt8] = []

    /// Opens the input (exit 3 when it is neither a readable video nor a folder of frames).
    func openInput() throws -> FrameInput { try input.frameInput() }

    /// Runs the loop; `mask` gets each frame and its features (`estimator.features`, so they serve its flow too)
    /// and returns its object ids (width x height). Returns the number of frames written.
    func run(source: FrameInput, estimator: FlowEstimator,
             mask: (VideoFrame, FrameFeatures) throws -> [UInt8]) async throws -> Int {
        let decode = input.decodeOptions(threads: threads)
        let opened = try openOrExit(source, decode)
        try checkOutputFree(outputDir, overwrite: overwrite)
        if let video { try checkOutputFree(video, overwrite: overwrite) }
        let staged = try StagedOutputFolder(outputDir, overwrite: overwrite, outputExtensions: ["png"])
        defer { staged.discardUnlessCommitted() }
        let output = MaskOutput(folder: staged.path, video: video, encodeOptions: opened.encodeOptions, replace: overwrite,
                                name: { source.name(ofFrame: $0, options: decode) })
        output.overlayOpacity = opacity
        output.legend = legend
        try await runReportingErrors(input: source.displayPath) {
            for try await frame in source.framesDecodedAhead(decode) {
                try output.write(frame: frame, ids: try mask(frame, estimator.features(FrameImage(frame))),
                                 input: source.displayPath)
                reporter.update(done: output.framesWritten, total: opened.expectedFrames)
            }
            reporter.finish(done: output.framesWritten, total: opened.expectedFrames)
            guard output.framesWritten > 0 else {
                printError("\(source.displayPath): no frames decoded (check --start/--duration)")
                throw Exit.badInput
            }
            try output.finish()
        }
        try staged.commitOrExit(removingOnFailure: [video].compactMap { $0 })
        print("wrote \(output.framesWritten) mask(s) to \(outputDir)" + (video.map { " and \(output.videoFrameCount) frame(s) to \($0)" } ?? ""))
        return output.framesWritten
    }
}
