import NN

// The encoder: a split-stem ConvNeXt with 6 pyramid levels (strides 2 ... 64). Level 1: conv 4x4 s2 p1 +
// LayerNorm2d; level 2: conv 3x3 s2 p1 + LayerNorm2d; levels 3..6: conv 2x2 s2 + LayerNorm2d, then ConvNeXt blocks.
// Mirrors Reference/mcjepa/model.py `Encoder`; parameters `encoder.levels.<0..5>.*`.
// Every forward takes `recording`: false (inference) keeps nothing, true keeps what the backward reads.

/// depthwise 7x7 -> LayerNorm2d -> 1x1 to 4C -> GELU -> 1x1 to C -> residual add.
struct ConvNeXtBlock {
    let dwconv: ConvLayer, norm: ChannelNorm, pwconv1: ConvLayer, pwconv2: ConvLayer

    /// What the block's backward needs: its input and every intermediate.
    struct Record {
        let input: Tensor, dw: Tensor, norm: Tensor, normCache: LayerNormCache, pw1: Tensor, gelu: Tensor
    }

    init(_ store: ParameterStore, _ name: String, channels c: Int) {
        dwconv = ConvLayer(store, "\(name).dwconv", inputs: c, outputs: c, kernel: 7, padding: 3, groups: c,
                           initialization: .truncatedNormal(std: 0.02))
        norm = ChannelNorm(store, "\(name).norm", channels: c)
        pwconv1 = ConvLayer(store, "\(name).pwconv1", inputs: c, outputs: 4 * c, kernel: 1,
                            initialization: .truncatedNormal(std: 0.02))
        pwconv2 = ConvLayer(store, "\(name).pwconv2", inputs: 4 * c, outputs: c, kernel: 1,
                            initialization: .truncatedNormal(std: 0.02))
    }

    func forward(_ x: Tensor, recording: Bool) -> (Tensor, Record?) {
        let a = dwconv(x)
        let (n, cache) = norm.forward(a)
        let p = pwconv1(n), g = geluForward(p)
        let y = pwconv2(g)
        accumulate(y, x)
        return (y, recording ? Record(input: x, dw: a, norm: n, normCache: cache, pw1: p, gelu: g) : nil)
    }

    func backward(_ r: Record, gradOutput dy: Tensor, store: ParameterStore) -> Tensor {
        let dg = pwconv2.backward(input: r.gelu, gradOutput: dy, store: store)!
        let dp = Tensor(shape: r.pw1.shape)
        geluBackward(input: r.pw1, gradOutput: dg, gradInput: dp)
        let dn = pwconv1.backward(input: r.norm, gradOutput: dp, store: store)!
        let da = norm.backward(input: r.dw, cache: r.normCache, gradOutput: dn, store: store)
        let dx = dwconv.backward(input: r.input, gradOutput: da, store: store)!
        accumulate(dx, dy) // the residual path
        return dx
    }
}

/// One pyramid level: stride-2 conv + LayerNorm2d, then ConvNeXt blocks.
struct EncoderLevel {
    let conv: ConvLayer, norm: ChannelNorm, blocks: [ConvNeXtBlock]

    struct Record {
        let input: Tensor, convOutput: Tensor, normCache: LayerNormCache, blocks: [ConvNeXtBlock.Record]
    }

    func forward(_ x: Tensor, recording: Bool) -> (Tensor, Record?) {
        let c = conv(x)
        let (n, cache) = norm.forward(c)
        var y = n, records: [ConvNeXtBlock.Record] = []
        for block in blocks {
            let (out, record) = block.forward(y, recording: recording)
            if let record { records.append(record) }
            y = out
        }
        return (y, recording ? Record(input: x, convOutput: c, normCache: cache, blocks: records) : nil)
    }

    /// dL/dinput (nil when `needInput` is false: the image needs none).
    func backward(_ r: Record, gradOutput: Tensor, store: ParameterStore, needInput: Bool) -> Tensor? {
        var dy = gradOutput
        for (block, record) in zip(blocks, r.blocks).reversed() { dy = block.backward(record, gradOutput: dy, store: store) }
        let dc = norm.backward(input: r.convOutput, cache: r.normCache, gradOutput: dy, store: store)
        return conv.backward(input: r.input, gradOutput: dc, store: store, needInput: needInput)
    }
}

struct Encoder {
    let levels: [EncoderLevel]

    /// What the encoder's backward needs, per level.
    struct Record { let levels: [EncoderLevel.Record] }

    init(_ store: ParameterStore) {
        let cfg = store.config
        levels = (0..<ModelConfig.levelCount).map { level in
            let prefix = "encoder.levels.\(level)", width = cfg.widths[level]
            let kernel = level == 0 ? 4 : (level == 1 ? 3 : 2)
            let blockCount = level < 2 ? 0 : cfg.blocks[level - 2]
            return EncoderLevel(
                conv: ConvLayer(store, "\(prefix).conv", inputs: level == 0 ? 3 : cfg.widths[level - 1], outputs: width,
                                kernel: kernel, stride: 2, padding: level < 2 ? 1 : 0,
                                initialization: .truncatedNormal(std: 0.02)),
                norm: ChannelNorm(store, "\(prefix).norm", channels: width),
                blocks: (0..<blockCount).map { ConvNeXtBlock(store, "\(prefix).blocks.\($0)", channels: width) })
        }
    }

    /// Normalised input [N, 3, H, W] (H, W multiples of 64) -> features of levels 1..6.
    func forward(_ x: Tensor, recording: Bool) -> (features: [Tensor], record: Record?) {
        var features: [Tensor] = [], records: [EncoderLevel.Record] = []
        var y = x
        for level in levels {
            let (out, record) = level.forward(y, recording: recording)
            if let record { records.append(record) }
            y = out
            features.append(y)
        }
        return (features, recording ? Record(levels: records) : nil)
    }

    /// Convolution FLOPs of one [1, 3, height, width] image (norms and activations left out, see `ModelFLOPs`).
    func flops(height: Int, width: Int) -> Double {
        var total = 0.0
        for (i, level) in levels.enumerated() {
            let pixels = (height >> (i + 1)) * (width >> (i + 1))
            total += level.conv.flops(outputPixels: pixels)
            for block in level.blocks {
                total += [block.dwconv, block.pwconv1, block.pwconv2].reduce(0) { $0 + $1.flops(outputPixels: pixels) }
            }
        }
        return total
    }

    /// Accumulates parameter gradients from dL/dfeatures (nil = no gradient at that level).
    func backward(_ record: Record, gradFeatures: [Tensor?], store: ParameterStore) {
        precondition(gradFeatures.count == ModelConfig.levelCount, "one gradient (or nil) per level")
        var carried: Tensor?  // gradient flowing into level i's output from level i + 1
        for i in levels.indices.reversed() {
            var dy: Tensor
            switch (gradFeatures[i], carried) {
            case (nil, nil): continue
            case (let g?, nil): dy = g.copy()
            case (nil, let c?): dy = c
            case (let g?, let c?): dy = c; accumulate(dy, g)
            }
            carried = levels[i].backward(record.levels[i], gradOutput: dy, store: store, needInput: i > 0)
        }
    }
}
