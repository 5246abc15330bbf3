import AsyncAlgorithms
import Dataset
import FlowIO
import MCJEPA
import VideoIO

/// What `FlowPairs` computes for each pair (i, i + stride).
public struct FlowPairOptions: Sendable {
    /// Frames between the two frames of a pair.
    public var stride: Int
    /// Also compute the flow from the second frame back to the first (needed by the occlusion and confidence maps).
    public var backward: Bool
    /// Hand each pair's first frame to the outputs (a rendered video needs it; flow files do not).
    public var keepFrames: Bool
    /// Scene-cut threshold of `SceneCutDetector` on consecutive frames; no pair is made across a cut. nil: no
    /// detection (an image pair is always one pair).
    public var sceneCutThreshold: Double?
    /// Most bytes the frames waiting for their partner may hold. Past it, the first frames of pairs are decoded a
    /// second time instead of kept, so memory stays flat for any stride (at the cost of encoding each frame twice).
    public var memoryBudget: Int
    /// Frames decoded ahead of the network.
    public var decodeAhead: Int

    public init(stride: Int = 1, backward: Bool = false, keepFrames: Bool = false,
                sceneCutThreshold: Double? = SceneCutDetector.defaultThreshold, memoryBudget: Int = 384 << 20,
                decodeAhead: Int = 2) {
        precondition(stride >= 1, "stride must be at least 1")
        self.stride = stride
        self.backward = backward
        self.keepFrames = keepFrames
        self.sceneCutThreshold = sceneCutThreshold
        self.memoryBudget = memoryBudget
        self.decodeAhead = decodeAhead
    }
}

/// One step of `FlowPairs`: a pair's flow, or a pair left out because a scene cut lies between its frames.
public enum FlowPairEvent: Sendable {
    case pair(FlowPair)
    /// Frames `first` and `second` are in different shots: the cut is at frame `cut` (its first frame).
    case skipped(first: Int, second: Int, cut: Int)
    /// The last event: every frame of the source was read.
    case end(frames: Int)

    /// Frames decoded when the event was produced (for progress).
    public var framesDecoded: Int {
        switch self {
        case .pair(let pair): return pair.framesDecoded
        case .skipped(_, let second, _): return second + 1
        case .end(let frames): return frames
        }
    }
}

/// The flow of frames `first` -> `second` (indices counted from the decode start), at the frames' full size.
public struct FlowPair: Sendable {
    public let first: Int
    public let second: Int
    /// The first frame's picture, when `keepFrames` asked for it.
    public let firstFrame: VideoFrame?
    public let forward: FlowField
    public let backward: FlowField?
    /// Whether a scene cut lies shortly before this pair (a rendered video's colour scale restarts there).
    public let startsShot: Bool
    public var framesDecoded: Int { second + 1 }

    public init(first: Int, second: Int, firstFrame: VideoFrame?, forward: FlowField, backward: FlowField?,
                startsShot: Bool) {
        self.first = first
        self.second = second
        self.firstFrame = firstFrame
        self.forward = forward
        self.backward = backward
        self.startsShot = startsShot
    }
}

/// The flow of every pair (i, i + stride) of a frame source, as an `AsyncSequence`. Frames are decoded in a task
/// of their own, `decodeAhead` frames ahead (a bounded buffer), while `next()` runs the network; each frame's
/// features are computed once and kept until their pair is done (`FlowEstimator.features`, then
/// `FlowEstimator.flow(from:to:)`). When `stride` frames' features would exceed `memoryBudget`, the source is
/// read twice instead, one pass `stride` frames behind the other.
///
/// ```swift
/// for try await event in FlowPairs(source: try FrameInput(inputs: ["clip.mp4"]), estimator: estimator) {
///     if case .pair(let pair) = event { try FlowFile.write(pair.forward, to: ...) }
/// }
/// ```
public struct FlowPairs: AsyncSequence {
    public typealias Element = FlowPairEvent
    public let source: FrameInput
    public let decode: DecodeOptions
    public let estimator: FlowEstimator
    public let options: FlowPairOptions

