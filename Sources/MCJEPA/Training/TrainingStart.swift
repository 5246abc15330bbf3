import NN

// What a training run starts from besides its data: the network (a preset, the decoder choices, a warm start from
// another run's weights) and the fixed pairs `eval_epe` is measured on. `train` only parses its options into these.

/// What a training run may change in its preset's decoder. Each choice left nil is the `--init` file's (continuing
/// a model keeps its decoder), else the preset's.
public struct DecoderChoices: Sendable {
    public var stopLevel: Int?
    public var upsamplerWidth: Int?
    public var perLevelEstimators: Bool?
    public var refinementIterations: Int?
    /// Matters only with refinement iterations: else the file's head's width, else `ModelConfig.defaultRefinementWidth`.
    public var refinementWidth: Int?
    public var fineIterations: Int?
    /// Matters only with fine iterations: else the file's head's width, else `ModelConfig.defaultFineWidth`.
    public var fineWidth: Int?
    /// The local projector's level (0: none), for the dense content loss; its widths are the file's when the file has
    /// one at this level, else `ModelConfig.withLocalProjector`'s.
    public var localProjectorLevel: Int?

    public init(stopLevel: Int? = nil, upsamplerWidth: Int? = nil, perLevelEstimators: Bool? = nil,
                refinementIterations: Int? = nil, refinementWidth: Int? = nil, fineIterations: Int? = nil,
                fineWidth: Int? = nil, localProjectorLevel: Int? = nil) {
        self.stopLevel = stopLevel
        self.upsamplerWidth = upsamplerWidth
        self.perLevelEstimators = perLevelEstimators
        self.refinementIterations = refinementIterations
        self.refinementWidth = refinementWidth
        self.fineIterations = fineIterations
        self.fineWidth = fineWidth
        self.localProjectorLevel = localProjectorLevel
    }

    /// `preset` with these choices, the rest taken from `start` (a weights file's configuration) when given.
    public func config(preset: ModelConfig, continuing start: ModelConfig?) -> ModelConfig {
        var config = preset
        config.decoderStopLevel = stopLevel ?? start?.decoderStopLevel ?? config.decoderStopLevel
        config.upsamplerWidth = upsamplerWidth ?? start?.upsamplerWidth ?? config.upsamplerWidth
        config.perLevelEstimators = perLevelEstimators ?? start?.perLevelEstimators ?? config.perLevelEstimators
        config.refinementIterations = refinementIterations ?? start?.refinementIterations ?? config.refinementIterations
        let fileWidth = start.flatMap { $0.refinementWidth > 0 ? $0.refinementWidth : nil }
        config.refinementWidth = config.refinementIterations == 0 ? 0
            : refinementWidth ?? fileWidth ?? ModelConfig.defaultRefinementWidth
        config.fineIterations = fineIterations ?? start?.fineIterations ?? config.fineIterations
        let fileFineWidth = start.flatMap { $0.fineWidth > 0 ? $0.fineWidth : nil }
        config.fineWidth = config.fineIterations == 0 ? 0 : fineWidth ?? fileFineWidth ?? ModelConfig.defaultFineWidth
        let projectorLevel = localProjectorLevel ?? start?.localProjectorLevel ?? config.localProjectorLevel
        if let start, start.localProjectorLevel == projectorLevel {
            config.localProjectorLevel = start.localProjectorLevel
            config.localProjectorWidths = start.localProjectorWidths
        } else {
            config = config.withLocalProjector(level: projectorLevel)
        }
        return config
    }
}

extension MCJEPAModel {
    /// The network a training run starts: `preset` with `choices` (see `DecoderChoices`), initialised from `seed`,
    /// then warm-started from `initial` where it holds tensors, so the seed's values stay only for what it lacks (a
    /// finer decoder's new reductions, a new convex upsampler, which the seed starts as bilinear upsampling, a new
    /// refinement head, a new fine head).
    /// - Returns: the network and the names of the parameters `initial` did not have (none without it).
    /// - Throws: `WeightsError` naming the file when it cannot start this network (see `warmStart`);
    ///   `TrainingError` when the choices make an invalid network.
    public static func forTraining(preset: ModelConfig, choices: DecoderChoices = DecoderChoices(), initial: LoadedWeights? = nil,
                                   seed: UInt64) throws -> (model: MCJEPAModel, fresh: [String]) {
        let config = choices.config(preset: preset, continuing: initial?.model.config)
        // Choices that contradict each other or the file (a fine head on a decoder that already reaches level 2).
        if let problem = config.validationError() { throw TrainingError(description: "the network: \(problem)") }
        let model = MCJEPAModel(config: config)
        model.initializeRandomly(seed: seed)
        guard let initial else { return (model, []) }
        return (model, try model.warmStart(from: initial.model, path: initial.path))
    }
}

extension MixedSampler {
    /// `count` flow batches of one pair each from `source`, drawn with a seed of their own: independent of the
    /// training stream, so every run with this crop is measured on the same pairs (`Trainer.evaluationBatches`).
    public static func evaluationBatches(from source: TrainingPairSource, count: Int, crop: (height: Int, width: Int),
                                         contentSize: Int) throws -> [FlowBatch] {
        let sampler = MixedSampler(sources: [source], crop: crop, contentSize: contentSize)
        var rng = TrainingRNG(seed: 0x5EED)
        return try (0..<count).map { _ in try sampler.flowBatch(1, rng: &rng) }
    }
}
