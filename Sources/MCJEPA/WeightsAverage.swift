import Foundation
import NN

/// The parameter-by-parameter mean of weights files of one model: a "model soup" (Wortsman et al., ICML 2022).
/// Models fine-tuned from one starting point can be averaged, and the average is often better than each of them;
/// this model has no batch statistics to recompute (its norms are LayerNorms), so the mean is usable as it is.
/// The same arithmetic as `Reference/average_weights.py` (sums in Double, the mean rounded once to Float), so both
/// write the same numbers.
public enum WeightsAverage {
    /// Loads every file (each fully checked by `WeightsFile.load`) and returns a model holding their mean, with
    /// the metadata to save with it: `averaged_from` (the paths, as a JSON array, as the Python tool writes it).
    /// - Throws: `WeightsError` naming the first file that cannot be loaded or whose configuration differs from
    ///   the first file's; fewer than two paths is an error too (an average of one file is that file).
    public static func average(paths: [String]) throws -> (model: MCJEPAModel, metadata: [String: String]) {
        guard paths.count >= 2 else {
            throw WeightsError(path: paths.first ?? "-", reason: "an average needs at least two weights files")
        }
        let first = try WeightsFile.load(path: paths[0])
        let specs = first.model.parameters.specs
        var sums: [String: [Double]] = [:]
        for spec in specs { sums[spec.name] = first.model.parameters[spec.name].array.map(Double.init) }
        for path in paths.dropFirst() {
            let next = try WeightsFile.load(path: path)
            guard next.model.config == first.model.config else {
                throw WeightsError(path: path, reason: "holds config \(next.model.config), but \(paths[0]) holds \(first.model.config)")
            }
            for spec in specs {
                let tensor = next.model.parameters[spec.name]
                sums[spec.name]!.withUnsafeMutableBufferPointer { sum in
                    for i in 0..<sum.count { sum[i] += Double(tensor.data[i]) }
                }
            }
        }
        // The first file's values were copied into `sums`, so its model takes the mean in place (no second model).
        let model = first.model
        let count = Double(paths.count)
        var mean: [String: Tensor] = [:]
        for spec in specs {
            mean[spec.name] = Tensor(shape: spec.shape, values: sums[spec.name]!.map { Float($0 / count) })
        }
        model.parameters.assign(mean)
        let list = String(decoding: try JSONSerialization.data(withJSONObject: paths, options: [.withoutEscapingSlashes]), as: UTF8.self)
        return (model, ["averaged_from": list])
    }
}
