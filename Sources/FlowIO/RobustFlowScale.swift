/// The colour scale of a flow video: the motion (px) drawn at full saturation, robust to a few bad pairs.
///
/// Each pair contributes the `percentile` of its flow magnitudes (the 99th by default, so a handful of wild
/// pixels do not count), and the scale is the median of those over the last `window` pairs (never less than
/// `floor`). One pair of garbage (a flow across a cut, a flash) moves the median little and leaves the window
/// after `window` pairs, where a running maximum would dim every later frame. `reset()` at a scene cut starts
/// the new shot on its own motion.
public struct RobustFlowScale: Sendable {
    public let window: Int
    public let percentile: Float
    public let floor: Float
    private var recent: [Float] = []

    public init(window: Int = 15, percentile: Float = 0.99, floor: Float = 1) {
        precondition(window >= 1 && percentile > 0 && percentile <= 1, "scale: window >= 1, percentile in (0, 1]")
        self.window = window
        self.percentile = percentile
        self.floor = floor
    }

    /// Adds this pair's flow and returns the scale to draw it with.
    public mutating func observe(_ flow: FlowField) -> Float {
        recent.append(Self.percentile(of: flow, percentile))
        if recent.count > window { recent.removeFirst() }
        let sorted = recent.sorted()
        return max(floor, sorted[sorted.count / 2])
    }

    /// Forgets the previous shot's pairs.
    public mutating func reset() { recent.removeAll() }

    /// The `p` quantile of the known magnitudes (0 when none is known).
    static func percentile(of flow: FlowField, _ p: Float) -> Float {
        var magnitudes: [Float] = []
        magnitudes.reserveCapacity(flow.pixelCount)
        for i in 0..<flow.pixelCount where flow.valid[i] {
            let m = flow.magnitude(at: i)
            if m.isFinite { magnitudes.append(m) }
        }
        guard !magnitudes.isEmpty else { return 0 }
        magnitudes.sort()
        return magnitudes[min(magnitudes.count - 1, Int(p * Float(magnitudes.count - 1)))]
    }
}
