import NN

/// The encoder's forward pass with everything its backward needs.
public struct EncoderTrace {
    /// Features of levels 1..6 (the same values `encode` returns).
    public let features: [Tensor]
    let levelInputs: [Tensor]
    let convOutputs: [Tensor]
    let normCaches: [LayerNormCache]
    let blocks: [[ConvNeXtTrace]]
}

/// One decoded level's forward values.
struct DecoderLevelTrace {
    let level: Int
    let f1: Tensor, f2: Tensor
    let up: Tensor?        // nil at the coarsest level (zeros, no prior flow)
    let warped: Tensor      // f2 warped by `up` (f2 itself at the coarsest level)
    let estimatorInput: Tensor
    let estimator: StackTrace
    let preContext: Tensor?  // flow before the context refinement (stop level only)
    let context: StackTrace?
}

/// The convex upsampler's forward values.
struct UpsamplerTrace {
    let input: Tensor          // concat(estimator hidden, frame-1 features, flow) at the stop level
    let preActivation: Tensor  // the 3x3 conv's output
    let activated: Tensor      // after the leaky ReLU (the mask conv's input)
    let weights: Tensor        // softmax weights of the convex combination
    let hiddenChannels: Int, featureChannels: Int
}

/// The decoder's forward pass (one direction) with everything its backward needs.
public struct DecoderTrace {
    /// Flows per decoded level, coarse to fine, and the full-resolution flow (as `flow` returns them).
    public let levels: [Tensor]
    public let full: Tensor
    let steps: [DecoderLevelTrace]
    /// nil with bilinear upsampling.
    let upsampler: UpsamplerTrace?
}

/// The content branch's forward pass.
public struct ContentTrace {
    public let representation: Tensor
    public let embedding: Tensor
    let top: Tensor
    let linearInputs: [Tensor]
    let normInputs: [Tensor]
    let normCaches: [LayerNormCache]
    let reluInputs: [Tensor]
}

// Training passes: forward with traces, backward accumulating into `parameters.gradient(name)`.
// Gradients w.r.t. features are returned so that the caller can add the feature-level losses' gradients
// and the decoder's (both directions) before running the encoder's backward once per frame.
extension MCJEPAModel {
    public func encodeForTraining(_ rgb01: Tensor) -> EncoderTrace {
        var x = ImageNormalization.normalized(rgb01)
        var features: [Tensor] = [], inputs: [Tensor] = [], convs: [Tensor] = [], caches: [LayerNormCache] = []
        var blockTraces: [[ConvNeXtTrace]] = []
        for level in encoder.levels {
            inputs.append(x)
            let c = level.conv(x)
            convs.append(c)
            let (n, cache) = level.norm.traced(c)
            caches.append(cache)
            var y = n, traces: [ConvNeXtTrace] = []
            for block in level.blocks {
                let (out, trace) = block.traced(y)
                traces.append(trace)
                y = out
            }
            blockTraces.append(traces)
            features.append(y)
            x = y
        }
        return EncoderTrace(features: features, levelInputs: inputs, convOutputs: convs, normCaches: caches, blocks: blockTraces)
    }

    /// Accumulates parameter gradients from dL/dfeatures (nil = no gradient at that level).
    public func backwardEncoder(_ trace: EncoderTrace, gradFeatures: [Tensor?]) {
        precondition(gradFeatures.count == ModelConfig.levelCount, "one gradient (or nil) per level")
        var carried: Tensor?  // gradient flowing into level i's output from level i + 1
        for i in encoder.levels.indices.reversed() {
            var dy: Tensor
            switch (gradFeatures[i], carried) {
            case (nil, nil): continue
            case (let g?, nil): dy = g.copy()
            case (nil, let c?): dy = c
            case (let g?, let c?): dy = c; accumulate(dy, g)
            }
            let level = encoder.levels[i]
            for (block, trace) in zip(level.blocks, trace.blocks[i]).reversed() {
                dy = block.backward(trace, gradOutput: dy, store: parameters)
            }
            let dc = level.norm.backward(input: trace.convOutputs[i], cache: trace.normCaches[i], gradOutput: dy, store: parameters)
            carried = level.conv.backward(input: trace.levelInputs[i], gradOutput: dc, store: parameters, needInput: i > 0)
        }
    }

