import Foundation

/// Scoring a folder of flow predictions against an evaluation set laid out as `SET/PAIR/{img1.png, img2.png,
/// flow.flo}` (ground truth may also be flow.png (KITTI), flow.npy or flow.pfm).
///
/// Predictions for pair PAIR are looked up in the prediction folder as `PAIR.flo|png|npy|pfm`, then as
/// `PAIR/flow.flo|png|npy|pfm` (the first that exists wins); they must have the ground truth's size.
public enum FlowSetEvaluation {
    /// Where predictions come from: the zero-motion baseline, files in a folder, or an estimator run on each
    /// pair's folder (it reads PAIR/img1.png and img2.png itself; FlowIO reads no images); `name` labels the
    /// report.
    public enum PredictionSource: Sendable {
        case zero
        case folder(URL)
        case estimator(name: String, estimate: @Sendable (_ pairFolder: URL) throws -> FlowField)
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
            let prediction: FlowField
            switch predictions {
            case .zero:
                prediction = FlowField.zero(width: truth.width, height: truth.height)
            case .folder(let folder):
                let url = try predictionFile(for: name, in: folder)
                prediction = try FlowFile.read(url)
                guard prediction.width == truth.width, prediction.height == truth.height else {
                    throw FlowIOError(url: url, reason: "prediction is \(prediction.width)x\(prediction.height) but the ground truth \(truthURL.path) is \(truth.width)x\(truth.height)")
                }
            case .estimator(_, let estimate):
                let pairFolder = truthURL.deletingLastPathComponent()
                prediction = try estimate(pairFolder)
                guard prediction.width == truth.width, prediction.height == truth.height else {
                    throw FlowIOError(url: pairFolder, reason: "estimated flow is \(prediction.width)x\(prediction.height) but the ground truth \(truthURL.path) is \(truth.width)x\(truth.height)")
                }
            }
            guard let scores = try FlowMetrics.scores(prediction: prediction, groundTruth: truth) else {
                throw FlowIOError(url: truthURL, reason: "ground truth has no known pixel")
            }
            results.append(PairResult(pair: name, width: truth.width, height: truth.height, scores: scores))
        }
        let predictionName: String
        switch predictions {
        case .zero: predictionName = "zero"
        case .folder(let folder): predictionName = folder.path
        case .estimator(let name, _): predictionName = name
        }
        return Report(set: set.path, prediction: predictionName, pairs: results, mean: FlowMetrics.mean(results.map(\.scores))!)
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
