import COpenBLAS
import Dispatch
import Foundation
import Synchronization

// Threads: every kernel (GEMM, im2col, depthwise conv, correlation, warp, norms) splits its outer loop over
// `parallelFor`, which hands contiguous chunks to DispatchQueue.concurrentPerform. One chunk per thread keeps
// the per-call overhead to a few microseconds.
//
// OpenBLAS itself runs single-threaded: `sgemm` splits C into column (or row) blocks and runs one
// single-threaded GEMM per block on our threads. OpenBLAS's own pool busy-waits (sched_yield) between calls,
// and between the many small GEMMs of a forward pass that spinning took ~20% of the samples of `flow` on two
// cores shared with the decoder and the writer.

/// The kernels' thread count: atomic, so any task may read or set it; OpenBLAS is made single-threaded the first
/// time it is touched.
private let threadCountStorage: Atomic<Int> = {
    openblas_set_num_threads(1)
    return Atomic(ProcessInfo.processInfo.activeProcessorCount)
}()

/// Number of threads used by the kernels, GEMM included.
public var threadCount: Int { threadCountStorage.load(ordering: .relaxed) }

/// Sets the thread count for the engine's kernels (`NN.setThreads(2)`); OpenBLAS stays single-threaded.
/// Kernels already running keep the count they started with.
public func setThreads(_ n: Int) {
    openblas_set_num_threads(1)
    threadCountStorage.store(max(1, n), ordering: .relaxed)
}

/// Work (roughly, inner-loop iterations) below which a chunk is not worth a thread hand-off (~10 us).
private let minimumWorkPerChunk = 16_384

/// Runs `body(range)` over disjoint sub-ranges covering 0..<count, in parallel when it is worth it.
/// `itemCost` is the work of one index (inner-loop iterations), so the tiny maps of the coarse pyramid levels
/// run on the calling thread instead of paying a thread hand-off. `body` must only write memory that belongs
/// to its own range.
@inline(__always)
public func parallelFor(_ count: Int, itemCost: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = threadCount
    if count <= 0 { return }
    let minChunk = max(1, minimumWorkPerChunk / max(1, itemCost))
    let chunks = min(threads, max(1, count / minChunk))
    if chunks <= 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        // The chunks write disjoint memory (the contract above), which is what makes sharing `body` safe.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }
}
