import NN

/// A level's flow estimator (PWC-Net's): 3x3 convs of `estimator_widths` (each + LayerNorm2d when `estimator_norm`)
/// with leaky ReLU 0.1, then a 3x3 conv to the residual flow. Input: concat(correlation (81), reduced frame-1
/// features, upsampled flow (2)), `ModelConfig.estimatorInputChannels`. Returns (residual flow, last hidden features).
/// Parameters `<prefix>.convs.<i>.*`, `<prefix>.norms.<i>.*`, `<prefix>.out.*` with the prefix of
/// `ModelConfig.estimatorPrefix(level:)` (shared by every level, or one per level).
struct FlowEstimatorHead {
    let convs: [ConvLayer], norms: [ChannelNorm]?, out: ConvLayer

    /// Per layer: the conv's input, its output (the norm's input), the norm's statistics, the activation's input;
    /// and the `out` conv's input.
    struct Record {
        var inputs: [Tensor] = [], convOutputs: [Tensor] = [], normCaches: [LayerNormCache] = []
        var activationInputs: [Tensor] = []
        var last: Tensor?
    }

    init(_ store: ParameterStore, prefix: String) {
        let cfg = store.config
        var channels = cfg.estimatorInputChannels
        convs = cfg.estimatorWidths.enumerated().map { i, width in
            defer { channels = width }
            return ConvLayer(store, "\(prefix).convs.\(i)", inputs: channels, outputs: width, kernel: 3, padding: 1,
                             initialization: .kaimingLeakyReLU)
        }
        norms = cfg.estimatorNorm
            ? cfg.estimatorWidths.enumerated().map { ChannelNorm(store, "\(prefix).norms.\($0)", channels: $1) } : nil
        // The head starts near zero: the first flows are small residuals.
        out = ConvLayer(store, "\(prefix).out", inputs: channels, outputs: 2, kernel: 3, padding: 1,
                        initialization: .truncatedNormal(std: 1e-3))
    }

    func forward(_ input: Tensor, recording: Bool) -> (residual: Tensor, hidden: Tensor, record: Record?) {
        var record: Record? = recording ? Record() : nil
        var x = input
        for (i, conv) in convs.enumerated() {
            record?.inputs.append(x)
            x = conv(x)
            record?.convOutputs.append(x)
            if let norms {
                let (y, cache) = norms[i].forward(x)
                record?.normCaches.append(cache)
                x = y
            }
            record?.activationInputs.append(x)
            x = leakyReLUForward(x, slope: 0.1)
        }
        record?.last = x
        return (out(x), x, record)
    }

    func flops(outputPixels pixels: Int) -> Double {
        (convs + [out]).reduce(0) { $0 + $1.flops(outputPixels: pixels) }
    }

    /// dL/dinput from dL/dresidual and dL/dhidden (the context network's and upsampler's use of the hidden features).
    func backward(_ r: Record, gradResidual: Tensor, gradHidden: Tensor?, store: ParameterStore) -> Tensor {
        var dx = out.backward(input: r.last!, gradOutput: gradResidual, store: store)!
        if let gradHidden { accumulate(dx, gradHidden) }
        for i in convs.indices.reversed() {
            let da = leakyReLUGradient(input: r.activationInputs[i], gradOutput: dx)
            var dc = da
            if let norms { dc = norms[i].backward(input: r.convOutputs[i], cache: r.normCaches[i], gradOutput: da, store: store) }
            dx = convs[i].backward(input: r.inputs[i], gradOutput: dc, store: store)!
        }
        return dx
    }
}
