/// Standard optical-flow error measures of a prediction against ground truth, over the pixels where the
/// ground truth is known (Middlebury's 1e9 rule, KITTI's B channel). A prediction's own unknown pixels count
/// as zero motion: benchmarks require dense predictions, and skipping them would reward leaving holes.
public struct FlowScores: Codable, Equatable, Sendable {
    /// Mean end-point error |pred - gt| in px.
    public var epe: Double
    /// Fractions (0...1) of pixels with EPE below 1, 3 and 5 px.
    public var px1: Double
    public var px3: Double
    public var px5: Double
    /// KITTI outlier fraction (0...1): EPE > 3 px and EPE > 5% of |gt|.
    public var flAll: Double
    /// How many ground-truth pixels were scored.
    public var validPixels: Int
    /// Mean EPE over the pixels whose ground-truth motion is under 10 px, 10-40 px and over 40 px (Sintel's
    /// s0-10, s10-40 and s40+); nil when a pair has no such pixel. They show whether an error comes from large
    /// motions the estimator cannot follow or from imprecision on small ones.
    public var epeSlow: Double?
    public var epeMedium: Double?
    public var epeFast: Double?

    /// Sintel's speed bands, in px of ground-truth motion: [0, 10), [10, 40], (40, inf).
    public static let speedBandNames = ["s0-10", "s10-40", "s40+"]

    public init(epe: Double, px1: Double, px3: Double, px5: Double, flAll: Double, validPixels: Int,
                epeSlow: Double? = nil, epeMedium: Double? = nil, epeFast: Double? = nil) {
        self.epe = epe
        self.px1 = px1
        self.px3 = px3
        self.px5 = px5
        self.flAll = flAll
        self.validPixels = validPixels
        self.epeSlow = epeSlow
        self.epeMedium = epeMedium
        self.epeFast = epeFast
    }

    /// The band EPEs in speedBandNames order.
    public var epeBySpeed: [Double?] { [epeSlow, epeMedium, epeFast] }
}

public enum FlowMetrics {
    /// Per-pixel end-point error; NaN where the ground truth is unknown. Sizes must match.
    public static func endpointErrors(prediction: FlowField, groundTruth: FlowField) throws -> [Float] {
        try checkSizes(prediction, groundTruth)
        return (0..<groundTruth.pixelCount).map { i in
            guard groundTruth.valid[i] else { return Float.nan }
            let pu = prediction.valid[i] ? prediction.u[i] : 0, pv = prediction.valid[i] ? prediction.v[i] : 0
            let du = pu - groundTruth.u[i], dv = pv - groundTruth.v[i]
            return (du * du + dv * dv).squareRoot()
        }
    }

    /// EPE, 1/3/5 px accuracy and Fl-all over known ground-truth pixels; nil when none is known.
    public static func scores(prediction: FlowField, groundTruth: FlowField) throws -> FlowScores? {
        let errors = try endpointErrors(prediction: prediction, groundTruth: groundTruth)
        var sum = 0.0
        var count = 0, below1 = 0, below3 = 0, below5 = 0, outliers = 0
        var bandSums = [0.0, 0.0, 0.0], bandCounts = [0, 0, 0]
        for i in 0..<errors.count where groundTruth.valid[i] {
            let e = errors[i], speed = groundTruth.magnitude(at: i)
            sum += Double(e)
            count += 1
            if e < 1 { below1 += 1 }
            if e < 3 { below3 += 1 }
            if e < 5 { below5 += 1 }
            if e > 3 && e > 0.05 * speed { outliers += 1 }
            let band = speed < 10 ? 0 : (speed <= 40 ? 1 : 2)
            bandSums[band] += Double(e)
            bandCounts[band] += 1
        }
        guard count > 0 else { return nil }
        let n = Double(count)
        let bands = (0..<3).map { bandCounts[$0] > 0 ? bandSums[$0] / Double(bandCounts[$0]) : nil }
        return FlowScores(epe: sum / n, px1: Double(below1) / n, px3: Double(below3) / n, px5: Double(below5) / n,
                          flAll: Double(outliers) / n, validPixels: count,
                          epeSlow: bands[0], epeMedium: bands[1], epeFast: bands[2])
    }

    /// The mean of each measure over pairs (every pair weighs the same, as in the usual per-set averages); a
    /// speed band's mean is over the pairs that have pixels in it.
    public static func mean(_ all: [FlowScores]) -> FlowScores? {
        guard !all.isEmpty else { return nil }
        let n = Double(all.count)
        func bandMean(_ values: [Double?]) -> Double? {
            let present = values.compactMap { $0 }
            return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
        }
        return FlowScores(epe: all.map(\.epe).reduce(0, +) / n, px1: all.map(\.px1).reduce(0, +) / n,
                          px3: all.map(\.px3).reduce(0, +) / n, px5: all.map(\.px5).reduce(0, +) / n,
                          flAll: all.map(\.flAll).reduce(0, +) / n, validPixels: all.map(\.validPixels).reduce(0, +),
                          epeSlow: bandMean(all.map(\.epeSlow)), epeMedium: bandMean(all.map(\.epeMedium)),
                          epeFast: bandMean(all.map(\.epeFast)))
    }

    private static func checkSizes(_ prediction: FlowField, _ groundTruth: FlowField) throws {
        guard prediction.width == groundTruth.width, prediction.height == groundTruth.height else {
            throw FlowIOError(file: "", reason: "prediction is \(prediction.width)x\(prediction.height) but ground truth is \(groundTruth.width)x\(groundTruth.height)")
        }
    }
}
