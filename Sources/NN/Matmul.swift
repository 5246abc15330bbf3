// Matrix product of 2-D tensors with optional transposes, through sgemm: C = op(A) op(B).
// Dimension letters: M rows of op(A), K inner dimension, N columns of op(B). Used where a loss needs a plain
// matrix product (VICReg's covariance Z^T Z, similarity matrices); layers use linear / conv instead.

public func matmulForward(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul: operands \(a.shape) and \(b.shape) must be 2-D")
    let (M, K) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (K2, N) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(K == K2, "matmul: inner dimensions differ for \(a.shape) and \(b.shape)")
    let c = Tensor(shape: [M, N])
    sgemm(transA: transposeA, transB: transposeB, m: M, n: N, k: K, a: a.data, lda: a.shape[1],
          b: b.data, ldb: b.shape[1], beta: 0, c: c.data, ldc: N)
    return c
}

/// dA += dC op(B)^T (or its transpose), dB += op(A)^T dC (or its transpose).
public func matmulBackward(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                           gradOutput g: Tensor, gradA: Tensor?, gradB: Tensor?) {
    checkShape(gradA, a.shape, "matmul gradA")
    checkShape(gradB, b.shape, "matmul gradB")
    let (M, K) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let N = transposeB ? b.shape[0] : b.shape[1]
    checkShape(g, [M, N], "matmul gradOutput")
    let (lda, ldb) = (a.shape[1], b.shape[1])
    if let gradA {
        if transposeA {
            // A is K x M: dA = op(B) dC^T, (K x N)(N x M)
            sgemm(transA: transposeB, transB: true, m: K, n: M, k: N, a: b.data, lda: ldb, b: g.data, ldb: N,
                  beta: 1, c: gradA.data, ldc: lda)
        } else {
            // A is M x K: dA = dC op(B)^T, (M x N)(N x K)
            sgemm(transA: false, transB: !transposeB, m: M, n: K, k: N, a: g.data, lda: N, b: b.data, ldb: ldb,
                  beta: 1, c: gradA.data, ldc: lda)
        }
    }
    if let gradB {
        if transposeB {
            // B is N x K: dB = dC^T op(A), (N x M)(M x K)
            sgemm(transA: true, transB: transposeA, m: N, n: K, k: M, a: g.data, lda: N, b: a.data, ldb: lda,
                  beta: 1, c: gradB.data, ldc: ldb)
        } else {
            // B is K x N: dB = op(A)^T dC, (K x M)(M x N)
            sgemm(transA: !transposeA, transB: false, m: K, n: N, k: M, a: a.data, lda: lda, b: g.data, ldb: N,
                  beta: 1, c: gradB.data, ldc: ldb)
        }
    }
}
