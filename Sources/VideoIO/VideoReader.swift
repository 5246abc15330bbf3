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
    /// Replaced by a freshly opened one when no seek finds a clean way to `start` (see `positionAtStart`).
    private var input: DecodingInput
    private let converter: RGBConverter
    /// First and end (exclusive) timestamps of the requested range, in the stream's time base.
    private let firstPts: Int64
    private let endPts: Int64?
    private var nextIndex = 0
    private var lastPts: Int64?
    private var finished = false
    /// Whether `positionAtStart` has run. It runs at the first read, so opening stays cheap and a file that cannot
    /// be decoded fails where reading does.
    private var positioned = false
    /// The pts of the frame `positionAtStart` left decoded in `input.frame`, to be read before decoding on.
    private var pendingPts: Int64?
    /// Corrupt packets counted on seek landings given up (their packets are read again from an earlier one).
    private var discardedCorruptPackets = 0

    /// Opens `path`. When `options.start` > 0, the first read seeks to a keyframe before the start time and
    /// decodes from there (see `positionAtStart`).
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
        if !positioned {
            positioned = true
            pendingPts = try positionAtStart()
        }
        while !finished {
            let decoded: Int64?
            if let pending = pendingPts {
                pendingPts = nil
                decoded = pending
            } else {
                decoded = try decodeTimedFrame()
            }
            guard let pts = decoded else {
                finished = true
                return nil
            }
            if pts < firstPts { continue }
            if let endPts, pts >= endPts {
                finished = true
                return nil
            }
            return pts
        }
        return nil
    }

    /// Decodes the next frame and returns its pts; nil at the end of the stream.
    private func decodeTimedFrame() throws -> Int64? {
        guard try input.decodeNextFrame() else { return nil }
        // Frames without any timestamp continue from the previous one at the nominal rate.
        let pts = input.framePts ?? ((lastPts ?? (firstPts - 1)) + nominalFrameTicks)
        lastPts = pts
        return pts
    }

    /// Seeks so that frames from `start` on decode exactly as in a pass from the beginning of the file. Returns
    /// the pts of the first frame at or after `start`, left decoded in `input.frame`; nil when decoding just goes
    /// on from where the input is (at the beginning, or the end of the stream was reached before `start`).
    ///
    /// A seek should land on a keyframe at or before its target, from which decoding is clean. Two kinds of file
    /// break that. Demuxers without an index (MPEG program streams) find the target by a timestamp search that
    /// can land up to a GOP past it, and the frames in between would be silently lost. Files that mark frames as
    /// keyframes although later frames still refer across them (python3-imageio's cockatoo.mp4) decode from
    /// there to concealed garbage. Both show in the frames from the landing to the target, which are decoded
    /// anyway, so each landing is checked (`inspectLanding`) and a bad one is tried again from further back;
    /// after a few tries the file is decoded from its beginning, which is always right but slowest.
    private func positionAtStart() throws -> Int64? {
        guard options.start > 0 else { return nil }
        let second = max(1, Int64((1 / input.timeBase.doubleValue).rounded()))
        // One tick before the target: a good landing then decodes at least one frame before it, which is how it
        // is told from a late one (whose first frame is already at or past the target).
        var seekTarget = firstPts - 1
        for attempt in 0..<4 {
            // A target at or before the stream's first timestamp means the beginning, and so does a format that
            // cannot seek. Before the first try nothing was decoded, so decoding on from where the input is (and
            // dropping frames before the start) is right; after a landing, the file is opened afresh below.
            guard seekTarget > input.streamStartPts, input.seek(toPts: seekTarget) else {
                if attempt == 0 { return nil }
                break
            }
            switch try inspectLanding() {
            case .usable(let pts):
                return pts
            case .unusable(let landing):
                // Further back each time (1, 4, 16 seconds before the target), and before this landing.
                seekTarget = min(firstPts - (second << (2 * attempt)), landing - 1)
            }
        }
        input = try DecodingInput(path: path, threads: options.threads)
        lastPts = nil
        discardedCorruptPackets = 0
        return nil
    }

    private enum Landing {
        /// The first frame at or after the target (nil: the stream ended before it), decoded cleanly.
        case usable(Int64?)
        /// Late or damaged; the pts of its keyframe (or first frame), which the next try must seek before.
        case unusable(Int64)
    }

    /// Decodes from a fresh seek landing up to the first frame at or after `start` and judges the landing. It is
    /// usable when it decoded a frame before the target and the decoder reported no errors and rejected no
    /// packets from the landing's keyframe on. Frames shown before that keyframe (an open GOP's leading B-frames,
    /// which refer to the GOP before) may be broken harmlessly: they precede the target and nothing after the
    /// keyframe refers to them. When no keyframe is seen at all, errors anywhere make the landing unusable.
    private func inspectLanding() throws -> Landing {
        lastPts = nil
        let corruptAtLanding = input.corruptPacketCount
        var corruptAtKeyframe = corruptAtLanding
        var firstPtsDecoded: Int64?
        var keyframePts: Int64?
        var errorsBeforeKeyframe = false
        var reached: Int64?
        func unusable() -> Landing {
            discardedCorruptPackets += input.corruptPacketCount - corruptAtLanding
            return .unusable(keyframePts ?? firstPtsDecoded ?? firstPts)
        }
        while let pts = try decodeTimedFrame() {
            if firstPtsDecoded == nil {
                firstPtsDecoded = pts
                if pts >= firstPts { return unusable() }
            }
            if keyframePts == nil, input.frameIsKeyframe {
                keyframePts = pts
                corruptAtKeyframe = input.corruptPacketCount
            }
            if input.frameHasDecodeErrors {
                if keyframePts != nil { return unusable() }
                errorsBeforeKeyframe = true
            }
            if pts >= firstPts {
                reached = pts
                break
            }
        }
        // Decoding nothing at all may mean the landing was past the last keyframe. A first keyframe at the target
        // means decoding began between keyframes: the frames before it lacked their references.
        guard firstPtsDecoded != nil, !(keyframePts == nil && errorsBeforeKeyframe),
              (keyframePts ?? firstPts - 1) < firstPts,
              input.corruptPacketCount == corruptAtKeyframe else { return unusable() }
        return .usable(reached)
    }

    private lazy var nominalFrameTicks: Int64 = {
        let rate = info.averageFrameRate.isValid ? info.averageFrameRate : info.realFrameRate
        guard rate.isValid else { return 1 }
        return max(1, Int64((1 / rate.doubleValue / input.timeBase.doubleValue).rounded()))
    }()

    /// Packets the decoder rejected as corrupt so far (decoding continued past them).
    public var corruptPacketCount: Int { input.corruptPacketCount - discardedCorruptPackets }

    /// The frames as an `AsyncSequence`, decoded one per `next()`.
    public func frames() -> VideoFrames { VideoFrames(reader: self) }

    /// Pairs of frames `stride` apart: (0, stride), (1, 1 + stride), ... Holds at most `stride + 1` frames.
    public func framePairs(stride: Int = 1) -> VideoFramePairs {
        precondition(stride >= 1, "stride must be at least 1")
        return VideoFramePairs(reader: self, stride: stride)
    }
}
