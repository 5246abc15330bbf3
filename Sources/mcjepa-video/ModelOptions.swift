import ArgumentParser
import FlowRefinement
import Foundation
import MCJEPA
import NN

/// The options every command that runs the network shares (`propagate`, `segment`, `eval vos`, `eval flow`):
/// which weights, how many threads, and the largest side the network sees.
struct ModelOptions: ParsableArguments {
    @Option(help: "Weights file (safetensors). Default: the built-in weights, if this build has them.")
    var model: String?
    @Option(help: "Shrink frames so their longer side is at most N pixels for the network (outputs stay full size).")
    var maxSide: Int?
    @Option(help: "Threads for decoding and the network.") var threads = 2

    func validate() throws {
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        try OptionRange.check(maxSide, 8...OptionRange.side.upperBound, "--max-side")
    }

    /// For commands that run the model only without --pred: naming weights or a size there is a mistake.
    func checkUnused(withPrediction pred: String?) throws {
        if pred != nil && (model != nil || maxSide != nil) {
            throw ValidationError("--model and --max-side apply only without --pred")
        }
    }

    /// Loads the weights (printing which ones run, or the missing-weights error: see `loadWeights`) and sets the
    /// network's thread count.
    func estimator(flipAverage: Bool = false, refinement: RefinementMethod? = nil) throws -> FlowEstimator {
        let weights = try loadWeights(modelPath: model)
        setThreads(threads)
        return FlowEstimator(model: weights.model, maxSide: maxSide, flipAverage: flipAverage,
                             refinement: refinement?.refiner(threads: threads))
    }
}
