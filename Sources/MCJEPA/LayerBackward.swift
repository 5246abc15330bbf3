import NN

// Backward passes of the building blocks (for training). Each `traced` forward computes exactly what the
// inference forward computes and keeps what its backward needs; each backward ACCUMULATES parameter gradients
// into the ParameterStore and returns the gradient of its input.

extension ConvLayer {
    /// dL/dinput (nil when `needInput` is false), accumulating dL/dweight and dL/dbias.
    @discardableResult
    func backward(input x: Tensor, gradOutput dy: Tensor, store: ParameterStore, needInput: Bool = true) -> Tensor? {
        let dx = needInput ? Tensor(shape: x.shape) : nil
        conv2dBackward(input: x, weight: weight, config: config, gradOutput: dy, gradInput: dx,
                       gradWeight: store.gradient("\(name).weight"), gradBias: store.gradient("\(name).bias"))
        return dx
    }
}

extension ChannelNorm {
    func traced(_ x: Tensor) -> (Tensor, LayerNormCache) {
        layerNormChannelsForward(input: x, weight: weight, bias: bias, eps: 1e-6)
    }

    func backward(input x: Tensor, cache: LayerNormCache, gradOutput dy: Tensor, store: ParameterStore) -> Tensor {
        let dx = Tensor(shape: x.shape)
        layerNormChannelsBackward(input: x, weight: weight, cache: cache, gradOutput: dy, gradInput: dx,
                                  gradWeight: store.gradient("\(name).weight"), gradBias: store.gradient("\(name).bias"))
        return dx
    }
}

/// What a ConvNeXt block's backward needs: its input and every intermediate.
struct ConvNeXtTrace {
    let input: Tensor, dw: Tensor, norm: Tensor, normCache: LayerNormCache, pw1: Tensor, gelu: Tensor
}

extension ConvNeXtBlock {
    func traced(_ x: Tensor) -> (Tensor, ConvNeXtTrace) {
        let a = dwconv(x)
        let (n, cache) = norm.traced(a)
        let p = pwconv1(n), g = geluForward(p)
        let y = pwconv2(g)
        accumulate(y, x)
        return (y, ConvNeXtTrace(input: x, dw: a, norm: n, normCache: cache, pw1: p, gelu: g))
    }

    func backward(_ t: ConvNeXtTrace, gradOutput dy: Tensor, store: ParameterStore) -> Tensor {
        let dg = pwconv2.backward(input: t.gelu, gradOutput: dy, store: store)!
        let dp = Tensor(shape: t.pw1.shape)
        geluBackward(input: t.pw1, gradOutput: dg, gradInput: dp)
        let dn = pwconv1.backward(input: t.norm, gradOutput: dp, store: store)!
        let da = norm.backward(input: t.dw, cache: t.normCache, gradOutput: dn, store: store)
        let dx = dwconv.backward(input: t.input, gradOutput: da, store: store)!
        accumulate(dx, dy) // the residual path
        return dx
    }
}

/// The estimator's per-layer inputs, conv outputs, norm caches and activation inputs.
struct StackTrace {
    var inputs: [Tensor] = []        // input of conv i
    var convOutputs: [Tensor] = []   // output of conv i (norm input, or activation input without norms)
    var normCaches: [LayerNormCache] = []
    var activationInputs: [Tensor] = []
    var last: Tensor?                // input of the `out` conv
}

extension FlowEstimatorHead {
    func traced(_ input: Tensor) -> (residual: Tensor, hidden: Tensor, trace: StackTrace) {
        var t = StackTrace()
        var x = input
        for (i, conv) in convs.enumerated() {
            t.inputs.append(x)
            x = conv(x)
            t.convOutputs.append(x)
            if let norms {
                let (y, cache) = norms[i].traced(x)
                t.normCaches.append(cache)
                x = y
            }
            t.activationInputs.append(x)
            x = leakyReLUForward(x, slope: 0.1)
        }
        t.last = x
        return (out(x), x, t)
    }

