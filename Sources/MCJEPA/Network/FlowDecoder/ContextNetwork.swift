import NN

/// PWC-Net's context network at the stop level: dilated 3x3 convs (`context_widths`, `context_dilations`, leaky
/// ReLU 0.1) on concat(estimator hidden features, flow), then a 3x3 conv to a residual flow. Parameters
/// `decoder.context.convs.<i>.*`, `decoder.context.out.*`.
struct ContextNetwork {
    let convs: [ConvLayer], out: ConvLayer

    /// Each conv's input and output (the activation's input), and the `out` conv's input.
    struct Record {
        var inputs: [Tensor] = [], activationInputs: [Tensor] = []
        var last: Tensor?
    }

    init(_ store: ParameterStore) {
        let cfg = store.config
        var channels = cfg.contextInputChannels
        convs = zip(cfg.contextWidths, cfg.contextDilations).enumerated().map { i, layer in
            defer { channels = layer.0 }
            return ConvLayer(store, "decoder.context.convs.\(i)", inputs: channels, outputs: layer.0, kernel: 3,
                             padding: layer.1, dilation: layer.1, initialization: .kaimingLeakyReLU)
        }
        out = ConvLayer(store, "decoder.context.out", inputs: channels, outputs: 2, kernel: 3, padding: 1,
                        initialization: .truncatedNormal(std: 1e-3))
    }

    func forward(_ input: Tensor, recording: Bool) -> (Tensor, Record?) {
        var record: Record? = recording ? Record() : nil
        var x = input
        for conv in convs {
            record?.inputs.append(x)
            let c = conv(x)
            record?.activationInputs.append(c)
            x = leakyReLUForward(c, slope: 0.1)
        }
        record?.last = x
        return (out(x), record)
    }

    func flops(outputPixels pixels: Int) -> Double {
        (convs + [out]).reduce(0) { $0 + $1.flops(outputPixels: pixels) }
    }

    func backward(_ r: Record, gradOutput dy: Tensor, store: ParameterStore) -> Tensor {
        var dx = out.backward(input: r.last!, gradOutput: dy, store: store)!
        for i in convs.indices.reversed() {
            let da = leakyReLUGradient(input: r.activationInputs[i], gradOutput: dx)
            dx = convs[i].backward(input: r.inputs[i], gradOutput: da, store: store)!
        }
        return dx
    }
}
