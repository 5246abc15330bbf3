import XCTest
@testable import NN

/// `sgemm` cuts C into one block per thread and runs single-threaded OpenBLAS calls on pointer offsets into
/// A, B and C. A wrong offset for one transpose case, or a block boundary off by one, shows up only for that
/// case, so every transpose combination is checked against a plain triple loop, splitting columns (n >= m) and
/// splitting rows (m > n), with padded leading dimensions so that a stride mix-up cannot pass.
final class GemmTests: XCTestCase {
    override func tearDown() { NN.setThreads(2) }

    private func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p]
                    let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                out[i * ldc + j] = alpha * Float(sum) + beta * c[i * ldc + j]
            }
        }
        return out
    }

    private func check(m: Int, n: Int, k: Int, threads: Int, split: Bool,
                       file: StaticString = #filePath, line: UInt = #line) {
        // The sizes below are chosen to be above (or below) the split threshold; keep them so.
        XCTAssertEqual(threads > 1 && m * n * k >= threads * minimumGemmWorkPerBlock, split,
                       "m \(m) n \(n) k \(k) no longer \(split ? "splits" : "runs as one block")", file: file, line: line)
        NN.setThreads(threads)
        var rng = SystemRandomNumberGenerator()
        let random = { (count: Int) in (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        for transA in [false, true] {
            for transB in [false, true] {
                let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 7
                let a = random((transA ? k : m) * lda), b = random((transB ? n : k) * ldb)
                let c0 = random(m * ldc)
                let expected = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5,
                                         a: a, lda: lda, b: b, ldb: ldb, beta: 0.25, c: c0, ldc: ldc)
                var c = c0
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5,
                                  a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                                  beta: 0.25, c: pc.baseAddress!, ldc: ldc)
                        }
                    }
                }
                var worst: Float = 0
                for i in 0..<m {
                    for j in 0..<ldc {
                        // Padding columns past n must be left as they were.
                        worst = max(worst, abs(c[i * ldc + j] - expected[i * ldc + j]))
                    }
                }
                XCTAssertLessThan(worst, 1e-4, "transA \(transA) transB \(transB) m \(m) n \(n) k \(k) threads \(threads)",
                                  file: file, line: line)
            }
        }
    }

    func test_blocks_split_over_columns_match_the_reference_for_every_transpose() {
        // 37 x 613 x 83: 1.9M multiply-adds, 613 columns split unevenly.
        check(m: 37, n: 613, k: 83, threads: 2, split: true)
        check(m: 37, n: 613, k: 83, threads: 3, split: true)
    }

    func test_blocks_split_over_rows_match_the_reference_for_every_transpose() {
        check(m: 611, n: 29, k: 97, threads: 2, split: true)
        check(m: 611, n: 29, k: 97, threads: 3, split: true)
    }

    func test_small_and_single_threaded_products_run_as_one_block() {
        check(m: 5, n: 7, k: 3, threads: 2, split: false)
        check(m: 37, n: 613, k: 83, threads: 1, split: false)
    }
}
