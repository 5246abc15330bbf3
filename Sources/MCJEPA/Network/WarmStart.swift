import NN

// Warm-start surgery: starting a network from a weights file of a smaller version of it (`train --init` with a
// finer decoder, a convex upsampler, per-level estimators, a recurrent refinement or a fine head the file lacks). The network's modules know nothing
// of it; this file maps the file's tensors onto the new network's parameters.

extension MCJEPAModel {
    /// Warm start from `other`, which has this network's configuration or a smaller version of it: a decoder that stops
    /// at a coarser level, bilinear upsampling where this one has a convex upsampler, one estimator shared by the
    /// levels where this one has one per level, or no recurrent refinement where this one has one (or one of the same
    /// width and another number of iterations: they share its weights), or likewise no fine head where this one has
    /// one (or one of the same width), or no local projector or another one. Copies every parameter of `other` and
    /// leaves the rest as they are, e.g. freshly initialised: a local projector `other` lacks or has at another level
    /// or width (a network without one leaves `other`'s out), the finer levels' 1x1 reductions, a convex upsampler that
    /// `other` lacks or has for another stop level (its shapes depend on the level), a refinement that `other`
    /// lacks or ran at another level, and a fine head that `other` lacks (its zero `out` conv then keeps the flow
    /// `other` computed, bit for bit). A shared estimator and the context network also serve
    /// the finer levels; a shared estimator is copied into every level's, and a finer level's own estimator starts as
    /// a copy of `other`'s finest.
    /// - Returns: the names of the parameters `other` did not have, in state_dict order.
    /// - Throws: `WeightsError` naming `path` when the configurations differ in anything else.
    public func warmStart(from other: MCJEPAModel, path: String) throws -> [String] {
        var comparable = config
        comparable.decoderStopLevel = other.config.decoderStopLevel
        comparable.upsamplerWidth = other.config.upsamplerWidth
        comparable.perLevelEstimators = other.config.perLevelEstimators
        comparable.refinementIterations = other.config.refinementIterations
        comparable.refinementWidth = other.config.refinementWidth
        comparable.fineIterations = other.config.fineIterations
        comparable.fineWidth = other.config.fineWidth
        // The local projector is a training head: a file without it (or with another) starts this one fresh, and a
        // network without it leaves the file's out.
        comparable.localProjectorLevel = other.config.localProjectorLevel
        comparable.localProjectorWidths = other.config.localProjectorWidths
        let sameProjector = other.config.localProjectorLevel == config.localProjectorLevel
            && other.config.localProjectorWidths == config.localProjectorWidths
        let sameStop = other.config.decoderStopLevel == config.decoderStopLevel
        // A learnt upsampler is not dropped, and carries over only to the same one.
        let upsamplerFits = other.config.upsamplerWidth == 0
            || (config.upsamplerWidth > 0 && (!sameStop || other.config.upsamplerWidth == config.upsamplerWidth))
        // Per-level estimators split a shared one; they cannot be merged back into one.
        let estimatorsFit = !other.config.perLevelEstimators || config.perLevelEstimators
        // A learnt refinement is not dropped, and its weights fit only a block of the same width.
        let refinementFits = other.config.refinementIterations == 0
            || (config.refinementIterations > 0 && other.config.refinementWidth == config.refinementWidth)
        // Likewise for the fine head (always at level 2, whatever the stop level).
        let fineFits = other.config.fineIterations == 0
            || (config.fineIterations > 0 && other.config.fineWidth == config.fineWidth)
        guard comparable == other.config, other.config.decoderStopLevel >= config.decoderStopLevel, upsamplerFits,
              estimatorsFit, refinementFits, fineFits else {
            throw WeightsError(path: path, reason: "file holds config \(other.config), which cannot start \(config) "
                               + "(only a decoder that stops at a coarser level, one without a convex upsampler, one "
                               + "with a shared estimator, or one without a recurrent refinement or fine head or with one "
                               + "of the same width can)")
        }
        // Each level's estimator reads `other`'s for the same level, or its finest when this level is finer (or the
        // shared one): decoder.estimators.l<level>.<rest> <- <source prefix>.<rest>.
        var sources: [(prefix: String, source: String)] = []
        if config.perLevelEstimators {
            sources = config.decodedLevels.map {
                (config.estimatorPrefix(level: $0) + ".",
                 other.config.estimatorPrefix(level: max($0, other.config.decoderStopLevel)) + ".")
            }
        }
        var fresh: [String] = []
        for spec in parameters.specs {
            var source: String? = spec.name
            if let (prefix, from) = sources.first(where: { spec.name.hasPrefix($0.prefix) }) {
                source = from + spec.name.dropFirst(prefix.count)
            } else if (spec.name.hasPrefix("decoder.upsampler.") || spec.name.hasPrefix("decoder.refinement."))
                        && !sameStop {
                source = nil
            } else if spec.name.hasPrefix("local_projector.") && !sameProjector {
                source = nil
            }
            if let source, let tensor = other.parameters.tensors[source] {
                parameters[spec.name].assign(tensor)
            } else {
                fresh.append(spec.name)
            }
        }
        return fresh
    }

    /// Learning-rate multipliers that make the weights a warm start did not carry (the tensors `warmStart` returned
    /// as `fresh`) learn `scale` times faster.
    public func newWeightLearningRateScales(fresh: [String], scale: Float) -> [String: Tensor] {
        var scales: [String: Tensor] = [:]
        for name in fresh {
            let shape = parameters[name].shape
            scales[name] = Tensor(shape: shape, values: [Float](repeating: scale, count: shape.reduce(1, *)))
        }
        return scales
    }
}
