import NN

/// VICReg expander: [Linear -> LayerNorm (eps 1e-6) -> ReLU] per hidden width, then a final Linear.
struct Expander {
    let linears: [(weight: Tensor, bias: Tensor)]
    let norms: [ChannelNorm]

    init(_ store: ParameterStore) {
        let cfg = store.config
        linears = cfg.expanderWidths.indices.map { (store["expander.linears.\($0).weight"], store["expander.linears.\($0).bias"]) }
        norms = cfg.expanderWidths.dropLast().indices.map { ChannelNorm(store, "expander.norms.\($0)") }
    }

    /// [B, D] representation -> [B, expander width] embedding.
    func callAsFunction(_ rep: Tensor) -> Tensor {
        var z = rep
        for (i, linear) in linears.enumerated() {
            z = linearForward(input: z, weight: linear.weight, bias: linear.bias)
            if i < norms.count {
                let (b, d) = (z.shape[0], z.shape[1])
                z = norms[i](z.reshaped([b, d, 1, 1])).reshaped([b, d])
                let p = z.data
                for j in 0..<z.count where p[j] < 0 { p[j] = 0 }
            }
        }
        return z
    }
}
