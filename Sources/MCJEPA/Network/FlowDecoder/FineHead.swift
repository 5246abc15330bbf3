import NN

/// The fine head (`fine_iterations` > 0): sub-pixel precision the stop level (1/8) cannot give. The stop level's
/// flow, bilinearly upsampled to level 2 (1/4), is refined by `fine_iterations` iterations of the recurrent update
/// block (`RecurrentRefinement`, width `fine_width`, weights shared) over the correlation of frame 1's level-2
/// features with frame 2's warped by the current flow, frame 1's level-2 features as context. Its correction, not
/// its flow, goes to full size: full = (the stop level's full-size flow) + upsample(refined - start), so the convex
/// upsampler's sharp motion edges are kept and the head only adds what it changed. With its `out` conv at zero (a
/// warm start from weights without it) the network computes exactly what those weights computed.
/// Parameters `decoder.fine.{encode,depthwise,pointwise,out}.*`, listed after every other parameter.
struct FineHead {
    let block: RecurrentRefinement
    /// Channels of the level-2 features.
    let featureChannels: Int

    struct Record {
        let start: Tensor          // the stop level's flow upsampled to level 2
        let stopShape: [Int]       // the stop level's flow's shape
        let block: RecurrentRefinement.Record
    }

    init(_ store: ParameterStore) {
        let cfg = store.config
        block = RecurrentRefinement(store, prefix: "decoder.fine", iterations: cfg.fineIterations, width: cfg.fineWidth,
                                    inputChannels: cfg.fineInputChannels)
        featureChannels = cfg.widths[ModelConfig.fineLevel - 1]
    }

    /// The full-size flow from the stop level's flow `coarse`, its full-size flow `coarseFull` and both frames'
    /// level-2 features.
    func forward(coarse: Tensor, coarseFull: Tensor, f1: Tensor, f2: Tensor, recording: Bool) -> (Tensor, Record?) {
        let start = upsampleFlow(coarse, height: f1.h, width: f1.w)
        let (refined, blockRecord) = block.forward(flow: start, context: f1, f1: f1, f2: f2, recording: recording)
        let correction = upsampleFlow(subtract(refined, start), height: coarseFull.h, width: coarseFull.w)
        accumulate(correction, coarseFull)
        let record = blockRecord.map { Record(start: start, stopShape: coarse.shape, block: $0) }
        return (correction, record)
    }

    /// FLOPs for a [1, 3, height, width] input: the block's iterations at level 2 (the resizes left out, as
    /// everywhere in `ModelFLOPs`).
    func flops(height: Int, width: Int) -> Double {
        let level = ModelConfig.fineLevel
        return block.flops(pixels: (height >> level) * (width >> level), featureChannels: featureChannels)
    }

    /// From dL/d(full-size flow), which also reaches the stop level's full-size flow unchanged (the caller passes it
    /// on): accumulates the block's weight gradients and returns dL/d(the stop level's flow) through the start flow,
    /// and dL/d(frame 1's and frame 2's level-2 features). With `inputs` false (only the head trains), only the
    /// weights' gradients: nil.
    @discardableResult
    func backward(_ r: Record, gradFull: Tensor, store: ParameterStore, inputs: Bool = true)
        -> (coarse: Tensor, f1: Tensor, f2: Tensor)? {
        // d(refined - start) = the full-size gradient taken back to level 2.
        let dDelta = Tensor(shape: r.start.shape)
        upsampleFlowBackward(gradOutput: gradFull, into: dDelta)
        let g = block.backward(r.block, gradFlow: dDelta, store: store, featureGradients: inputs)
        guard inputs else { return nil }
        // The start flow reaches the output through the block (g.flow, its identity path included) and with a minus
        // sign through the subtraction.
        let dStart = g.flow
        accumulate(dStart, dDelta, scale: -1)
        let dCoarse = Tensor(shape: r.stopShape)
        upsampleFlowBackward(gradOutput: dStart, into: dCoarse)
        accumulate(g.f1, g.context)  // frame 1's level-2 features are also the block's context
        return (dCoarse, g.f1, g.f2)
    }
}
