import NN

// The building blocks the modules are made of. Each declares its parameters in the ParameterStore as it is built
// (name, shape, initialisation: the one place they are written), holds references to their tensors (so loading
// weights needs no rewiring), and has a forward and a backward. A backward ACCUMULATES its parameters' gradients
// into the store and returns the gradient of its input; what it needs from the forward is passed back to it.

/// Conv2d with bias, PyTorch semantics: weight [outputs, inputs / groups, kernel, kernel].
struct ConvLayer {
    let name: String
    let weight: Tensor
    let bias: Tensor
    let config: Conv2dConfig
    /// The weight's shape (also when the store only collects declarations).
    let shape: [Int]

    init(_ store: ParameterStore, _ name: String, inputs: Int, outputs: Int, kernel: Int, stride: Int = 1,
         padding: Int = 0, dilation: Int = 1, groups: Int = 1, initialization: ParameterInitialization,
         biasInitialization: ParameterInitialization = .zeros, trailing: Bool = false) {
        self.name = name
        shape = [outputs, inputs / groups, kernel, kernel]
        weight = store.declare("\(name).weight", shape,
                               initialization: initialization, trailing: trailing)
        bias = store.declare("\(name).bias", [outputs], initialization: biasInitialization, trailing: trailing)
        config = Conv2dConfig(stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { conv2dForward(input: x, weight: weight, bias: bias, config: config) }

    /// Multiplies and adds (counted separately) for `outputPixels` output pixels of one image.
    func flops(outputPixels: Int) -> Double { 2 * Double(shape.reduce(1, *)) * Double(outputPixels) }

    /// dL/dinput (nil when `needInput` is false), accumulating dL/dweight and dL/dbias.
    @discardableResult
    func backward(input x: Tensor, gradOutput dy: Tensor, store: ParameterStore, needInput: Bool = true) -> Tensor? {
        let dx = needInput ? Tensor(shape: x.shape) : nil
        conv2dBackward(input: x, weight: weight, config: config, gradOutput: dy, gradInput: dx,
                       gradWeight: store.gradient("\(name).weight"), gradBias: store.gradient("\(name).bias"))
        return dx
    }
}

/// LayerNorm over the channels of each pixel (ConvNeXt's channels_first LayerNorm), eps 1e-6. Also serves the
/// expander's LayerNorm over the last axis of [B, D] by viewing it as [B, D, 1, 1].
struct ChannelNorm {
    let name: String
    let weight: Tensor
    let bias: Tensor

    init(_ store: ParameterStore, _ name: String, channels: Int) {
        self.name = name
        weight = store.declare("\(name).weight", [channels], initialization: .ones)
        bias = store.declare("\(name).bias", [channels], initialization: .zeros)
    }

    /// The normalised values and the statistics the backward needs.
    func forward(_ x: Tensor) -> (Tensor, LayerNormCache) {
        layerNormChannelsForward(input: x, weight: weight, bias: bias, eps: 1e-6)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { forward(x).0 }

    func backward(input x: Tensor, cache: LayerNormCache, gradOutput dy: Tensor, store: ParameterStore) -> Tensor {
        let dx = Tensor(shape: x.shape)
        layerNormChannelsBackward(input: x, weight: weight, cache: cache, gradOutput: dy, gradInput: dx,
                                  gradWeight: store.gradient("\(name).weight"), gradBias: store.gradient("\(name).bias"))
        return dx
    }
}

/// dL/dx of leaky ReLU (slope 0.1, the decoder's) at `x`.
func leakyReLUGradient(input x: Tensor, gradOutput dy: Tensor) -> Tensor {
    let dx = Tensor(shape: x.shape)
    leakyReLUBackward(input: x, slope: 0.1, gradOutput: dy, gradInput: dx)
    return dx
}
