import Foundation

/// Scoring a folder of flow predictions against an evaluation set laid out as `SET/PAIR/{img1.png, img2.png,
/// flow.flo}` (ground truth may also be flow.png (KITTI), flow.npy or flow.pfm).
///
/// Predictions for pair PAIR are looked up in the prediction folder as `PAIR.flo|png|npy|pfm`, then as
/// `PAIR/flow.flo|png|npy|pfm` (the first that exists wins); they must have the ground truth's size.
public enum FlowSetEvaluation {
    /// Where predictions come from: the zero-motion baseline, or files in a folder. (A model's predictions are
    /// computed pair by pair and scored with `score`, then gathered with `report`: FlowIO reads no images.)
    public enum PredictionSource: Sendable {
        case zero
        case folder(URL)
    }

    public struct PairResult: Codable, Equatable, Sendable {
        public var pair: String
        public var width: Int
        public var height: Int
        public var scores: FlowScores
    }

    public struct Report: Codable, Equatable, Sendable {
        public var set: String
        public var prediction: String
        /// Per pair, in name order.
        public var pairs: [PairResult]
        /// The mean over pairs of each measure (each pair weighs the same).
        public var mean: FlowScores
    }

    static let extensions = ["flo", "png", "npy", "pfm"]

    /// The pairs of a set: its sub-folders (sorted by name, hidden ones skipped) with their ground-truth file.
    public static func pairs(in set: URL) throws -> [(name: String, groundTruth: URL)] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: set.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw FlowIOError(url: set, reason: "no such evaluation set folder")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: set.path).sorted()
        } catch {
            throw FlowIOError(url: set, reason: "cannot list the evaluation set folder")
        }
        var pairs = [(name: String, groundTruth: URL)]()
        for name in names where !name.hasPrefix(".") {
            let folder = set.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
                continue
            }
            let candidates = extensions.map { folder.appendingPathComponent("flow.\($0)") }
            guard let truth = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                throw FlowIOError(url: folder, reason: "pair has no ground truth (flow.flo, flow.png, flow.npy or flow.pfm)")
            }
            pairs.append((name, truth))
        }
        guard !pairs.isEmpty else {
            throw FlowIOError(url: set, reason: "no pairs found (expected sub-folders PAIR/ holding flow.flo)")
        }
        return pairs
    }

    /// The prediction file for a pair, following the lookup order described on the type.
    public static func predictionFile(for pair: String, in folder: URL) throws -> URL {
        let candidates = extensions.map { folder.appendingPathComponent("\(pair).\($0)") }
            + extensions.map { folder.appendingPathComponent(pair).appendingPathComponent("flow.\($0)") }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw FlowIOError(url: folder.appendingPathComponent("\(pair).flo"),
                              reason: "no prediction for pair '\(pair)' (looked for \(pair).flo|png|npy|pfm and \(pair)/flow.flo|png|npy|pfm)")
        }
        return found
    }

    /// Scores every pair of `set`. Throws a `FlowIOError` naming the file for a missing or unreadable file,
    /// a prediction of the wrong size, or ground truth with no known pixel.
    public static func evaluate(set: URL, predictions: PredictionSource) throws -> Report {
        if case .folder(let folder) = predictions {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
                throw FlowIOError(url: folder, reason: "no such prediction folder")
            }
        }
        var results = [PairResult]()
        for (name, truthURL) in try pairs(in: set) {
            let truth = try FlowFile.read(truthURL)
            switch predictions {
            case .zero:
                results.append(try score(FlowField.zero(width: truth.width, height: truth.height), truth: truth, pair: name,
                                         truthURL: truthURL, source: truthURL, label: "prediction"))
            case .folder(let folder):
                let url = try predictionFile(for: name, in: folder)
                results.append(try score(FlowFile.read(url), truth: truth, pair: name, truthURL: truthURL, source: url,
                                         label: "prediction"))
            }
        }
        let predictionName = switch predictions {
        case .zero: "zero"
        case .folder(let folder): folder.path
        }
        return report(set: set, prediction: predictionName, pairs: results)
    }

    /// One pair's scores for a flow estimated from the pair's images (`pairs(in:)` gives the pairs), against its
    /// ground truth; `report` gathers them.
    /// - Throws: `FlowIOError` naming `source` when the flow's size is not the ground truth's, or the ground truth
    ///   when it cannot be read or has no known pixel.
    public static func score(_ estimate: FlowField, pair name: String, groundTruth truthURL: URL, estimatedFrom source: URL) throws -> PairResult {
        try score(estimate, truth: FlowFile.read(truthURL), pair: name, truthURL: truthURL, source: source, label: "estimated flow")
    }

    static func score(_ prediction: FlowField, truth: FlowField, pair name: String, truthURL: URL, source: URL,
                      label: String) throws -> PairResult {
        guard prediction.width == truth.width, prediction.height == truth.height else {
            throw FlowIOError(url: source, reason: "\(label) is \(prediction.width)x\(prediction.height) but the ground truth \(truthURL.path) is \(truth.width)x\(truth.height)")
        }
        guard let scores = try FlowMetrics.scores(prediction: prediction, groundTruth: truth) else {
            throw FlowIOError(url: truthURL, reason: "ground truth has no known pixel")
        }
        return PairResult(pair: name, width: truth.width, height: truth.height, scores: scores)
    }

    /// The report of `pairs` (in name order, at least one: `pairs(in:)` never gives none) scored on `set`;
    /// `prediction` names what was scored.
    public static func report(set: URL, prediction: String, pairs: [PairResult]) -> Report {
        precondition(!pairs.isEmpty, "a report needs at least one pair")
        return Report(set: set.path, prediction: prediction, pairs: pairs, mean: FlowMetrics.mean(pairs.map(\.scores))!)
    }

    /// A fixed-width table for people: one line per pair, then the mean; accuracies and Fl-all in percent, then
    /// the EPE per ground-truth speed band ("-" where a pair has no pixel in the band).
    public static func table(_ report: Report) -> String {
        let nameWidth = max(4, report.pairs.map(\.pair.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        func number(_ value: Double, _ digits: Int, _ width: Int) -> String {
            let text = String(format: "%.\(digits)f", value)
            return String(repeating: " ", count: max(0, width - text.count)) + text
        }
        func line(_ name: String, _ s: FlowScores) -> String {
            pad(name, nameWidth) + number(s.epe, 3, 10) + number(100 * s.px1, 2, 9) + number(100 * s.px3, 2, 9)
                + number(100 * s.px5, 2, 9) + number(100 * s.flAll, 2, 9) + String(format: "%11d", s.validPixels)
                + s.epeBySpeed.map { $0.map { number($0, 2, 9) } ?? String(repeating: " ", count: 8) + "-" }.joined()
        }
        var lines = [pad("pair", nameWidth) + "       EPE    1px %    3px %    5px %  Fl-all %      valid"
                     + FlowScores.speedBandNames.map { String(repeating: " ", count: 9 - $0.count) + $0 }.joined()]
        lines += report.pairs.map { line($0.pair, $0.scores) }
        lines.append(line("mean", report.mean) + "   (mean over \(report.pairs.count) pairs)")
        return lines.joined(separator: "\n")
    }

    /// The report as JSON (sorted keys); measures are fractions in 0...1 except EPE (px).
    public static func json(_ report: Report) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding plain structs of numbers and strings cannot fail.
        return String(decoding: try! encoder.encode(report), as: UTF8.self)
    }
}
