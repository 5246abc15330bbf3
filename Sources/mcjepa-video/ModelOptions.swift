import ArgumentParser
import FlowRefinement
import Foundation
import MCJEPA
import Segmentation
import VideoPipeline

/// The options every command that runs the network shares (`flow`, `propagate`, `segment`, `eval`): which
/// weights, how many threads, and the largest side the network sees.
struct ModelOptions: ParsableArguments {
    @Option(help: "Weights file (safetensors). Default: the built-in weights, if this build has them.")
    var model: String?
    @Option(help: "Shrink frames so their longer side is at most N pixels for the network (outputs stay full size).")
    var maxSide: Int?
    @Option(help: "Threads for decoding and the network.") var threads = 2
    @Option(help: ArgumentHelp("Gauss-Newton steps of the network's feature alignment on its level-1 features, after the decoder (0: the decoder's flow alone; default: \(FeatureAlignment.defaultIterations) when no refinement follows, else 0).",
                               valueName: "N"))
    var alignmentIterations: Int?

    func validate() throws {
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        try OptionRange.check(maxSide, 8...OptionRange.side.upperBound, "--max-side")
        try OptionRange.check(alignmentIterations, FeatureAlignment.iterationRange, "--alignment-iterations")
    }

    /// For commands that run the model only without --pred: naming weights or a size there is a mistake.
    func checkUnused(withPrediction pred: String?) throws {
        if pred != nil && (model != nil || maxSide != nil) {
            throw ValidationError("--model and --max-side apply only without --pred")
        }
    }

    /// Loads the weights (saying which ones run: see `loadWeights`) and sets the network's thread count.
    func estimator(flipAverage: Bool = false, refinement: RefinementMethod? = nil, verbose: Bool = false,
                   reporter: ProgressReporter? = nil) throws -> FlowEstimator {
        FlowEstimator(loaded: try loadWeights(modelPath: model, verbose: verbose, reporter: reporter), maxSide: maxSide,
                      refinement: refinement, flipAverage: flipAverage, alignmentIterations: alignmentIterations,
                      threads: threads)
    }
}

extension RefinementMethod: ExpressibleByArgument {}
extension PropagationMethod: ExpressibleByArgument {}
extension PropagationAppearance: ExpressibleByArgument {}
extension FlowGuidedPropagation.Fusion: ExpressibleByArgument {}

/// `--method` and `--appearance` of `propagate` and `eval vos`.
struct PropagationOptions: ParsableArguments {
    @Option(help: "flow-guided (flow and appearance, default) or features (DINO's feature-only protocol).")
    var method: PropagationMethod = .flowGuided
    @Option(help: ArgumentHelp("What flow-guided propagation's affinity compares: the model's features, colour patches, both joined in one descriptor, or both as separate cues (default: \(PropagationAppearance.default.rawValue)).",
                               valueName: "features|colour|both|separate"))
    var appearance: PropagationAppearance?
    @Option(help: ArgumentHelp("How flow-guided propagation joins appearance and the flow-carried masks (and separate appearance cues): a fixed average where the forward-backward check passes, or per pixel by each one's confidence (default: \(FlowGuidedPropagation.Fusion.default.rawValue)).",
                               valueName: "average|confidence"))
    var fusion: FlowGuidedPropagation.Fusion?

    func validate() throws {
        if method == .features, let appearance, appearance != .features {
            throw ValidationError("--appearance \(appearance.rawValue) applies to --method flow-guided; --method features is DINO's protocol, the model's features alone")
        }
        if method == .features, fusion != nil {
            throw ValidationError("--fusion applies to --method flow-guided; --method features is DINO's protocol, the model's features alone")
        }
    }

    /// The appearance that runs (always the features with --method features).
    var resolvedAppearance: PropagationAppearance { method == .features ? .features : appearance ?? .default }
    /// The fusion that runs (flow-guided only).
    var resolvedFusion: FlowGuidedPropagation.Fusion { fusion ?? .default }
}
