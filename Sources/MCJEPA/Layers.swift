import NN

// The network's building blocks. Each holds references to its parameter tensors in the ParameterStore (so
// loading weights needs no rewiring) and the names they have there (so a trainer can find their gradients).
// `callAsFunction` is the inference forward; LayerBackward.swift adds traced forwards (keeping what the
// backward needs) and backward passes, used by ModelTraining.swift.

/// Conv2d with bias, PyTorch semantics.
struct ConvLayer {
    let name: String
    let weight: Tensor
    let bias: Tensor
    let config: Conv2dConfig

    init(_ store: ParameterStore, _ name: String, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.name = name
        weight = store["\(name).weight"]
        bias = store["\(name).bias"]
        config = Conv2dConfig(stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { conv2dForward(input: x, weight: weight, bias: bias, config: config) }
}

/// LayerNorm over the channels of each pixel (ConvNeXt's channels_first LayerNorm), eps 1e-6. Also serves the
/// expander's LayerNorm over the last axis of [B, D] by viewing it as [B, D, 1, 1].
struct ChannelNorm {
    let name: String
    let weight: Tensor
    let bias: Tensor

    init(_ store: ParameterStore, _ name: String) {
        self.name = name
        weight = store["\(name).weight"]
        bias = store["\(name).bias"]
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        layerNormChannelsForward(input: x, weight: weight, bias: bias, eps: 1e-6).0
    }
}

/// depthwise 7x7 -> LayerNorm2d -> 1x1 to 4C -> GELU -> 1x1 to C -> residual add.
struct ConvNeXtBlock {
    let dwconv: ConvLayer, norm: ChannelNorm, pwconv1: ConvLayer, pwconv2: ConvLayer

    init(_ store: ParameterStore, _ name: String, channels: Int) {
        dwconv = ConvLayer(store, "\(name).dwconv", padding: 3, groups: channels)
        norm = ChannelNorm(store, "\(name).norm")
        pwconv1 = ConvLayer(store, "\(name).pwconv1")
        pwconv2 = ConvLayer(store, "\(name).pwconv2")
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let y = pwconv2(geluForward(pwconv1(norm(dwconv(x)))))
        accumulate(y, x)
        return y
    }
}

/// One pyramid level: stride-2 conv + LayerNorm2d, then ConvNeXt blocks.
struct EncoderLevel {
    let conv: ConvLayer, norm: ChannelNorm, blocks: [ConvNeXtBlock]

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = norm(conv(x))
        for block in blocks { y = block(y) }
        return y
    }
}

/// Split-stem ConvNeXt: level 1 conv 4x4 s2 p1, level 2 conv 3x3 s2 p1, levels 3..6 conv 2x2 s2 p0.
struct Encoder {
    let levels: [EncoderLevel]

    init(_ store: ParameterStore) {
        let cfg = store.config
        levels = (0..<ModelConfig.levelCount).map { level in
            let prefix = "encoder.levels.\(level)"
            let padding = level < 2 ? 1 : 0
            let blockCount = level < 2 ? 0 : cfg.blocks[level - 2]
            return EncoderLevel(
                conv: ConvLayer(store, "\(prefix).conv", stride: 2, padding: padding),
                norm: ChannelNorm(store, "\(prefix).norm"),
                blocks: (0..<blockCount).map { ConvNeXtBlock(store, "\(prefix).blocks.\($0)", channels: cfg.widths[level]) })
        }
    }

    /// Normalised input [N, 3, H, W] (H, W multiples of 64) -> features of levels 1..6.
    func callAsFunction(_ x: Tensor) -> [Tensor] {
        var features: [Tensor] = []
        var y = x
        for level in levels {
            y = level(y)
            features.append(y)
        }
        return features
    }
}
