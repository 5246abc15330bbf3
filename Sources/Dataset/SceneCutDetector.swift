/// Content-change detector on consecutive frames' 32x32 luma thumbnails.
///
/// The score of frame i is the mean absolute difference between the thumbnails of frames i-1 and i (0...1), at
/// the best shift of up to 2 cells so a pan does not count. A hard cut is a spike: frame i is a cut when its
/// score exceeds `threshold` (default 0.12; PySceneDetect's content detector default, 27/255, is of the same
/// order) and is at least `minimumRatio` times the mean score of its neighbours i-1 and i+1, or exceeds
/// `certainThreshold` outright. The ratio test is what keeps a burst of fast motion or a fade, whose scores stay
/// high over several frames, from being taken for a cut (e.g. a bird's wing sweeping past the lens). Deciding on
/// frame i needs frame i+1's score, so decisions come one frame late.
public struct SceneCutDetector: Sendable {
    public static let defaultThreshold = 0.12
    public static let minimumRatio = 3.0
    public static let certainThreshold = 0.35

    public let threshold: Double
    private var previousThumbnail: Thumbnail?
    /// Scores of the frame before the one awaiting a decision, and of that frame (nil before the first frame).
    private var scoreBefore: Double?
    private var pendingScore: Double?
    /// Index of the shot of the last frame decided, starting at 0 and bumped at every cut.
    public private(set) var sceneIndex = 0

    public init(threshold: Double = defaultThreshold) {
        self.threshold = threshold
    }

    /// Feeds frame i+1; returns whether frame i starts a new shot (nil when frame i+1 is the first frame).
    public mutating func push(_ thumbnail: Thumbnail) -> Bool? {
        defer { previousThumbnail = thumbnail }
        guard let previousThumbnail else { return nil }
        let score = previousThumbnail.shiftTolerantDifference(thumbnail)
        let decision = decide(after: score)
        scoreBefore = pendingScore
        pendingScore = score
        return decision
    }

    /// Decides the last frame fed, which has no following frame; nil if no frame was fed.
    public mutating func finish() -> Bool? {
        guard previousThumbnail != nil else { return nil }
        previousThumbnail = nil
        let decision = decide(after: nil)
        scoreBefore = nil
        pendingScore = nil
        return decision
    }

    private mutating func decide(after next: Double?) -> Bool {
        guard let score = pendingScore, score > threshold else { return false }
        let neighbours = [scoreBefore, next].compactMap { $0 }
        let context = neighbours.isEmpty ? 0 : neighbours.reduce(0, +) / Double(neighbours.count)
        let isCut = score > Self.certainThreshold || score >= Self.minimumRatio * context
        if isCut { sceneIndex += 1 }
        return isCut
    }
}
