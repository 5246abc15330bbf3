import Foundation
import MCJEPA
import Segmentation
import VideoIO

/// The frame loop `propagate` and `segment` share: read the frames (a video or a folder of images), run the
/// network's encoder on each, ask the command for the frame's mask (object ids per pixel), and write it as a
/// DAVIS palette PNG DIR/<name>.png (see `MaskFrameSource.next`) plus, with `video`, the frame with the mask
/// drawn over it (MaskOverlay) at the frame's own timestamp, so the video keeps the input's timing. DIR is
/// written under a temporary name and renamed when complete; existing outputs are refused unless `overwrite`.
/// Errors are printed on one line and thrown as the command's exit code.
struct MaskVideoJob {
    let input: String
    let outputDir: String
    let video: String?
    let overwrite: Bool
    let threads: Int

    /// Opens the input (exit 3 when it is neither a readable video nor a folder of frames).
    func openInput() throws -> MaskFrameSource { try MaskFrameSource.open(input, threads: threads) }

    /// Runs the loop; `mask` gets each frame and its features and returns its object ids (width x height).
    /// Returns the number of frames written.
    func run(source: MaskFrameSource, encoder: ContentEncoder,
             mask: (VideoFrame, FrameFeatures) throws -> [UInt8]) throws -> Int {
        try checkOutputFree(outputDir, overwrite: overwrite)
        if let video { try checkOutputFree(video, overwrite: overwrite) }
        let staged = try StagedOutputFolder(outputDir)
        defer { staged.discardUnlessCommitted() }

        let reporter = FlowProgressReporter(mode: .auto, total: source.expectedFrames)
        var writer: VideoWriter?
        var frames = 0
        var size: (width: Int, height: Int)?
        do {
            while let (name, frame) = try source.next(after: frames) {
                if let size, size != (frame.width, frame.height) {
                    throw VideoIOError(path: input, operation: "size change", message:
                        "frame \(name) is \(frame.width)x\(frame.height), earlier frames \(size.width)x\(size.height)")
                }
                size = (frame.width, frame.height)
                let features = encoder.features(FrameImage(width: frame.width, height: frame.height, rgb8: frame.rgb))
                let ids = try mask(frame, features)
                let path = URL(fileURLWithPath: staged.path).appendingPathComponent("\(name).png").path
                try DAVISMasks.write(ids, width: frame.width, height: frame.height, path: path)
                if let video {
                    if writer == nil {
                        writer = try VideoWriter(path: video, width: frame.width, height: frame.height,
                                                 options: source.encodeOptions)
                    }
                    let drawn = MaskOverlay.draw(rgb: frame.rgb, width: frame.width, height: frame.height, labels: ids)
                    if case .video = source {
                        try writer?.write(VideoFrame(width: frame.width, height: frame.height, rgb: drawn, index: frame.index,
                                                     pts: frame.pts, timeBase: frame.timeBase, seconds: frame.seconds))
                    } else {
                        try writer?.write(rgb: drawn)  // still frames: one frame period apart
                    }
                }
                frames += 1
                reporter.update(frames: frames, pairs: 0)
            }
            reporter.finish()
        } catch let error as VideoIOError {
            reporter.finish()
            // Errors of the video writer name the output; everything else here is the input's fault.
            printError(error.description)
            throw error.path == video ? Exit.failure : Exit.badInput
        } catch let error as SegmentationError {
            reporter.finish()
            printError(error.description)
            throw Exit.failure
        }
        guard frames > 0 else {
            printError("\(input): no frames decoded")
            throw Exit.badInput
        }
        do {
            try writer?.finish()
            try staged.commit()
        } catch {
            printError("\(outputDir): cannot complete the output (\(error))")
            throw Exit.failure
        }
        var summary = "wrote \(frames) mask(s) to \(outputDir)"
        if let video { summary += " and \(writer?.frameCount ?? 0) frame(s) to \(video)" }
        FileHandle.standardError.write(Data("\(summary)\n".utf8))
        return frames
    }
}