    public init(source: FrameInput, decode: DecodeOptions = .init(), estimator: FlowEstimator,
                options: FlowPairOptions = .init()) {
        self.source = source
        self.decode = decode
        self.estimator = estimator
        self.options = options
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(self) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        typealias Frames = AsyncBufferSequence<InputFrames>.AsyncIterator
        private let sequence: FlowPairs
        private var lead: Frames
        /// A frame read ahead of the one being paired, so the cut decision on it is known (the detector decides
        /// one frame late).
        private var lookahead: VideoFrame?
        private var leadEnded = false
        private var detector: SceneCutDetector?
        /// Frames that start a shot, ascending.
        private var cuts: [Int] = []
        private var lastCutHandled = -1
        /// Features (and frames when kept) of the last `stride` frames, oldest first; or, when re-reading, the
        /// pass `stride` frames behind the lead.
        private var window: [(frame: VideoFrame?, features: FrameFeatures?)] = []
        private var trail: Frames?
        /// Whether the source is read twice (decided on the first frame); nil before it.
        private var rereading: Bool?
        private var frameSize: (width: Int, height: Int)?
        private var framesRead = 0
        private var ended = false

        init(_ sequence: FlowPairs) {
            self.sequence = sequence
            lead = sequence.source.frames(sequence.decode).buffer(policy: .bounded(sequence.options.decodeAhead))
                .makeAsyncIterator()
            detector = sequence.options.sceneCutThreshold.map { SceneCutDetector(threshold: $0) }
        }

        /// The lead pass's next frame once the cut decision on it is known; nil at the end.
        private mutating func nextLeadFrame() async throws -> VideoFrame? {
            if lookahead == nil && !leadEnded { lookahead = try await readLead() }
            guard let frame = lookahead else { return nil }
            framesRead += 1
            lookahead = leadEnded ? nil : try await readLead()
            if lookahead == nil, detector != nil, detector!.finish() == true { cuts.append(frame.index) }
            return frame
        }

        private mutating func readLead() async throws -> VideoFrame? {
            guard let frame = try await lead.next() else {
                leadEnded = true
                return nil
            }
            if detector != nil {
                let thumbnail = Thumbnail(frame.image)
                if detector!.push(thumbnail) == true { cuts.append(frame.index - 1) }
            }
            return frame
        }

        public mutating func next() async throws -> FlowPairEvent? {
            let stride = sequence.options.stride, estimator = sequence.estimator, keepFrames = sequence.options.keepFrames
            while let frame = try await nextLeadFrame() {
                if let size = frameSize, size != (frame.width, frame.height) {
                    throw VideoIOError(path: sequence.source.displayPath, operation: "size change", message:
                        "frame \(frame.index) is \(frame.width)x\(frame.height), earlier frames \(size.width)x\(size.height)")
                }
                let i = frame.index - stride
                let cut = cuts.last { $0 > i && $0 <= frame.index }
                guard let reread = rereading else {
                    // The first frame: decide from its features whether `stride` frames' worth fit the budget.
                    frameSize = (frame.width, frame.height)
                    let features = estimator.features(FrameImage(frame))
                    let bytes = features.byteCount + (keepFrames ? frame.rgb.count : 0)
                    rereading = stride > 1 && stride * bytes > sequence.options.memoryBudget
                    if rereading! {
                        trail = sequence.source.frames(sequence.decode).buffer(policy: .bounded(1)).makeAsyncIterator()
                        _ = try await trail!.next()  // frame 0, whose features are in the window already
                    }
                    window.append((keepFrames ? frame : nil, features))
                    continue
                }
                if reread {
                    // The window holds at most frame 0; the trailing pass supplies the later first frames.
                    guard i >= 0 else { continue }
                    var earlier: (frame: VideoFrame?, features: FrameFeatures?)
                    if !window.isEmpty {
                        earlier = window.removeFirst()
                    } else {
                        guard let again = try await trail!.next() else { return nil }
                        earlier = (again, nil)
                    }
                    if let cut { return .skipped(first: i, second: frame.index, cut: cut) }
                    let first = earlier.features ?? estimator.features(FrameImage(earlier.frame!))
                    return .pair(makePair(i, frame, earlier.frame, first, estimator.features(FrameImage(frame))))
                }
                // Keeping features: each frame's are computed once and serve both pairs it belongs to.
                let features = estimator.features(FrameImage(frame))
                window.append((keepFrames ? frame : nil, features))
                guard window.count > stride else { continue }
                let earlier = window.removeFirst()
                if let cut { return .skipped(first: i, second: frame.index, cut: cut) }
                return .pair(makePair(i, frame, earlier.frame, earlier.features!, features))
            }
            guard !ended else { return nil }
            ended = true
            return .end(frames: framesRead)
        }

        private mutating func makePair(_ i: Int, _ frame: VideoFrame, _ firstFrame: VideoFrame?, _ first: FrameFeatures,
                                       _ second: FrameFeatures) -> FlowPair {
            let estimator = sequence.estimator
            let forward = estimator.flow(from: first, to: second)
            let backward = sequence.options.backward ? estimator.flow(from: second, to: first) : nil
            let lastCut = cuts.last(where: { $0 <= i }) ?? -1
            defer { lastCutHandled = lastCut }
            return FlowPair(first: i, second: frame.index, firstFrame: sequence.options.keepFrames ? firstFrame : nil,
                            forward: forward, backward: backward, startsShot: lastCut > lastCutHandled)
        }
    }
}

extension FrameFeatures {
    /// Bytes the features hold (pyramids and luma), to decide how many frames' worth fit in memory.
    var byteCount: Int {
        let pyramids = pyramid.reduce(0) { $0 + $1.count } + (mirroredPyramid ?? []).reduce(0) { $0 + $1.count }
        return 4 * (pyramids + (luma?.pixels.count ?? 0))
    }
}

extension FrameImage {
    /// A decoded frame as the network's input.
    public init(_ frame: VideoFrame) { self.init(width: frame.width, height: frame.height, rgb8: frame.rgb) }
}

extension FrameInput {
    /// The frames decoded on a task of their own, up to `ahead` frames ahead of the consumer.
    public func framesDecodedAhead(_ options: DecodeOptions, ahead: Int = 2) -> AsyncBufferSequence<InputFrames> {
        frames(options).buffer(policy: .bounded(ahead))
    }
}
