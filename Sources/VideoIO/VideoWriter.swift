import AtomicOutput
import CFFmpeg
import Foundation

/// Encodes RGB frames into a video file (H.264 or FFV1) or a PNG image sequence.
///
/// Frames are pushed one at a time. Output goes to a temporary name next to `path`; `finish()` completes the file
/// (encoder flush, trailer) and renames it, and a writer dropped without `finish()` deletes it, so an
/// interrupted write never leaves a half file under the final name.
///
/// Timestamps: `write(_ frame:)` keeps each frame's pts (rescaled to the writer's time base and shifted so the
/// first frame is at 0); `write(rgb:)` spaces frames evenly at `options.frameRate`. Each frame lasts until the
/// next one; the last lasts as long as the one before it (or one frame period).
public final class VideoWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public let options: EncodeOptions
    private let timeBase: Rational
    private let ticksPerFrame: Int64
    private let temporaryFile: String?
    private var container: ContainerEncoder?
    private var images: ImageSequenceEncoder?
    /// Frames wait here until the next one arrives, because a frame's duration is the gap to its successor.
    private var pending: (rgb: [UInt8], pts: Int64)?
    private var lastDuration: Int64?
    private var ptsOrigin: Int64?
    private var lastPts: Int64?
    private let replace: Bool
    /// The encoder is flushed (`complete`); `finished`: renamed into place too.
    private var completed = false
    private var finished = false

    /// Number of frames written so far.
    public private(set) var frameCount = 0

    /// - Throws: `VideoIOError` "cannot create" (unknown extension, missing folder, encoder not available).
    /// - Parameter replace: false refuses a `path` that exists when the finished file is renamed into place
    ///   (created by another process while this one wrote): "already exists", and the file is not written.
    public init(path: String, width: Int, height: Int, options: EncodeOptions = .init(), replace: Bool = true) throws {
        guard width > 0, height > 0 else {
            throw VideoIOError(path: path, operation: "cannot create", message: "size \(width)x\(height) is empty")
        }
        self.path = path
        self.width = width
        self.height = height
        self.options = options
        self.replace = replace
        timeBase = options.effectiveTimeBase
        ticksPerFrame = max(1, Int64((1 / options.frameRate.doubleValue / timeBase.doubleValue).rounded()))
        if options.codec == .png {
            temporaryFile = nil
            images = try ImageSequenceEncoder(path: path, firstNumber: options.firstImageNumber, replace: replace)
        } else {
            let temporary = AtomicOutput.temporaryPath(for: path)
            temporaryFile = temporary
            do {
                container = try ContainerEncoder(containerPath: path, outputPath: temporary, width: width,
                                                 height: height, options: options)
            } catch {
                unlink(temporary)
                throw error
            }
        }
    }

    deinit {
        if !finished, let temporaryFile {
            container = nil
            AtomicOutput.discard(temporaryFile)
        }
    }

    /// Writes a frame at its own timestamp (`frame.pts` in `frame.timeBase`). A PNG sequence names the file by
    /// `imageNumber` when given (e.g. the frame's index, so files match other per-frame outputs), else by count.
    /// - Throws: `VideoIOError` if the size differs from the writer's or timestamps do not increase.
    public func write(_ frame: VideoFrame, imageNumber: Int? = nil) throws {
        let pts = av_rescale_q(frame.pts, frame.timeBase.av, timeBase.av)
        if ptsOrigin == nil { ptsOrigin = pts }
        try write(rgb: frame.rgb, frameWidth: frame.width, frameHeight: frame.height, pts: pts - ptsOrigin!,
                  imageNumber: imageNumber)
    }

    /// Writes a picture one frame period after the previous frame.
    public func write(rgb: [UInt8]) throws {
        try write(rgb: rgb, frameWidth: width, frameHeight: rgb.count / max(1, width * 3),
                  pts: lastPts.map { $0 + ticksPerFrame } ?? 0)
    }

    public func write(_ image: RGBImage) throws {
        try write(rgb: image.rgb, frameWidth: image.width, frameHeight: image.height,
                  pts: lastPts.map { $0 + ticksPerFrame } ?? 0)
    }

    private func write(rgb: [UInt8], frameWidth: Int, frameHeight: Int, pts: Int64, imageNumber: Int? = nil) throws {
        guard !finished else {
            throw VideoIOError(path: path, operation: "cannot write", message: "the writer is already finished")
        }
        guard frameWidth == width, frameHeight == height, rgb.count == width * height * 3 else {
            throw VideoIOError(path: path, operation: "cannot write",
                               message: "frame is \(frameWidth)x\(frameHeight), the video \(width)x\(height)")
        }
        if let lastPts, pts <= lastPts {
            throw VideoIOError(path: path, operation: "cannot write",
                               message: "timestamp \(pts) does not follow \(lastPts); timestamps must increase")
        }
        lastPts = pts
        if let images {
            try images.encode(rgb: rgb, width: width, height: height, number: imageNumber)
        } else {
            if let pending { try send(pending, duration: pts - pending.pts) }
            pending = (rgb, pts)
        }
        frameCount += 1
    }

    private func send(_ frame: (rgb: [UInt8], pts: Int64), duration: Int64) throws {
        guard let container else { return }
        lastDuration = duration
        try container.encode(rgb: frame.rgb, width: width, height: height, pts: frame.pts, duration: duration)
    }

    /// Writes every frame of an async sequence (e.g. a `VideoReader`'s `frames()`), each at its own timestamp.
    /// Call `finish()` afterwards.
    public func write<Frames: AsyncSequence>(contentsOf frames: Frames) async throws
    where Frames.Element == VideoFrame {
        for try await frame in frames { try write(frame) }
    }

    /// Completes the file (last frame, encoder flush, trailer) and renames it to `path`.
    public func finish() throws {
        try complete()
        try commit()
    }

    /// Completes the file under its temporary name (last frame, encoder flush, trailer), for a caller that
    /// renames several outputs into place together (`commit`), so a failure leaves none of them.
    public func complete() throws {
        guard !completed else { return }
        if let images {
            try images.finish()
            finished = true
        } else if let container {
            if let pending { try send(pending, duration: lastDuration ?? ticksPerFrame) }
            pending = nil
            try container.finish()
        }
        completed = true
    }

    /// Renames the completed file to `path` (refusing an existing one unless `replace`).
    public func commit() throws {
        guard !finished else { return }
        if let temporaryFile {
            do {
                try AtomicOutput.commit(temporaryFile, to: path, replace: replace)
            } catch let error as AtomicOutputError {
                throw VideoIOError(path: path, operation: "cannot write", message: error.reason)
            }
        }
        finished = true
    }
}