    public func flowForTraining(_ feats1: [Tensor], _ feats2: [Tensor]) -> DecoderTrace {
        var steps: [DecoderLevelTrace] = []
        var flows: [Tensor] = []
        var flow: Tensor?
        var stopHidden: Tensor?
        for level in decoder.levels {
            let f1 = feats1[level - 1], f2 = feats2[level - 1]
            let up: Tensor?, warped: Tensor
            if let previous = flow {
                let u = upsampleFlow(previous, height: f1.h, width: f1.w)
                up = u
                warped = backwardWarp(f2, u)
            } else {
                up = nil
                warped = f2
            }
            let upOrZero = up ?? Tensor(shape: [f1.n, 2, f1.h, f1.w])
            let corr = correlationForward(f1, warped, radius: ModelConfig.correlationRadius)
            let input = decoder.estimatorInput(level: level, f1: f1, corr: corr, up: upOrZero)
            let (residual, hidden, estimatorTrace) = decoder.estimators[level]!.traced(input)
            accumulate(residual, upOrZero)
            var current = residual
            var preContext: Tensor?, contextTrace: StackTrace?
            if level == decoder.stopLevel {
                preContext = current
                let (refinement, t) = decoder.context.traced(decoder.contextInput(hidden: hidden, flow: current))
                contextTrace = t
                accumulate(refinement, current)
                current = refinement
                stopHidden = hidden
            }
            steps.append(DecoderLevelTrace(level: level, f1: f1, f2: f2, up: up, warped: warped, estimatorInput: input,
                                           estimator: estimatorTrace, preContext: preContext, context: contextTrace))
            flows.append(current)
            flow = current
        }
        guard let upsampler = decoder.upsampler, let stopHidden else {
            let full = upsampleFlow(flows.last!, height: feats1[0].h * 2, width: feats1[0].w * 2)
            return DecoderTrace(levels: flows, full: full, steps: steps, upsampler: nil)
        }
        let features = feats1[decoder.stopLevel - 1]
        let input = concatChannels([stopHidden, features, flows.last!])
        let pre = upsampler.conv(input)
        let activated = leakyReLUForward(pre, slope: 0.1)
        let (full, weights) = convexUpsampleForward(flow: flows.last!, logits: upsampler.mask(activated), factor: upsampler.factor)
        let trace = UpsamplerTrace(input: input, preActivation: pre, activated: activated, weights: weights,
                                   hiddenChannels: stopHidden.c, featureChannels: features.c)
        return DecoderTrace(levels: flows, full: full, steps: steps, upsampler: trace)
    }

    /// The convex upsampler's backward: accumulates its parameter gradients and dL/d(stop-level flow) into
    /// `gradFlow`; returns dL/d(estimator hidden) and dL/d(frame-1 features) at the stop level.
    private func backwardUpsampler(_ t: UpsamplerTrace, flow: Tensor, gradFull: Tensor, gradFlow: Tensor) -> (hidden: Tensor, features: Tensor) {
        let upsampler = decoder.upsampler!
        let dLogits = Tensor(shape: t.weights.shape)
        convexUpsampleBackward(flow: flow, weights: t.weights, factor: upsampler.factor, gradOutput: gradFull,
                               gradFlow: gradFlow, gradLogits: dLogits)
        let dActivated = upsampler.mask.backward(input: t.activated, gradOutput: dLogits, store: parameters)!
        let dPre = Tensor(shape: t.preActivation.shape)
        leakyReLUBackward(input: t.preActivation, slope: 0.1, gradOutput: dActivated, gradInput: dPre)
        let dInput = upsampler.conv.backward(input: t.input, gradOutput: dPre, store: parameters)!
        let dHidden = Tensor(shape: [dInput.n, t.hiddenChannels, dInput.h, dInput.w])
        let dFeatures = Tensor(shape: [dInput.n, t.featureChannels, dInput.h, dInput.w])
        concatChannelsBackward(gradOutput: dInput, gradParts: [dHidden, dFeatures, gradFlow], channels: [t.hiddenChannels, t.featureChannels, 2])
        return (dHidden, dFeatures)
    }

