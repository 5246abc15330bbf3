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
    func estimator(flipAverage: Bool = false, refinement: RefinementMethod? = nil,
                   search: SeededDISSearch.Configuration? = nil, verbose: Bool = false,
                   reporter: ProgressReporter? = nil) throws -> FlowEstimator {
        FlowEstimator(loaded: try loadWeights(modelPath: model, verbose: verbose, reporter: reporter), maxSide: maxSide,
                      refinement: refinement, search: search, flipAverage: flipAverage,
                      alignmentIterations: alignmentIterations, threads: threads)
    }
}

/// `--search-options` of `flow` and `eval flow`: OpenCV DIS's parameters for the search that refines the network's
/// flow, over those of the `--refinement` that runs (an advanced option, for trying other trade-offs).
struct SearchOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Advanced: DIS parameters of the search, over the --refinement's own, as KEY=VALUE,... with keys \(SeededDISSearch.Configuration.Key.allCases.map(\.rawValue).joined(separator: ", ")) (the default search: \(SeededDISSearch.Configuration.standard)).",
        valueName: "KEY=VALUE,..."))
    var searchOptions: String?

    /// The search's configuration with `--search-options` applied, or nil without it; a usage error when the text
    /// is wrong or the refinement that runs is not a search.
    func configuration(refinement: RefinementMethod?) throws -> SeededDISSearch.Configuration? {
        guard let searchOptions else { return nil }
        guard let base = refinement?.searchConfiguration else {
            throw ValidationError("--search-options applies to --refinement search or fast-search")
        }
        do {
            return try SeededDISSearch.Configuration(parsing: searchOptions, base: base)
        } catch let error as SearchConfigurationError {
            throw ValidationError("--search-options: \(error.reason)")
        }
    }
}

extension RefinementMethod: ExpressibleByArgument {}
extension PropagationMethod: ExpressibleByArgument {}
extension PropagationAppearance: ExpressibleByArgument {}
extension FlowGuidedPropagation.Fusion: ExpressibleByArgument {}

/// `--method` and `--appearance` of `propagate` and `eval vos`.
struct PropagationOptions: ParsableArguments {
    @Option(help: "flow-guided (flow and appearance, default) or features (DINO's feature-only protocol).")
    var method: PropagationMethod?
    @Option(help: ArgumentHelp("What flow-guided propagation's affinity compares: the model's features, colour patches, both joined in one descriptor, or both as separate cues (default: \(PropagationAppearance.default.rawValue)).",
                               valueName: "features|colour|both|separate"))
    var appearance: PropagationAppearance?
    @Option(help: ArgumentHelp("How flow-guided propagation joins appearance and the flow-carried masks (and separate appearance cues): per pixel by each one's confidence, or a fixed average where the forward-backward check passes (default: \(FlowGuidedPropagation.Fusion.default.rawValue)).",
                               valueName: "average|confidence"))
    var fusion: FlowGuidedPropagation.Fusion?

    func validate() throws {
        if resolvedMethod == .features, let appearance, appearance != .features {
            throw ValidationError("--appearance \(appearance.rawValue) applies to --method flow-guided; --method features is DINO's protocol, the model's features alone")
        }
        if resolvedMethod == .features, fusion != nil {
            throw ValidationError("--fusion applies to --method flow-guided; --method features is DINO's protocol, the model's features alone")
        }
    }

    /// The method that runs (flow-guided unless told otherwise).
    var resolvedMethod: PropagationMethod { method ?? .flowGuided }
    /// The appearance that runs (always the features with --method features).
    var resolvedAppearance: PropagationAppearance { resolvedMethod == .features ? .features : appearance ?? .default }
    /// The fusion that runs (flow-guided only).
    var resolvedFusion: FlowGuidedPropagation.Fusion { fusion ?? .default }
}

/// `--level` and `--levels` of `propagate` and `eval vos`: which encoder levels the affinity's model features are
/// made of, on whose grid.
struct FeatureLevelOptions: ParsableArguments {
    @Option(help: "Encoder pyramid level whose features alone are propagated (1...6, stride 2^level); with --levels, the level whose grid they share (default 3).")
    var level: Int?
    @Option(help: ArgumentHelp("Several encoder levels joined per cell on --level's grid, comma-separated (e.g. 2,3,4): finer ones area-averaged, coarser ones upsampled bilinearly, each scaled to unit length and weighing the same in the affinity (default: 2,3 for flow-guided, 3 for --method features; with --level alone, that level).",
                               valueName: "L,L,..."))
    var levels: String?

    func validate() throws {
        guard (1...ModelConfig.levelCount).contains(resolvedLevel) else {
            throw ValidationError("--level must be in 1...\(ModelConfig.levelCount)")
        }
        _ = try listedLevels()
    }

    /// The levels of --levels, as typed; nil without it.
    func listedLevels() throws -> [Int]? {
        guard let levels else { return nil }
        let range = 1...ModelConfig.levelCount
        let entries = levels.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !entries.isEmpty, entries.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--levels must be comma-separated levels in \(range.lowerBound)...\(range.upperBound) (e.g. 2,3,4), got '\(levels)'")
        }
        let list = entries.compactMap { $0 }
        if let outside = list.first(where: { !range.contains($0) }) {
            throw ValidationError("--levels: level \(outside) is not in \(range.lowerBound)...\(range.upperBound)")
        }
        if let twice = list.first(where: { level in list.filter { $0 == level }.count > 1 }) {
            throw ValidationError("--levels names level \(twice) twice")
        }
        return list
    }

    /// --level, else level 3 (stride 8).
    var resolvedLevel: Int { level ?? 3 }

    /// What runs (after `validate()`): --levels on --level's grid, else --level alone, else the method's default.
    func resolved(for method: PropagationMethod) -> FeatureLevels {
        if let list = try? listedLevels() { return FeatureLevels(grid: resolvedLevel, levels: list) }
        if let level { return .single(level) }
        return method.defaultLevels
    }
}
