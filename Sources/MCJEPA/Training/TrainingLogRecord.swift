import Foundation

/// The lines of a run's `log.jsonl`, one JSON object each with sorted keys (the reference trainer's names, so
/// logs of either trainer, old or new, read the same).

/// After a logged step: `step` (steps done), `lr` (the step's learning rate), `steps_per_s` (since the last record)
/// and the step's loss terms and monitors (`total`, `photo`, `grad_norm`, `synthetic_epe`, ...) as top-level keys.
public struct StepLogRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var lr: Double
    public var stepsPerSecond: Double
    public var terms: [String: Double]

    public init(step: Int, lr: Double, stepsPerSecond: Double, terms: [String: Double]) {
        self.step = step; self.lr = lr; self.stepsPerSecond = stepsPerSecond; self.terms = terms
    }

    private static let fixedKeys: Set<String> = ["step", "lr", "steps_per_s"]

    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.container(keyedBy: LogKey.self)
        try container.encode(step, forKey: LogKey("step"))
        try container.encode(lr, forKey: LogKey("lr"))
        try container.encode(stepsPerSecond, forKey: LogKey("steps_per_s"))
        for (name, value) in terms where !Self.fixedKeys.contains(name) { try container.encode(value, forKey: LogKey(name)) }
    }

    public init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: LogKey.self)
        step = try container.decode(Int.self, forKey: LogKey("step"))
        lr = try container.decode(Double.self, forKey: LogKey("lr"))
        stepsPerSecond = try container.decode(Double.self, forKey: LogKey("steps_per_s"))
        terms = [:]
        for key in container.allKeys where !Self.fixedKeys.contains(key.stringValue) {
            terms[key.stringValue] = try container.decode(Double.self, forKey: key)
        }
    }
}

/// At the start of a fresh run and after each checkpoint, with evaluation pairs: `eval_epe`, the mean end-point
/// error of the weights a checkpoint's model.safetensors would hold (the moving average when there is one), and
/// `eval_epe_raw`, the trained weights' own, when there is an average.
public struct EvaluationLogRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var evalEPE: Double
    public var evalEPERaw: Double?

    enum CodingKeys: String, CodingKey {
        case step, evalEPE = "eval_epe", evalEPERaw = "eval_epe_raw"
    }
}

/// Any record's step (both kinds have one): what a resumed run's log is truncated by.
struct LoggedStep: Decodable {
    let step: Int
}

/// A JSON key chosen at run time (the loss terms').
private struct LogKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

extension JSONEncoder {
    /// The log's encoder: sorted keys, one line.
    static var trainingLog: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
