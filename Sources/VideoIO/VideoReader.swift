import CFFmpeg

/// Decodes a video file's best video stream into upright RGB frames, one at a time.
///
/// Frames are decoded lazily, so memory stays flat however long the video is. A reader is a single pass:
/// `nextFrame()`, `frames()` and `framePairs(stride:)` all advance the same position. Not thread-safe; use it
/// from one task at a time.
///
/// ```swift
/// let reader = try VideoReader(path: "input.mp4", options: .init(maxSide: 640))
/// for try await frame in reader.frames() { ... }
/// ```
public final class VideoReader {
    public let path: String
    public let options: DecodeOptions
    /// The file's headers (as `probe(path:)` reports them, without its first-frame check).
    public let info: VideoInfo
    private let input: DecodingInput
    private let converter: RGBConverter
    /// First and end (exclusive) timestamps of the requested range, in the stream's time base.
    private let firstPts: Int64
    private let endPts: Int64?
    private var nextIndex = 0
    private var lastPts: Int64?
    private var finished = false

    /// Opens `path` and, when `options.start` > 0, seeks to the keyframe before the start time.
    /// - Throws: `VideoIOError` ("cannot open", "no video stream", "cannot decode").
    public init(path: String, options: DecodeOptions = .init()) throws {
        self.path = path
        self.options = options
        let input = try DecodingInput(path: path, threads: options.threads)
        self.input = input
        converter = RGBConverter(threads: options.threads)
        info = VideoInfo(input: input)
        let ticksPerSecond = 1 / input.timeBase.doubleValue
        // A frame shown exactly at `start` is kept despite floating-point error in the conversion to ticks.
        let toTicks = { (seconds: Double) in Int64((seconds * ticksPerSecond - 1e-6).rounded(.up)) }
        firstPts = input.streamStartPts + toTicks(max(0, options.start))
        endPts = options.duration.map { input.streamStartPts + toTicks(max(0, options.start) + max(0, $0)) }
        if options.start > 0 {
            // If the format cannot seek, frames before the start are decoded and dropped instead.
            _ = input.seek(toPts: firstPts)
        }
    }

    /// The next frame in presentation order, or nil after the last one (or past `start + duration`).
    /// - Throws: `VideoIOError` when reading or decoding fails (e.g. a truncated file).
    public func nextFrame() throws -> VideoFrame? {
        guard let pts = try decodeNextInRange() else { return nil }
        let frame = input.frame.pointee
        let rotation = info.rotation
        let sar = !options.squarePixels ? Rational(1, 1)
            : frame.sample_aspect_ratio.num > 0 ? Rational(frame.sample_aspect_ratio) : info.sampleAspectRatio
        let geometry = FrameGeometry(width: Int(frame.width), height: Int(frame.height), sar: sar,
                                     rotation: rotation, size: options.size)
        let rgb = try converter.convert(input.frame, geometry: geometry, path: path)
        defer { nextIndex += 1 }
        return VideoFrame(width: geometry.outputWidth, height: geometry.outputHeight, rgb: rgb, index: nextIndex,
                          pts: pts, timeBase: input.timeBase,
                          seconds: Double(pts - input.streamStartPts) * input.timeBase.doubleValue)
    }

    /// Decodes the next frame without converting it (for counting or skipping); false at the end.
    public func skipFrame() throws -> Bool {
        guard try decodeNextInRange() != nil else { return false }
        nextIndex += 1
        return true
    }

    /// Decodes until a frame inside [start, start + duration) and returns its pts; nil at the end.
    private func decodeNextInRange() throws -> Int64? {
        while !finished {
            guard try input.decodeNextFrame() else {
                finished = true
                return nil
            }
            // Frames without any timestamp continue from the previous one at the nominal rate.
            let pts = input.framePts ?? ((lastPts ?? (firstPts - 1)) + nominalFrameTicks)
            lastPts = pts
            if pts < firstPts { continue }
            if let endPts, pts >= endPts {
                finished = true
                return nil
            }
            return pts
        }
        return nil
    }

    private lazy var nominalFrameTicks: Int64 = {
        let rate = info.averageFrameRate.isValid ? info.averageFrameRate : info.realFrameRate
        guard rate.isValid else { return 1 }
        return max(1, Int64((1 / rate.doubleValue / input.timeBase.doubleValue).rounded()))
    }()

    /// Packets the decoder rejected as corrupt so far (decoding continued past them).
    public var corruptPacketCount: Int { input.corruptPacketCount }

    /// The frames as an `AsyncSequence`, decoded one per `next()`.
    public func frames() -> VideoFrames { VideoFrames(reader: self) }

    /// Pairs of frames `stride` apart: (0, stride), (1, 1 + stride), ... Holds at most `stride + 1` frames.
    public func framePairs(stride: Int = 1) -> VideoFramePairs {
        precondition(stride >= 1, "stride must be at least 1")
        return VideoFramePairs(reader: self, stride: stride)
    }
}
