import COpenBLAS
import Dispatch

// Row-major single-precision GEMM through OpenBLAS: C = alpha * op(A) * op(B) + beta * C,
// op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements.

/// Multiply-adds below which a GEMM block is not worth a thread hand-off (~10 us at ~50 GFLOP/s per core).
let minimumGemmWorkPerBlock = 1 << 19

/// C = alpha * op(A) * op(B) + beta * C, split over `threadCount` threads (see Threads.swift).
///
/// The longer of C's two sides is cut into one block per thread; each block is an independent single-threaded
/// OpenBLAS call on its own rows of op(A) or columns of op(B), so no block reads what another writes.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    let splitColumns = n >= m
    let extent = splitColumns ? n : m
    // At least 16 rows or columns per block keeps OpenBLAS's packed kernels on full panels.
    let blocks = min(threadCount, m * n * max(1, k) / minimumGemmWorkPerBlock, extent / 16)
    if blocks <= 1 {
        sgemmBlock(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    // Each block reads A and B and writes its own rows or columns of C: the pointers are shared, the writes are not.
    nonisolated(unsafe) let (a, b, c) = (a, b, c)
    DispatchQueue.concurrentPerform(iterations: blocks) { block in
        let start = extent * block / blocks
        let count = extent * (block + 1) / blocks - start
        if splitColumns {
            // Columns start..<start+count of op(B) and of C.
            sgemmBlock(transA: transA, transB: transB, m: m, n: count, k: k, alpha: alpha,
                       a: a, lda: lda, b: b + (transB ? start * ldb : start), ldb: ldb,
                       beta: beta, c: c + start, ldc: ldc)
        } else {
            // Rows start..<start+count of op(A) and of C.
            sgemmBlock(transA: transA, transB: transB, m: count, n: n, k: k, alpha: alpha,
                       a: a + (transA ? start : start * lda), lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c + start * ldc, ldc: ldc)
        }
    }
}

@inline(__always)
private func sgemmBlock(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc))
}

/// Sum of a[i] * b[i * strideB] for i in 0..<count. The contiguous case uses two SIMD4 accumulators: the
/// compiler will not reorder a float reduction by itself (strict FP), so the lanes are written out.
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int, strideB: Int = 1) -> Float {
    var i = 0
    var tail: Float = 0
    if strideB == 1 {
        var s0 = SIMD4<Float>(), s1 = SIMD4<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i &+ 8 <= count {
            s0 += ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self)
            s1 += ra.loadUnaligned(fromByteOffset: (i &+ 4) &* 4, as: SIMD4<Float>.self)
                * rb.loadUnaligned(fromByteOffset: (i &+ 4) &* 4, as: SIMD4<Float>.self)
            i &+= 8
        }
        tail = (s0 + s1).sum()
    }
    while i < count { tail += a[i] * b[i &* strideB]; i &+= 1 }
    return tail
}

/// C (m x n) = A (m x k) * B (n x k)^T, row-major with rows packed (lda = ldb = k, ldc = n), on the calling
/// thread: for callers that spread independent products over their own threads (one call per thread). Reading
/// `threadCount` first makes sure OpenBLAS is single-threaded (its own pool would spin beside ours).
public func multiplyTransposedOnThisThread(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                           c: UnsafeMutablePointer<Float>) {
    if m == 0 || n == 0 { return }
    _ = threadCount
    sgemmBlock(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: c, ldc: n)
}
