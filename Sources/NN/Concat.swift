// Concatenation of NCHW tensors along the channel or batch dimension, and the backward passes (splits).
// Dimension letters: N batch, C channels, H x W size. Parts must agree on every other dimension.

/// Concatenation along the channel dimension of NCHW tensors with equal N, H, W.
public func concatChannels(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty, "concatChannels: no inputs")
    let (N, H, W) = (parts[0].n, parts[0].h, parts[0].w)
    for part in parts {
        precondition(part.rank == 4 && part.n == N && part.h == H && part.w == W,
                     "concatChannels: \(part.shape) does not match \(parts[0].shape) outside the channel dim")
    }
    let C = parts.reduce(0) { $0 + $1.c }
    let y = Tensor(shape: [N, C, H, W])
    for n in 0..<N {
        var offset = 0
        for part in parts {
            let size = part.c * H * W
            (y.data + (n * C * H * W) + offset * H * W).update(from: part.data + n * size, count: size)
            offset += part.c
        }
    }
    return y
}

/// Backward of concatChannels (a split): grads[i] += the slice of g that came from parts[i] (nil = skip).
public func concatChannelsBackward(gradOutput g: Tensor, gradParts: [Tensor?], channels: [Int]) {
    precondition(gradParts.count == channels.count && channels.reduce(0, +) == g.c,
                 "concatChannels backward: channel counts \(channels) for \(g.shape)")
    let (N, C, H, W) = (g.n, g.c, g.h, g.w)
    for n in 0..<N {
        var offset = 0
        for (part, partC) in zip(gradParts, channels) {
            defer { offset += partC }
            guard let part else { continue }
            checkShape(part, [N, partC, H, W], "concatChannels backward part")
            let src = g.data + n * C * H * W + offset * H * W, dst = part.data + n * partC * H * W
            for i in 0..<(partC * H * W) { dst[i] += src[i] }
        }
    }
}

/// Concatenation along the batch dimension (e.g. forward and backward flow pairs run as one batch).
public func concatBatch(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty, "concatBatch: no inputs")
    let itemShape = Array(parts[0].shape.dropFirst())
    for part in parts {
        precondition(Array(part.shape.dropFirst()) == itemShape, "concatBatch: \(part.shape) does not match \(parts[0].shape)")
    }
    let y = Tensor(uninitializedShape: [parts.reduce(0) { $0 + $1.shape[0] }] + itemShape)
    var offset = 0
    for part in parts {
        (y.data + offset).update(from: part.data, count: part.count)
        offset += part.count
    }
    return y
}

/// Images n0..<n1 of a batch, as a new tensor (the backward is `accumulateBatchSlice`).
public func sliceBatch(_ x: Tensor, _ range: Range<Int>) -> Tensor {
    precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[0], "sliceBatch: \(range) of \(x.shape)")
    let itemCount = x.count / max(x.shape[0], 1)
    let y = Tensor(uninitializedShape: [range.count] + Array(x.shape.dropFirst()))
    y.data.update(from: x.data + range.lowerBound * itemCount, count: y.count)
    return y
}

/// Backward of sliceBatch: grad[n0..<n1] += g.
public func accumulateBatchSlice(gradOutput g: Tensor, into grad: Tensor, at start: Int) {
    let itemCount = grad.count / max(grad.shape[0], 1)
    precondition(Array(g.shape.dropFirst()) == Array(grad.shape.dropFirst()) && start >= 0
                 && start + g.shape[0] <= grad.shape[0], "accumulateBatchSlice: \(g.shape) into \(grad.shape) at \(start)")
    let dst = grad.data + start * itemCount, src = g.data
    for i in 0..<g.count { dst[i] += src[i] }
}
