import NN

/// PWC-style coarse-to-fine flow decoder (MODEL.md section 5), level 6 down to `decoder_stop_level`: at each level,
/// warp frame 2's features by the upsampled flow, correlate them with frame 1's (radius 4), and let the level's
/// estimator add a residual flow; at the stop level the context network refines it, then the recurrent refinement
/// if the config has one; then the flow goes to full size (bilinearly, or by the convex upsampler), and the fine head,
/// if the config has one, adds its level-2 correction. Backward flow is the same decoder with the frames swapped.
/// Mirrors Reference/mcjepa/model.py `FlowDecoder`; parameters `decoder.reduce.l<level>.*` (1x1 reductions of frame-1
/// features), the estimators, `decoder.context.*`, then `decoder.upsampler.*`, `decoder.refinement.*` and
/// `decoder.fine.*`.
struct FlowDecoder {
    let levels: [Int]
    let stopLevel: Int
    let reduce: [Int: ConvLayer]
    /// The estimator of each decoded level (the same head at every level when they are shared).
    let estimators: [Int: FlowEstimatorHead]
    let context: ContextNetwork
    /// nil: bilinear upsampling to full size.
    let upsampler: ConvexUpsampler?
    /// nil: the stop level's flow is the context network's.
    let refinement: RecurrentRefinement?
    /// nil: the full-size flow is the stop level's.
    let fine: FineHead?

    /// One decoded level's forward values that its backward reads.
    struct LevelRecord {
        let level: Int
        let f1: Tensor, f2: Tensor
        let up: Tensor?        // nil at the coarsest level (zeros, no prior flow)
        let warped: Tensor     // f2 warped by `up` (f2 itself at the coarsest level)
        let estimator: FlowEstimatorHead.Record
        let context: ContextNetwork.Record?  // the stop level only
    }

    struct Record {
        let levels: [LevelRecord]
        let upsampler: ConvexUpsampler.Record?
        let refinement: RecurrentRefinement.Record?
        let fine: FineHead.Record?
    }

    init(_ store: ParameterStore) {
        let config = store.config
        levels = config.decodedLevels
        stopLevel = config.decoderStopLevel
        var reduce: [Int: ConvLayer] = [:]
        for level in levels {
            reduce[level] = ConvLayer(store, "decoder.reduce.l\(level)", inputs: config.widths[level - 1],
                                      outputs: config.reducedChannels, kernel: 1, initialization: .truncatedNormal(std: 0.02))
        }
        self.reduce = reduce
        var heads: [String: FlowEstimatorHead] = [:]
        for prefix in config.estimatorPrefixes { heads[prefix] = FlowEstimatorHead(store, prefix: prefix) }
        estimators = Dictionary(uniqueKeysWithValues: levels.map { ($0, heads[config.estimatorPrefix(level: $0)]!) })
        context = ContextNetwork(store)
        upsampler = config.upsamplerWidth > 0 ? ConvexUpsampler(store) : nil
        refinement = config.refinementIterations > 0 ? RecurrentRefinement.stopLevel(store) : nil
        fine = config.fineIterations > 0 ? FineHead(store) : nil
    }

