import Foundation

/// A method's flow on an evaluation set compared pair by pair with a peer's (a baseline) on the same pairs.
///
/// Why not compare mean EPEs: the mean over a set is decided by its few large-motion pairs, on which classical
/// methods swing by many pixels for tiny input changes. The measure here weighs every pair the same: the geometric
/// mean of the per-pair ratios EPE(method) / EPE(baseline) (below 1: the method is better), how many pairs the
/// method wins, and, for both, the mean EPE, Fl-all and 1-px accuracy.
public struct FlowSetComparison: Codable, Equatable, Sendable {
    public struct Pair: Codable, Equatable, Sendable {
        public var pair: String
        public var epe: Double
        public var baselineEPE: Double
        /// EPE / baseline EPE; both are floored at `FlowSetComparison.epeFloor` so a perfect baseline gives no infinity.
        public var ratio: Double
    }

    public var set: String
    public var prediction: String
    public var baseline: String
    /// In the set's pair order.
    public var pairs: [Pair]
    /// exp(mean(log(ratio))) over all pairs.
    public var geometricMeanRatio: Double
    /// Pairs where the method's EPE is below the baseline's.
    public var pairsWon: Int
    public var mean: FlowScores
    public var baselineMean: FlowScores

    /// EPEs below this (px) count as this in ratios: an exact prediction on a synthetic pair would otherwise make a
    /// ratio 0 or infinite and dominate the geometric mean.
    public static let epeFloor = 1e-3

    /// Compares two reports of the same set; throws naming the baseline when their pairs differ.
    public init(_ report: FlowSetEvaluation.Report, baseline: FlowSetEvaluation.Report) throws {
        guard report.pairs.map(\.pair) == baseline.pairs.map(\.pair) else {
            throw FlowIOError(file: baseline.prediction, reason: "baseline scored other pairs than the prediction")
        }
        set = report.set
        prediction = report.prediction
        self.baseline = baseline.prediction
        pairs = zip(report.pairs, baseline.pairs).map { ours, theirs in
            let ratio = max(ours.scores.epe, Self.epeFloor) / max(theirs.scores.epe, Self.epeFloor)
            return Pair(pair: ours.pair, epe: ours.scores.epe, baselineEPE: theirs.scores.epe, ratio: ratio)
        }
        geometricMeanRatio = exp(pairs.map { log($0.ratio) }.reduce(0, +) / Double(max(1, pairs.count)))
        pairsWon = pairs.filter { $0.epe < $0.baselineEPE }.count
        mean = report.mean
        baselineMean = baseline.mean
    }

    /// A table for people: per pair both EPEs and the ratio, then the summary lines.
    public var table: String {
        let nameWidth = max(4, pairs.map(\.pair.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var lines = [pad("pair", nameWidth) + right("EPE", 10) + right("baseline", 10) + right("ratio", 8)]
        for pair in pairs {
            lines.append(pad(pair.pair, nameWidth) + right(String(format: "%.3f", pair.epe), 10)
                         + right(String(format: "%.3f", pair.baselineEPE), 10) + right(String(format: "%.3f", pair.ratio), 8)
                         + (pair.epe < pair.baselineEPE ? "  won" : ""))
        }
        lines.append("")
        lines.append(String(format: "geometric mean of EPE ratios %.3f, pairs won %d of %d (below 1 and more than half: better than the baseline)",
                            geometricMeanRatio, pairsWon, pairs.count))
        lines.append(pad("", 10) + right("mean EPE", 10) + right("Fl-all %", 10) + right("1px %", 8))
        for (name, scores) in [("method", mean), ("baseline", baselineMean)] {
            lines.append(pad(name, 10) + right(String(format: "%.3f", scores.epe), 10)
                         + right(String(format: "%.2f", 100 * scores.flAll), 10) + right(String(format: "%.2f", 100 * scores.px1), 8))
        }
        lines.append("method: \(prediction)")
        lines.append("baseline: \(baseline)")
        return lines.joined(separator: "\n")
    }

    /// The comparison as JSON (sorted keys, snake case); fractions in 0...1, EPE in px.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding plain structs of numbers and strings cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}
