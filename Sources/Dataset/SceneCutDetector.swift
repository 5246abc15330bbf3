/// Content-change detector: a cut is declared where consecutive frames' thumbnails differ by more than
/// `threshold` (mean absolute luma difference, 0...1).
///
/// Frames inside one shot differ by a few percent even under fast motion once box-averaged to 32x32; a hard cut
/// to a different shot changes most cells. The default 0.12 sits between the two (PySceneDetect's content
/// detector default of 27/255 is of the same order). It is fed every decoded frame, not only sampled ones, so a
/// cut between two sampled frames is never missed.
public struct SceneCutDetector: Sendable {
    public static let defaultThreshold = 0.12
    public let threshold: Double
    private var previous: Thumbnail?
    /// Index of the current shot, starting at 0 and bumped at every cut.
    public private(set) var sceneIndex = 0

    public init(threshold: Double = defaultThreshold) {
        self.threshold = threshold
    }

    /// Feeds the next frame's thumbnail; returns true if a cut lies between the previous frame and this one.
    public mutating func isCut(_ thumbnail: Thumbnail) -> Bool {
        defer { previous = thumbnail }
        guard let previous else { return false }
        if previous.meanAbsoluteDifference(thumbnail) > threshold {
            sceneIndex += 1
            return true
        }
        return false
    }
}