    /// Flow from frame 1 to frame 2 at every decoded level, coarse (level 6) to fine, each in pixels of its own grid,
    /// the last one including the context network's and the recurrent refinement's; and the full-resolution flow (input
    /// pixels, with the fine head's correction). With `recording`, also what `backward` needs.
    func forward(_ feats1: [Tensor], _ feats2: [Tensor], recording: Bool)
        -> (levels: [Tensor], full: Tensor, record: Record?) {
        var flows: [Tensor] = [], records: [LevelRecord] = []
        var flow: Tensor?
        var stopHidden: Tensor?
        var refinementRecord: RecurrentRefinement.Record?
        for level in levels {
            let f1 = feats1[level - 1], f2 = feats2[level - 1]
            let up: Tensor?, warped: Tensor
            if let previous = flow {
                let upsampled = upsampleFlow(previous, height: f1.h, width: f1.w)
                up = upsampled
                warped = backwardWarp(f2, upsampled)
            } else {
                // Coarsest level: no prior motion, frame 2's features are used unwarped.
                up = nil
                warped = f2
            }
            let upOrZero = up ?? Tensor(shape: [f1.n, 2, f1.h, f1.w])
            let corr = correlationForward(f1, warped, radius: ModelConfig.correlationRadius)
            let input = concatChannels([corr, reduce[level]!(f1), upOrZero])
            let (residual, hidden, estimatorRecord) = estimators[level]!.forward(input, recording: recording)
            accumulate(residual, upOrZero)
            var current = residual
            var contextRecord: ContextNetwork.Record?
            if level == stopLevel {
                let (refinement, record) = context.forward(concatChannels([hidden, current]), recording: recording)
                contextRecord = record
                accumulate(refinement, current)
                current = refinement
                stopHidden = hidden
                if let refiner = self.refinement {
                    (current, refinementRecord) = refiner.forward(flow: current, context: hidden, f1: f1, f2: f2,
                                                                  recording: recording)
                }
            }
            if let estimatorRecord {
                records.append(LevelRecord(level: level, f1: f1, f2: f2, up: up, warped: warped,
                                           estimator: estimatorRecord, context: contextRecord))
            }
            flows.append(current)
            flow = current
        }
        var full: Tensor, upsamplerRecord: ConvexUpsampler.Record?
        if let upsampler {
            (full, upsamplerRecord) = upsampler.forward(hidden: stopHidden!, features: feats1[stopLevel - 1],
                                                        flow: flows.last!, recording: recording)
        } else {
            full = upsampleFlow(flows.last!, height: feats1[0].h * 2, width: feats1[0].w * 2)
            upsamplerRecord = nil
        }
        var fineRecord: FineHead.Record?
        if let fine {
            let level = ModelConfig.fineLevel
            (full, fineRecord) = fine.forward(coarse: flows.last!, coarseFull: full, f1: feats1[level - 1],
                                              f2: feats2[level - 1], recording: recording)
        }
        let record = Record(levels: records, upsampler: upsamplerRecord, refinement: refinementRecord, fine: fineRecord)
        return (flows, full, recording ? record : nil)
    }

    /// FLOPs of one direction for a [1, 3, height, width] input: correlations and convolutions (warps, resizes and
    /// activations left out, see `ModelFLOPs`).
    func flops(height: Int, width: Int) -> Double {
        var total = 0.0
        for level in levels {
            let pixels = (height >> level) * (width >> level), channels = reduce[level]!.shape[1]
            total += 2 * Double(ModelConfig.correlationChannels * channels * pixels)
            total += reduce[level]!.flops(outputPixels: pixels) + estimators[level]!.flops(outputPixels: pixels)
            if level == stopLevel {
                total += context.flops(outputPixels: pixels) + (upsampler?.flops(stopLevelPixels: pixels) ?? 0)
                total += refinement?.flops(pixels: pixels, featureChannels: channels) ?? 0
            }
        }
        total += fine?.flops(height: height, width: width) ?? 0
        return total
    }

