import COpenBLAS
import Dispatch
import Foundation

// Threads: OpenBLAS runs the GEMMs with its own threads; every other kernel (im2col, depthwise conv,
// correlation, warp, norms) splits its outer loop over `parallelFor`, which hands contiguous chunks to
// DispatchQueue.concurrentPerform. One chunk per thread keeps the per-call overhead to a few microseconds.

/// Number of threads used by the non-GEMM kernels (OpenBLAS is set to the same count).
public private(set) nonisolated(unsafe) var threadCount: Int = {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    openblas_set_num_threads(Int32(cores))
    return cores
}()

/// Sets the thread count for OpenBLAS and for the engine's own kernels (`NN.setThreads(2)`).
/// Call it before running kernels, not concurrently with them.
public func setThreads(_ n: Int) {
    let count = max(1, n)
    threadCount = count
    openblas_set_num_threads(Int32(count))
}

/// Work (roughly, inner-loop iterations) below which a chunk is not worth a thread hand-off (~10 us).
private let minimumWorkPerChunk = 16_384

/// Runs `body(range)` over disjoint sub-ranges covering 0..<count, in parallel when it is worth it.
/// `itemCost` is the work of one index (inner-loop iterations), so the tiny maps of the coarse pyramid levels
/// run on the calling thread instead of paying a thread hand-off. `body` must only write memory that belongs
/// to its own range.
@inline(__always)
func parallelFor(_ count: Int, itemCost: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = threadCount
    if count <= 0 { return }
    let minChunk = max(1, minimumWorkPerChunk / max(1, itemCost))
    let chunks = min(threads, max(1, count / minChunk))
    if chunks <= 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }
}
