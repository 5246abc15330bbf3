import Foundation
import NN

/// A weights file that cannot be used: names the file and the cause in one line.
public struct WeightsError: Error, CustomStringConvertible {
    /// An unusable weights file (bad input), or a file that could not be written (a failure).
    public enum Kind: Sendable { case invalid, outputExists, cannotWrite }
    public let path: String
    public let reason: String
    public var kind: Kind = .invalid
    public var description: String { "\(path): \(reason)" }
}

/// A model with its weights loaded, and what the file said about them.
public struct LoadedWeights {
    public let model: MCJEPAModel
    public let path: String
    public let metadata: [String: String]

    /// Training metadata worth printing (step, format), or "no training metadata".
    public var trainingSummary: String {
        let keys = ["format", "step", "steps", "trained_on", "note"].filter { metadata[$0] != nil }
        return keys.isEmpty ? "no training metadata" : keys.map { "\($0)=\(metadata[$0]!)" }.joined(separator: ", ")
    }

    /// One line for stderr: which weights run.
    public var banner: String {
        "weights \(path): config \(model.config), \(model.parameters.parameterCount) parameters, \(trainingSummary)"
    }
}

/// Reads and writes MC-JEPA weights as safetensors with the PyTorch state_dict names (Reference/mcjepa/weights.py
/// writes the same layout), so a file saved by either side loads in the other.
public enum WeightsFile {
    public static let formatTag = "mcjepa-v1"

    /// Loads a weights file. The configuration comes from the file's `config` metadata when present, else
    /// `config`, else the preset whose parameter names and shapes the file matches.
    /// - Parameters:
    ///   - ignoringPrefixes: names starting with these are not model parameters (the parity fixture's `io.`,
    ///     `loss.`, `grad.` tensors); any other unknown name is an error.
    /// - Throws: `WeightsError` naming the file and exactly which tensors are missing, unexpected, mis-shaped
    ///   or of the wrong dtype; container errors (truncated, hostile header) come from NN's reader.
    public static func load(path: String, config: ModelConfig? = nil, ignoringPrefixes: [String] = []) throws -> LoadedWeights {
        let tensors: [String: Tensor], metadata: [String: String]
        do {
            (tensors, metadata) = try Safetensors.read(path: path)
        } catch let error as SafetensorsError {
            throw WeightsError(path: path, reason: error.reason)
        }
        let parameters = tensors.filter { name, _ in !ignoringPrefixes.contains { name.hasPrefix($0) } }
        let resolved: ModelConfig
        if let text = metadata["config"] {
            switch ModelConfig.fromJSON(text) {
            case .success(let parsed): resolved = parsed
            case .failure(let error): throw WeightsError(path: path, reason: error.reason)
            }
            if let config, config != resolved {
                throw WeightsError(path: path, reason: "file holds config \(resolved), expected \(config)")
            }
        } else if let config {
            resolved = config
        } else if let preset = ["tiny", "test", "paper"].first(where: { name in
            let specs = ParameterStore.expectedSpecs(ModelConfig.presets[name]!)
            return specs.count == parameters.count && specs.allSatisfy { parameters[$0.name]?.shape == $0.shape }
        }) {
            resolved = ModelConfig.presets[preset]!
        } else {
            throw WeightsError(path: path, reason: "no config metadata and the tensors match no preset (tiny, test, paper)")
        }
        let specs = ParameterStore.expectedSpecs(resolved)
        if let problem = mismatch(specs: specs, tensors: parameters, dtypes: try dtypes(path: path)) {
            throw WeightsError(path: path, reason: problem)
        }
        let model = MCJEPAModel(config: resolved)
        model.parameters.assign(parameters)
        return LoadedWeights(model: model, path: path, metadata: metadata)
    }

    /// Saves every parameter with its state_dict name plus `config` (JSON), `format` and `extra` metadata,
    /// atomically (temporary file + rename); `replace: false` refuses an existing `path` at the rename.
    public static func save(_ model: MCJEPAModel, to path: String, metadata extra: [String: String] = [:],
                            replace: Bool = true) throws {
        var metadata = extra
        metadata["config"] = model.config.json
        metadata["format"] = formatTag
        do {
            try Safetensors.write(model.parameters.tensors, metadata: metadata, to: path, replace: replace)
        } catch let error as SafetensorsError {
            let kind: WeightsError.Kind = switch error.kind {
            case .invalid: .invalid
            case .outputExists: .outputExists
            case .cannotWrite: .cannotWrite
            }
            throw WeightsError(path: path, reason: error.reason, kind: kind)
        }
    }

    /// The first problem (as one line) between expected parameters and the file's tensors, or nil.
    static func mismatch(specs: [ParameterSpec], tensors: [String: Tensor], dtypes: [String: String]) -> String? {
        let expected = Set(specs.map(\.name))
        let missing = specs.map(\.name).filter { tensors[$0] == nil }
        let unexpected = tensors.keys.filter { !expected.contains($0) }.sorted()
        let misShaped = specs.filter { spec in tensors[spec.name].map { $0.shape != spec.shape } ?? false }
        let wrongType = specs.filter { spec in dtypes[spec.name].map { $0 != "F32" } ?? false }
        var problems: [String] = []
        func list(_ names: [String]) -> String {
            names.count <= 4 ? names.joined(separator: ", ") : names.prefix(4).joined(separator: ", ") + " and \(names.count - 4) more"
        }
        if !missing.isEmpty { problems.append("missing \(missing.count) tensor(s): \(list(missing))") }
        if !unexpected.isEmpty { problems.append("unexpected \(unexpected.count) tensor(s): \(list(unexpected))") }
        if !misShaped.isEmpty {
            problems.append("wrong shape: " + list(misShaped.map { "\($0.name) is \(tensors[$0.name]!.shape), expected \($0.shape)" }))
        }
        if !wrongType.isEmpty {
            problems.append("wrong dtype: " + list(wrongType.map { "\($0.name) is \(dtypes[$0.name]!), expected F32" }))
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// The dtype of every tensor, from the header (NN's reader converts every dtype to Float, so it is read
    /// here again; the container was already validated by then).
    static func dtypes(path: String) throws -> [String: String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [:] }
        defer { try? handle.close() }
        let lengthBytes = handle.readData(ofLength: 8)
        guard lengthBytes.count == 8 else { return [:] }
        let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        let header = handle.readData(ofLength: Int(length))
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else { return [:] }
        var result: [String: String] = [:]
        for (name, entry) in object { if let dtype = (entry as? [String: Any])?["dtype"] as? String { result[name] = dtype } }
        return result
    }
}