    /// Accumulates parameter gradients from dL/dflows (per decoded level, coarse to fine, nil = none) and dL/dfull;
    /// returns dL/dfeatures of both frames (nil at levels the decoder does not use). With `onlyFineHead` (nothing
    /// else it reaches trains), only the fine head's weights' gradients: every level's gradient is ignored and no
    /// feature gradient is returned.
    func backward(_ record: Record, flows: [Tensor], gradLevels: [Tensor?], gradFull: Tensor?,
                  store: ParameterStore, onlyFineHead: Bool = false) -> (feats1: [Tensor?], feats2: [Tensor?]) {
        precondition(gradLevels.count == flows.count, "one gradient (or nil) per decoded level")
        var g1 = [Tensor?](repeating: nil, count: ModelConfig.levelCount), g2 = g1
        if onlyFineHead {
            if let fining = record.fine, let fine, let gradFull { fine.backward(fining, gradFull: gradFull, store: store, inputs: false) }
            return (g1, g2)
        }
        // A level's features are read in several places (reduction, correlation, upsampler): sum them.
        func add(_ gradient: Tensor, to grads: inout [Tensor?], level: Int) {
            if let g = grads[level - 1] { accumulate(g, gradient) } else { grads[level - 1] = gradient }
        }
        var dFlows = gradLevels.map { $0?.copy() }
        var fromUpsampler: (hidden: Tensor, features: Tensor)?
        // The fine head: the full-size gradient reaches its block, and, unchanged, the stop level's full-size flow.
        var fromFine: Tensor?
        if let fining = record.fine, let fine, let gradFull {
            let g = fine.backward(fining, gradFull: gradFull, store: store)!
            fromFine = g.coarse
            add(g.f1, to: &g1, level: ModelConfig.fineLevel)
            add(g.f2, to: &g2, level: ModelConfig.fineLevel)
        }
        if let gradFull {
            let last = flows.count - 1
            let d = dFlows[last] ?? Tensor(shape: flows[last].shape)
            if let upsampling = record.upsampler {
                fromUpsampler = upsampler!.backward(upsampling, flow: flows[last], gradFull: gradFull, gradFlow: d,
                                                    store: store)
            } else {
                upsampleFlowBackward(gradOutput: gradFull, into: d)
            }
            if let fromFine { accumulate(d, fromFine) }
            dFlows[last] = d
        }
        // The recurrent refinement turns dL/d(refined flow) into dL/d(the context network's flow).
        var fromRefinement: Tensor?
        if let refining = record.refinement, let refinement, let d = dFlows[flows.count - 1] {
            let g = refinement.backward(refining, gradFlow: d, store: store)
            dFlows[flows.count - 1] = g.flow
            add(g.f1, to: &g1, level: stopLevel)
            add(g.f2, to: &g2, level: stopLevel)
            fromRefinement = g.context
        }
        for index in record.levels.indices.reversed() {
            guard let dOut = dFlows[index] else { continue }
            let step = record.levels[index]
            let r = reduce[step.level]!
            var dHidden: Tensor?
            let dFlow = dOut.copy() // gradient of flow = up + residual (before the context refinement)
            if let contextRecord = step.context {
                let dIn = context.backward(contextRecord, gradOutput: dOut, store: store)
                let hiddenChannels = dIn.c - 2
                let dh = Tensor(shape: [dIn.n, hiddenChannels, dIn.h, dIn.w])
                concatChannelsBackward(gradOutput: dIn, gradParts: [dh, dFlow], channels: [hiddenChannels, 2])
                // The convex upsampler reads the same hidden features (and the stop level's frame-1 features).
                if let fromUpsampler {
                    accumulate(dh, fromUpsampler.hidden)
                    add(fromUpsampler.features, to: &g1, level: step.level)
                }
                if let fromRefinement { accumulate(dh, fromRefinement) }
                dHidden = dh
            }
            let dInput = estimators[step.level]!.backward(step.estimator, gradResidual: dFlow, gradHidden: dHidden,
                                                          store: store)
            let dCorr = Tensor(shape: [dInput.n, ModelConfig.correlationChannels, dInput.h, dInput.w])
            let dReduced = Tensor(shape: [dInput.n, r.weight.shape[0], dInput.h, dInput.w])
            let dUp = dFlow // d(up + residual)/d(up) = identity, plus the estimator input's up channels
            concatChannelsBackward(gradOutput: dInput, gradParts: [dCorr, dReduced, step.up == nil ? nil : dUp],
                                   channels: [ModelConfig.correlationChannels, r.weight.shape[0], 2])
            let df1 = r.backward(input: step.f1, gradOutput: dReduced, store: store)!
            let dWarped = Tensor(shape: step.warped.shape)
            correlationBackward(step.f1, step.warped, radius: ModelConfig.correlationRadius, gradOutput: dCorr,
                                gradF1: df1, gradF2: dWarped)
            var df2 = dWarped
            if let up = step.up {
                df2 = Tensor(shape: step.f2.shape)
                backwardWarpBackward(image: step.f2, flow: up, gradOutput: dWarped, gradImage: df2, gradFlow: dUp)
                let previous = flows[index - 1]
                let dPrevious = dFlows[index - 1] ?? Tensor(shape: previous.shape)
                upsampleFlowBackward(gradOutput: dUp, into: dPrevious)
                dFlows[index - 1] = dPrevious
            }
            add(df1, to: &g1, level: step.level)
            add(df2, to: &g2, level: step.level)
        }
        return (g1, g2)
    }
}
