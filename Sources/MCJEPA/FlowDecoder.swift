import NN

/// Shared across levels, or one per level (`ModelConfig.perLevelEstimators`): input concat(correlation (81),
/// reduced frame-1 features, upsampled flow (2)). Returns (residual flow, last hidden features).
struct FlowEstimatorHead {
    let convs: [ConvLayer], norms: [ChannelNorm]?, out: ConvLayer

    /// `prefix`: the parameters' name prefix, `ModelConfig.estimatorPrefix(level:)`.
    init(_ store: ParameterStore, prefix: String) {
        let cfg = store.config
        convs = cfg.estimatorWidths.indices.map { ConvLayer(store, "\(prefix).convs.\($0)", padding: 1) }
        norms = cfg.estimatorNorm ? cfg.estimatorWidths.indices.map { ChannelNorm(store, "\(prefix).norms.\($0)") } : nil
        out = ConvLayer(store, "\(prefix).out", padding: 1)
    }

    func callAsFunction(_ input: Tensor) -> (residual: Tensor, hidden: Tensor) {
        var x = input
        for (i, conv) in convs.enumerated() {
            x = conv(x)
            if let norms { x = norms[i](x) }
            x = leakyReLUForward(x, slope: 0.1)
        }
        return (out(x), x)
    }
}

/// Dilated 3x3 convs (leaky ReLU 0.1) on concat(estimator hidden features, flow) -> residual flow.
struct ContextNetwork {
    let convs: [ConvLayer], out: ConvLayer

    init(_ store: ParameterStore) {
        let cfg = store.config
        convs = cfg.contextDilations.enumerated().map { i, d in
            ConvLayer(store, "decoder.context.convs.\(i)", padding: d, dilation: d)
        }
        out = ConvLayer(store, "decoder.context.out", padding: 1)
    }

    func callAsFunction(_ input: Tensor) -> Tensor {
        var x = input
        for conv in convs { x = leakyReLUForward(conv(x), slope: 0.1) }
        return out(x)
    }
}

/// Convex upsampling's mask head: concat(estimator hidden, frame-1 features, flow) at the stop level -> 3x3 conv
/// (leaky ReLU 0.1) -> 1x1 conv to 9 x factor^2 logits; `convexUpsample` combines the flow with them.
struct ConvexUpsampler {
    let conv: ConvLayer, mask: ConvLayer
    let factor: Int

    init(_ store: ParameterStore) {
        conv = ConvLayer(store, "decoder.upsampler.conv", padding: 1)
        mask = ConvLayer(store, "decoder.upsampler.mask")
        factor = 1 << store.config.decoderStopLevel
    }

    func callAsFunction(hidden: Tensor, features: Tensor, flow: Tensor) -> Tensor {
        let logits = mask(leakyReLUForward(conv(concatChannels([hidden, features, flow])), slope: 0.1))
        return convexUpsample(flow: flow, logits: logits, factor: factor)
    }
}

/// PWC-style coarse-to-fine decoder (MODEL.md section 5).
struct FlowDecoder {
    let levels: [Int]
    let stopLevel: Int
    let reduce: [Int: ConvLayer]
    /// The estimator of each decoded level (the same head at every level when they are shared).
    let estimators: [Int: FlowEstimatorHead]
    let context: ContextNetwork
    /// nil: bilinear upsampling to full size.
    let upsampler: ConvexUpsampler?

    init(_ store: ParameterStore) {
        levels = store.config.decodedLevels
        stopLevel = store.config.decoderStopLevel
        var reduce: [Int: ConvLayer] = [:]
        for level in levels { reduce[level] = ConvLayer(store, "decoder.reduce.l\(level)") }
        self.reduce = reduce
        let config = store.config
        var heads: [String: FlowEstimatorHead] = [:]
        for prefix in config.estimatorPrefixes { heads[prefix] = FlowEstimatorHead(store, prefix: prefix) }
        estimators = Dictionary(uniqueKeysWithValues: levels.map { ($0, heads[config.estimatorPrefix(level: $0)]!) })
        context = ContextNetwork(store)
        upsampler = store.config.upsamplerWidth > 0 ? ConvexUpsampler(store) : nil
    }