    /// Accumulates parameter gradients from dL/dflows (per decoded level, coarse to fine, nil = none) and
    /// dL/dfull; returns dL/dfeatures of both frames (nil at levels the decoder does not use).
    public func backwardFlow(_ trace: DecoderTrace, gradLevels: [Tensor?], gradFull: Tensor?)
        -> (feats1: [Tensor?], feats2: [Tensor?]) {
        precondition(gradLevels.count == trace.levels.count, "one gradient (or nil) per decoded level")
        var g1 = [Tensor?](repeating: nil, count: ModelConfig.levelCount), g2 = g1
        // A level's features are read in several places (reduction, correlations, context, upsampler): sum them.
        func add(_ gradient: Tensor, to grads: inout [Tensor?], level: Int) {
            if let g = grads[level - 1] { accumulate(g, gradient) } else { grads[level - 1] = gradient }
        }
        var dFlows = gradLevels.map { $0?.copy() }
        var fromUpsampler: (hidden: Tensor, features: Tensor)?
        if let gradFull {
            let last = trace.levels.count - 1
            let d = dFlows[last] ?? Tensor(shape: trace.levels[last].shape)
            if let upsampling = trace.upsampler {
                fromUpsampler = backwardUpsampler(upsampling, flow: trace.levels[last], gradFull: gradFull, gradFlow: d)
            } else {
                upsampleFlowBackward(gradOutput: gradFull, into: d)
            }
            dFlows[last] = d
        }
        for index in trace.steps.indices.reversed() {
            guard let dOut = dFlows[index] else { continue }
            let step = trace.steps[index]
            let c = step.f1.c, r = decoder.reduce[step.level]!
            var dHidden: Tensor?
            let dFlow = dOut.copy() // gradient of flow = up + residual (before the context refinement)
            if let context = step.context {
                let dIn = decoder.context.backward(context, gradOutput: dOut, store: parameters)
                let hiddenChannels = dIn.c - 2
                let dh = Tensor(shape: [dIn.n, hiddenChannels, dIn.h, dIn.w])
                concatChannelsBackward(gradOutput: dIn, gradParts: [dh, dFlow], channels: [hiddenChannels, 2])
                // The convex upsampler reads the same hidden features (and the stop level's frame-1 features).
                if let fromUpsampler {
                    accumulate(dh, fromUpsampler.hidden)
                    add(fromUpsampler.features, to: &g1, level: step.level)
                }
                dHidden = dh
            }
            let dInput = decoder.estimators[step.level]!.backward(step.estimator, gradResidual: dFlow, gradHidden: dHidden, store: parameters)
            let dCorr = Tensor(shape: [dInput.n, ModelConfig.correlationChannels, dInput.h, dInput.w])
            let dReduced = Tensor(shape: [dInput.n, r.weight.shape[0], dInput.h, dInput.w])
            let dUp = dFlow // d(up + residual)/d(up) = identity, plus the estimator input's up channels
            concatChannelsBackward(gradOutput: dInput, gradParts: [dCorr, dReduced, step.up == nil ? nil : dUp],
                                   channels: [ModelConfig.correlationChannels, r.weight.shape[0], 2])
            let df1 = r.backward(input: step.f1, gradOutput: dReduced, store: parameters)!
            let dWarped = Tensor(shape: step.warped.shape)
            correlationBackward(step.f1, step.warped, radius: ModelConfig.correlationRadius, gradOutput: dCorr,
                                gradF1: df1, gradF2: dWarped)
            precondition(df1.c == c)
            var df2 = dWarped
            if let up = step.up {
                df2 = Tensor(shape: step.f2.shape)
                backwardWarpBackward(image: step.f2, flow: up, gradOutput: dWarped, gradImage: df2, gradFlow: dUp)
                let previous = trace.levels[index - 1]
                let dPrevious = dFlows[index - 1] ?? Tensor(shape: previous.shape)
                upsampleFlowBackward(gradOutput: dUp, into: dPrevious)
                dFlows[index - 1] = dPrevious
            }
            add(df1, to: &g1, level: step.level)
            add(df2, to: &g2, level: step.level)
        }
        return (g1, g2)
    }

    public func contentForTraining(_ feats: [Tensor]) -> ContentTrace {
        let top = feats[ModelConfig.levelCount - 1]
        let rep = globalAvgPoolForward(top).reshaped([top.n, top.c])
        var z = rep
        var linearInputs: [Tensor] = [], normInputs: [Tensor] = [], caches: [LayerNormCache] = [], reluInputs: [Tensor] = []
        for (i, linear) in expander.linears.enumerated() {
            linearInputs.append(z)
            z = linearForward(input: z, weight: linear.weight, bias: linear.bias)
            if i < expander.norms.count {
                let (b, d) = (z.shape[0], z.shape[1])
                let x4 = z.reshaped([b, d, 1, 1])
                normInputs.append(x4)
                let (y, cache) = expander.norms[i].traced(x4)
                caches.append(cache)
                reluInputs.append(y)
                let relu = y.copy()
                for j in 0..<relu.count where relu.data[j] < 0 { relu.data[j] = 0 }
                z = relu.reshaped([b, d])
            }
        }
        return ContentTrace(representation: rep, embedding: z, top: top, linearInputs: linearInputs,
                            normInputs: normInputs, normCaches: caches, reluInputs: reluInputs)
    }

    /// Accumulates the expander's parameter gradients; returns dL/d(level-6 features).
    public func backwardContent(_ trace: ContentTrace, gradRepresentation: Tensor?, gradEmbedding: Tensor?) -> Tensor {
        let rows = trace.representation.shape[0]
        let dRep = gradRepresentation?.copy() ?? Tensor(shape: trace.representation.shape)
        if var d = gradEmbedding {
            for i in expander.linears.indices.reversed() {
                if i < expander.norms.count {
                    let reluInput = trace.reluInputs[i]
                    let dy = Tensor(shape: reluInput.shape)
                    for j in 0..<dy.count where reluInput.data[j] > 0 { dy.data[j] = d.data[j] }
                    d = expander.norms[i].backward(input: trace.normInputs[i], cache: trace.normCaches[i], gradOutput: dy,
                                                   store: parameters).reshaped([rows, dy.c])
                }
                let x = trace.linearInputs[i]
                let dx = Tensor(shape: x.shape)
                let linear = expander.linears[i]
                linearBackward(input: x, weight: linear.weight, gradOutput: d, gradInput: dx,
                               gradWeight: parameters.gradient("expander.linears.\(i).weight"),
                               gradBias: parameters.gradient("expander.linears.\(i).bias"))
                d = dx
            }
            accumulate(dRep, d)
        }
        let dTop = Tensor(shape: trace.top.shape)
        globalAvgPoolBackward(gradOutput: dRep.reshaped([rows, trace.top.c, 1, 1]), gradInput: dTop)
        return dTop
    }
}
