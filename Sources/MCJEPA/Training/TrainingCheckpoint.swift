import AtomicOutput
import Foundation
import NN

/// Checkpoints of a run folder: `step-XXXXXXX.safetensors` (weights, a normal model file),
/// `step-XXXXXXX.ema.safetensors` (the weights' moving average, a normal model file, when the run keeps one),
/// `step-XXXXXXX.state.safetensors` (AdamW moments `m.<name>`, `v.<name>`; step, optimizer step, RNG state and the
/// occlusion gate in the metadata) and `latest.json` naming the weights and the state. Every file is written under
/// a temporary name and renamed, in that order, so a crash at any moment leaves the previous checkpoint complete
/// and `latest.json` pointing at it.
public struct TrainingState {
    public var step: Int
    public var optimizerStep: Int
    public var rngState: UInt64
    /// Fraction of visible pixels at the last flow step (gates the occlusion masks).
    public var visible: Float
}

public enum TrainingCheckpoint {
    public static func name(step: Int) -> String { String(format: "step-%07d", step) }

    /// Atomic model file (used for checkpoints and the final `model.safetensors`).
    public static func saveWeights(_ model: MCJEPAModel, to path: String, metadata: [String: String]) throws {
        try WeightsFile.save(model, to: path, metadata: metadata)
    }

    /// Writes the checkpoint of `state.step`, then deletes all but the newest `keep` checkpoints (0 keeps all).
    public static func save(folder: String, model: MCJEPAModel, optimizer: AdamW, state: TrainingState, keep: Int = 0,
                            average: MCJEPAModel? = nil) throws {
        let base = name(step: state.step)
        try saveWeights(model, to: "\(folder)/\(base).safetensors", metadata: ["step": String(state.step)])
        if let average {
            try saveWeights(average, to: "\(folder)/\(base).ema.safetensors", metadata: ["step": String(state.step)])
        }
        var tensors: [String: Tensor] = [:]
        for (spec, (m, v)) in zip(model.parameters.specs, zip(optimizer.firstMoments, optimizer.secondMoments)) {
            tensors["m.\(spec.name)"] = m
            tensors["v.\(spec.name)"] = v
        }
        let metadata = ["step": String(state.step), "optimizer_step": String(optimizer.step),
                        "rng_state": String(state.rngState), "visible": String(state.visible)]
        let statePath = "\(folder)/\(base).state.safetensors"
        try Safetensors.write(tensors, metadata: metadata, to: statePath)
        let latest: [String: Any] = ["step": state.step, "weights": "\(base).safetensors", "state": "\(base).state.safetensors"]
        let data = try JSONSerialization.data(withJSONObject: latest, options: [.sortedKeys])
        let latestPath = "\(folder)/latest.json"
        do {
            try AtomicOutput.write(data, to: latestPath)
        } catch let error as AtomicOutputError {
            throw WeightsError(path: latestPath, reason: error.reason, kind: .cannotWrite)
        }
        if keep > 0 { prune(folder: folder, keep: keep) }
    }

    /// Removes the weights and state files of all checkpoints but the newest `keep` (by step number).
    static func prune(folder: String, keep: Int) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let steps = Set(names.compactMap { name -> Int? in
            guard name.hasPrefix("step-"), name.hasSuffix(".state.safetensors") else { return nil }
            return Int(name.dropFirst("step-".count).prefix { $0.isNumber })
        }).sorted()
        for step in steps.dropLast(keep) {
            for suffix in [".safetensors", ".ema.safetensors", ".state.safetensors"] {
                try? FileManager.default.removeItem(atPath: "\(folder)/\(name(step: step))\(suffix)")
            }
        }
    }

    /// Loads `latest.json`'s checkpoint into `model`, `optimizer` and `average` (the weights' moving average: from
    /// the checkpoint's `.ema.safetensors` when it has one, else a copy of the restored weights); nil when the
    /// folder has none.
    public static func resume(folder: String, model: MCJEPAModel, optimizer: AdamW,
                              average: MCJEPAModel? = nil) throws -> TrainingState? {
        let latestPath = "\(folder)/latest.json"
        guard let data = FileManager.default.contents(atPath: latestPath) else { return nil }
        guard let latest = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let weights = latest["weights"] as? String, let stateName = latest["state"] as? String else {
            throw WeightsError(path: latestPath, reason: "not a checkpoint index (expected weights and state)")
        }
        let loaded = try WeightsFile.load(path: "\(folder)/\(weights)", config: model.config)
        model.copyParameters(from: loaded.model)
        let statePath = "\(folder)/\(stateName)"
        let (tensors, metadata) = try Safetensors.read(path: statePath)
        var first: [Tensor] = [], second: [Tensor] = []
        for spec in model.parameters.specs {
            guard let m = tensors["m.\(spec.name)"], let v = tensors["v.\(spec.name)"], m.shape == spec.shape, v.shape == spec.shape else {
                throw WeightsError(path: statePath, reason: "optimizer state for \(spec.name) is missing or has the wrong shape")
            }
            first.append(m); second.append(v)
        }
        guard let step = metadata["step"].flatMap(Int.init), let optimizerStep = metadata["optimizer_step"].flatMap(Int.init),
              let rng = metadata["rng_state"].flatMap(UInt64.init), let visible = metadata["visible"].flatMap(Float.init) else {
            throw WeightsError(path: statePath, reason: "metadata lacks step, optimizer_step, rng_state or visible")
        }
        optimizer.restore(step: optimizerStep, firstMoments: first, secondMoments: second)
        if let average {
            let averagePath = "\(folder)/\(name(step: step)).ema.safetensors"
            if FileManager.default.fileExists(atPath: averagePath) {
                average.copyParameters(from: try WeightsFile.load(path: averagePath, config: model.config).model)
            } else {
                average.copyParameters(from: model)
            }
        }
        return TrainingState(step: step, optimizerStep: optimizerStep, rngState: rng, visible: visible)
    }
}
