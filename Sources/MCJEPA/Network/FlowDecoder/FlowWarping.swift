import NN

// The decoder's flow resizing and warping, with their backward passes (the losses use them too).

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

/// grid_sample(align_corners=True) backward warp. Along an axis of size 1 PyTorch's grid maps every sample to
/// coordinate 0 whatever the flow (it multiplies back by size - 1 = 0), so that flow component is ignored there.
func backwardWarp(_ x: Tensor, _ flow: Tensor) -> Tensor {
    guard flow.h == 1 || flow.w == 1 else { return warpForward(image: x, flow: flow).output }
    return warpForward(image: x, flow: ignoringSizeOneAxes(flow)).output
}

/// Backward of `backwardWarp`, with the flow component along an axis of size 1 receiving no gradient (it has no
/// effect on the output there).
func backwardWarpBackward(image: Tensor, flow: Tensor, gradOutput g: Tensor, gradImage: Tensor?, gradFlow: Tensor?) {
    guard flow.h == 1 || flow.w == 1 else {
        warpBackward(image: image, flow: flow, gradOutput: g, gradImage: gradImage, gradFlow: gradFlow)
        return
    }
    let local = gradFlow.map { Tensor(shape: $0.shape) }
    warpBackward(image: image, flow: ignoringSizeOneAxes(flow), gradOutput: g, gradImage: gradImage, gradFlow: local)
    if let gradFlow, let local { accumulate(gradFlow, ignoringSizeOneAxes(local)) }
}

/// `flow` with its u component zeroed when the width is 1 and its v component when the height is 1.
private func ignoringSizeOneAxes(_ flow: Tensor) -> Tensor {
    let adjusted = flow.copy(), plane = flow.h * flow.w
    for n in 0..<flow.n {
        if flow.w == 1 { (adjusted.data + n * 2 * plane).update(repeating: 0, count: plane) }
        if flow.h == 1 { (adjusted.data + n * 2 * plane + plane).update(repeating: 0, count: plane) }
    }
    return adjusted
}
