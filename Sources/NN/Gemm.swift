import COpenBLAS

// Row-major single-precision GEMM through OpenBLAS: C = alpha * op(A) * op(B) + beta * C,
// op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in elements.

@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
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