    /// An estimator's input at `level`: concat(correlation `corr` of `f1` with frame 2 as warped, reduced `f1`, upsampled
    /// flow `up`). Shared by inference and the training trace.
    func estimatorInput(level: Int, f1: Tensor, corr: Tensor, up: Tensor) -> Tensor {
        concatChannels([corr, reduce[level]!(f1), up])
    }

    /// The context network's input: concat(stop-level estimator hidden features, flow).
    func contextInput(hidden: Tensor, flow: Tensor) -> Tensor { concatChannels([hidden, flow]) }

    /// Flow from frame 1 to frame 2 at every decoded level, coarse (level 6) to fine; each in pixels of its own
    /// grid, the last one including the context refinement; and the full-resolution flow (input pixels).
    func callAsFunction(_ feats1: [Tensor], _ feats2: [Tensor]) -> (levels: [Tensor], full: Tensor) {
        var flows: [Tensor] = []
        var flow: Tensor?
        var stopHidden: Tensor?
        for level in levels {
            let f1 = feats1[level - 1], f2 = feats2[level - 1]
            let up: Tensor, f2w: Tensor
            if let previous = flow {
                up = upsampleFlow(previous, height: f1.h, width: f1.w)
                f2w = backwardWarp(f2, up)
            } else {
                // Coarsest level: no prior motion, frame 2's features are used unwarped.
                up = Tensor(shape: [f1.n, 2, f1.h, f1.w])
                f2w = f2
            }
            let corr = correlationForward(f1, f2w, radius: ModelConfig.correlationRadius)
            let input = estimatorInput(level: level, f1: f1, corr: corr, up: up)
            let (residual, hidden) = estimators[level]!(input)
            accumulate(residual, up)
            var current = residual
            if level == stopLevel {
                let refinement = context(contextInput(hidden: hidden, flow: current))
                accumulate(refinement, current)
                current = refinement
                stopHidden = hidden
            }
            flows.append(current)
            flow = current
        }
        let full: Tensor
        if let upsampler {
            full = upsampler(hidden: stopHidden!, features: feats1[stopLevel - 1], flow: flows.last!)
        } else {
            full = upsampleFlow(flows.last!, height: feats1[0].h * 2, width: feats1[0].w * 2)
        }
        return (flows, full)
    }
}

/// Bilinear (align_corners) resize of a flow field with u scaled by W'/W and v by H'/H.
func upsampleFlow(_ flow: Tensor, height: Int, width: Int) -> Tensor {
    let y = resizeBilinearForward(flow, height: height, width: width)
    let sx = Float(width) / Float(flow.w), sy = Float(height) / Float(flow.h)
    let plane = height * width
    for n in 0..<y.n {
        let u = y.data + n * 2 * plane, v = u + plane
        for i in 0..<plane { u[i] *= sx; v[i] *= sy }
    }
    return y
}

/// grid_sample(align_corners=True) backward warp. Along an axis of size 1 PyTorch's grid maps every sample to
/// coordinate 0 whatever the flow (it multiplies back by size - 1 = 0), so that flow component is ignored there.
func backwardWarp(_ x: Tensor, _ flow: Tensor) -> Tensor {
    guard flow.h == 1 || flow.w == 1 else { return warpForward(image: x, flow: flow).output }
    let adjusted = flow.copy()
    let plane = flow.h * flow.w
    for n in 0..<flow.n {
        if flow.w == 1 { (adjusted.data + n * 2 * plane).update(repeating: 0, count: plane) }
        if flow.h == 1 { (adjusted.data + n * 2 * plane + plane).update(repeating: 0, count: plane) }
    }
    return warpForward(image: x, flow: adjusted).output
}
