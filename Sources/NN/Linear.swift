// Linear layer: y = x W^T + b, as torch.nn.Linear.
// Dimension letters: B rows (every leading dimension of x flattened), I input features, O output features.
// x (..., I), weight (O, I), bias (O), y (..., O). Backward accumulates into the gradients it is given.

public func linearForward(input x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (O, I) = (weight.shape[0], weight.shape[1])
    precondition(weight.rank == 2 && x.shape.last == I, "linear: input \(x.shape) does not fit weight \(weight.shape)")
    if let bias { precondition(bias.count == O, "linear: bias \(bias.shape) for weight \(weight.shape)") }
    let B = x.count / I
    let y = Tensor(shape: Array(x.shape.dropLast()) + [O])
    sgemm(transB: true, m: B, n: O, k: I, a: x.data, lda: I, b: weight.data, ldb: I, beta: 0, c: y.data, ldc: O)
    if let bias {
        let yp = y.data, bp = bias.data
        for row in 0..<B { for o in 0..<O { yp[row * O + o] += bp[o] } }
    }
    return y
}

public func linearBackward(input x: Tensor, weight: Tensor, gradOutput dy: Tensor,
                           gradInput dx: Tensor?, gradWeight dw: Tensor?, gradBias db: Tensor?) {
    let (O, I) = (weight.shape[0], weight.shape[1])
    let B = x.count / I
    precondition(dy.count == B * O, "linear: gradOutput \(dy.shape) for input \(x.shape) and weight \(weight.shape)")
    checkShape(dx, x.shape, "linear gradInput")
    checkShape(dw, weight.shape, "linear gradWeight")
    // dX (B x I) += dY (B x O) * W (O x I)
    if let dx { sgemm(m: B, n: I, k: O, a: dy.data, lda: O, b: weight.data, ldb: I, beta: 1, c: dx.data, ldc: I) }
    // dW (O x I) += dY^T (O x B) * X (B x I)
    if let dw { sgemm(transA: true, m: O, n: I, k: B, a: dy.data, lda: O, b: x.data, ldb: I, beta: 1, c: dw.data, ldc: I) }
    if let db {
        let dyp = dy.data, dbp = db.data
        for row in 0..<B { for o in 0..<O { dbp[o] += dyp[row * O + o] } }
    }
}
