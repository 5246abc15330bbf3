import NN

/// VICReg expander: [Linear -> LayerNorm (eps 1e-6) -> ReLU] per hidden width, then a final Linear, on rows
/// [B, D]: the global-average-pooled level-6 features (`expander.*`), or for the local projector
/// (`local_projector.*`) every pixel of a level's feature map, where each Linear is a 1x1 conv. Mirrors
/// Reference/mcjepa/model.py `Expander`; parameters `<prefix>.linears.<i>.*` then `<prefix>.norms.<i>.*`.
struct Expander {
    let linears: [(name: String, weight: Tensor, bias: Tensor)]
    let norms: [ChannelNorm]

    /// What the backward needs: each linear's input, each norm's input and statistics, each ReLU's input.
    struct Record {
        var linearInputs: [Tensor] = [], normInputs: [Tensor] = [], normCaches: [LayerNormCache] = []
        var reluInputs: [Tensor] = []
    }

    /// The content expander on level 6.
    init(_ store: ParameterStore) {
        self.init(store, prefix: "expander", inputWidth: store.config.widths.last!, widths: store.config.expanderWidths)
    }

    init(_ store: ParameterStore, prefix: String, inputWidth: Int, widths: [Int]) {
        var features = inputWidth
        linears = widths.enumerated().map { i, width in
            let name = "\(prefix).linears.\(i)"
            defer { features = width }
            return (name, store.declare("\(name).weight", [width, features], initialization: .truncatedNormal(std: 0.02)),
                    store.declare("\(name).bias", [width], initialization: .zeros))
        }
        norms = widths.dropLast().enumerated().map { ChannelNorm(store, "\(prefix).norms.\($0)", channels: $1) }
    }

    /// [B, D] representation -> [B, expander width] embedding.
    func forward(_ representation: Tensor, recording: Bool) -> (Tensor, Record?) {
        var record: Record? = recording ? Record() : nil
        var z = representation
        for (i, linear) in linears.enumerated() {
            record?.linearInputs.append(z)
            z = linearForward(input: z, weight: linear.weight, bias: linear.bias)
            if i < norms.count {
                let (b, d) = (z.shape[0], z.shape[1])
                let x4 = z.reshaped([b, d, 1, 1])
                let (y, cache) = norms[i].forward(x4)
                record?.normInputs.append(x4)
                record?.normCaches.append(cache)
                record?.reluInputs.append(y)
                let relu = recording ? y.copy() : y
                for j in 0..<relu.count where relu.data[j] < 0 { relu.data[j] = 0 }
                z = relu.reshaped([b, d])
            }
        }
        return (z, record)
    }

    /// Accumulates the expander's parameter gradients from dL/dembedding; returns dL/drepresentation.
    func backward(_ record: Record, gradEmbedding: Tensor, store: ParameterStore) -> Tensor {
        var d = gradEmbedding
        let rows = d.shape[0]
        for i in linears.indices.reversed() {
            if i < norms.count {
                let reluInput = record.reluInputs[i]
                let dy = Tensor(shape: reluInput.shape)
                for j in 0..<dy.count where reluInput.data[j] > 0 { dy.data[j] = d.data[j] }
                d = norms[i].backward(input: record.normInputs[i], cache: record.normCaches[i], gradOutput: dy,
                                      store: store).reshaped([rows, dy.c])
            }
            let x = record.linearInputs[i]
            let dx = Tensor(shape: x.shape)
            let linear = linears[i]
            linearBackward(input: x, weight: linear.weight, gradOutput: d, gradInput: dx,
                           gradWeight: store.gradient("\(linear.name).weight"), gradBias: store.gradient("\(linear.name).bias"))
            d = dx
        }
        return d
    }
}
