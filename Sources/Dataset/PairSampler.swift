import VideoIO

/// How frame pairs are chosen from a video.
public struct SamplingOptions: Equatable, Sendable {
    /// Frames between the two frames of a pair; pairs are chained (the second frame starts the next pair).
    public var stride: Int = 1
    /// Pairs whose motion score is below this are skipped as near-static (0 keeps all).
    public var minMotion: Double = 0
    /// Most pairs kept per video; decoding stops once reached.
    public var maxPairs: Int = 64
    public var cutThreshold: Double = SceneCutDetector.defaultThreshold

    public init(stride: Int = 1, minMotion: Double = 0, maxPairs: Int = 64,
                cutThreshold: Double = SceneCutDetector.defaultThreshold) {
        self.stride = stride
        self.minMotion = minMotion
        self.maxPairs = maxPairs
        self.cutThreshold = cutThreshold
    }
}

/// A sampled pair, still at decoded size.
public struct SampledPair: Sendable {
    public var first: VideoFrame
    public var second: VideoFrame
    /// Mean absolute difference of the two frames' 32x32 luma thumbnails (0...1): a cheap stand-in for motion.
    public var motion: Double
    /// Shot index within the video (both frames are in it).
    public var scene: Int
}

/// Turns a stream of frames into training pairs, one frame at a time with two frames held (bounded memory).
///
/// Pairs are `(a, a+stride)` chained from the first frame of each shot. A scene cut restarts the chain at the
/// first frame of the new shot, so no pair spans a cut; near-static pairs are dropped but still move the chain on,
/// which keeps the chosen frame indices independent of `minMotion` decisions elsewhere in the video. The cut
/// detector decides a frame once it has seen the next one, so frames reach the pairing one frame late and
/// `finish()` flushes the last one.
public struct PairSampler {
    public let options: SamplingOptions
    private var detector: SceneCutDetector
    private var pending: (frame: VideoFrame, thumbnail: Thumbnail)?
    private var anchor: (frame: VideoFrame, thumbnail: Thumbnail)?
    private var framesSinceAnchor = 0
    public private(set) var pairsKept = 0
    public private(set) var pairsSkippedStatic = 0
    public private(set) var sceneCuts = 0

    public init(options: SamplingOptions) {
        self.options = options
        self.detector = SceneCutDetector(threshold: options.cutThreshold)
    }

    /// True once `maxPairs` pairs were produced: the caller can stop decoding.
    public var isFull: Bool { pairsKept >= options.maxPairs }

    /// Feeds the next decoded frame; may return the pair that the previous frame completes.
    public mutating func feed(_ frame: VideoFrame) -> SampledPair? {
        let thumbnail = Thumbnail(frame.image)
        let decision = detector.push(thumbnail)
        defer { pending = (frame, thumbnail) }
        guard let previous = pending, let decision else { return nil }
        return place(previous.frame, previous.thumbnail, startsShot: decision)
    }

    /// Call after the last frame: places the frame still waiting for its cut decision.
    public mutating func finish() -> SampledPair? {
        guard let last = pending, let decision = detector.finish() else { return nil }
        pending = nil
        return place(last.frame, last.thumbnail, startsShot: decision)
    }

    private mutating func place(_ frame: VideoFrame, _ thumbnail: Thumbnail, startsShot: Bool) -> SampledPair? {
        if startsShot {
            sceneCuts += 1
            anchor = nil
        }
        guard let current = anchor, !isFull else {
            if anchor == nil { anchor = (frame, thumbnail); framesSinceAnchor = 0 }
            return nil
        }
        framesSinceAnchor += 1
        guard framesSinceAnchor == options.stride else { return nil }
        anchor = (frame, thumbnail)
        framesSinceAnchor = 0
        let motion = current.thumbnail.meanAbsoluteDifference(thumbnail)
        if motion < options.minMotion {
            pairsSkippedStatic += 1
            return nil
        }
        pairsKept += 1
        return SampledPair(first: current.frame, second: frame, motion: motion, scene: detector.sceneIndex)
    }
}