    /// dL/dinput from dL/dresidual and dL/dhidden (the context network's use of the hidden features).
    func backward(_ t: StackTrace, gradResidual: Tensor, gradHidden: Tensor?, store: ParameterStore) -> Tensor {
        var dx = out.backward(input: t.last!, gradOutput: gradResidual, store: store)!
        if let gradHidden { accumulate(dx, gradHidden) }
        for i in convs.indices.reversed() {
            let da = Tensor(shape: t.activationInputs[i].shape)
            leakyReLUBackward(input: t.activationInputs[i], slope: 0.1, gradOutput: dx, gradInput: da)
            var dc = da
            if let norms { dc = norms[i].backward(input: t.convOutputs[i], cache: t.normCaches[i], gradOutput: da, store: store) }
            dx = convs[i].backward(input: t.inputs[i], gradOutput: dc, store: store)!
        }
        return dx
    }
}

extension ContextNetwork {
    func traced(_ input: Tensor) -> (Tensor, StackTrace) {
        var t = StackTrace()
        var x = input
        for conv in convs {
            t.inputs.append(x)
            let c = conv(x)
            t.activationInputs.append(c)
            x = leakyReLUForward(c, slope: 0.1)
        }
        t.last = x
        return (out(x), t)
    }

    func backward(_ t: StackTrace, gradOutput dy: Tensor, store: ParameterStore) -> Tensor {
        var dx = out.backward(input: t.last!, gradOutput: dy, store: store)!
        for i in convs.indices.reversed() {
            let da = Tensor(shape: t.activationInputs[i].shape)
            leakyReLUBackward(input: t.activationInputs[i], slope: 0.1, gradOutput: dx, gradInput: da)
            dx = convs[i].backward(input: t.inputs[i], gradOutput: da, store: store)!
        }
        return dx
    }
}

/// Backward of `upsampleFlow`: scale each component's gradient by its factor, then the resize's backward.
func upsampleFlowBackward(gradOutput dy: Tensor, into dx: Tensor) {
    let sx = Float(dy.w) / Float(dx.w), sy = Float(dy.h) / Float(dx.h)
    let scaled = dy.copy()
    let plane = dy.h * dy.w
    for n in 0..<dy.n {
        let u = scaled.data + n * 2 * plane, v = u + plane
        for i in 0..<plane { u[i] *= sx; v[i] *= sy }
    }
    resizeBilinearBackward(gradOutput: scaled, gradInput: dx)
}

/// Backward of `backwardWarp`, with the flow component along an axis of size 1 receiving no gradient (it has no
/// effect on the output there).
func backwardWarpBackward(image: Tensor, flow: Tensor, gradOutput g: Tensor, gradImage: Tensor?, gradFlow: Tensor?) {
    guard flow.h == 1 || flow.w == 1 else {
        warpBackward(image: image, flow: flow, gradOutput: g, gradImage: gradImage, gradFlow: gradFlow)
        return
    }
    let adjusted = flow.copy(), plane = flow.h * flow.w
    for n in 0..<flow.n {
        if flow.w == 1 { (adjusted.data + n * 2 * plane).update(repeating: 0, count: plane) }
        if flow.h == 1 { (adjusted.data + n * 2 * plane + plane).update(repeating: 0, count: plane) }
    }
    let local = gradFlow.map { Tensor(shape: $0.shape) }
    warpBackward(image: image, flow: adjusted, gradOutput: g, gradImage: gradImage, gradFlow: local)
    if let gradFlow, let local {
        for n in 0..<flow.n {
            if flow.w == 1 { (local.data + n * 2 * plane).update(repeating: 0, count: plane) }
            if flow.h == 1 { (local.data + n * 2 * plane + plane).update(repeating: 0, count: plane) }
        }
        accumulate(gradFlow, local)
    }
}
