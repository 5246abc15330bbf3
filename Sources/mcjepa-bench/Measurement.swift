import Foundation
import MCJEPA
import NN

// What the benchmarks share: timing, CPU time, test inputs, sgemm's peak, and option parsing.

/// Fastest wall time in seconds of `body` over `reps` runs after one warm-up run. The minimum, not the median:
/// on a shared machine it is the run least disturbed by other processes, for Swift and PyTorch alike.
func bestSeconds(reps: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<max(1, reps) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

/// The best times of `first` and `second`, run in turn `reps` times after one warm-up run of each: a load that
/// comes and goes on a shared machine then falls on both alike, which back-to-back series do not ensure when the
/// difference sought is a few percent.
func bestSecondsInterleaved(reps: Int, _ first: () -> Void, _ second: () -> Void) -> (first: Double, second: Double) {
    first(); second()
    var best = (Double.infinity, Double.infinity)
    for _ in 0..<max(1, reps) {
        var start = DispatchTime.now().uptimeNanoseconds
        first()
        best.0 = min(best.0, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        start = DispatchTime.now().uptimeNanoseconds
        second()
        best.1 = min(best.1, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

/// User + system CPU seconds of this process (all threads, `RUSAGE_SELF`) or of its waited-for children
/// (`RUSAGE_CHILDREN`).
func cpuSeconds(_ who: Int32) -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(who), &usage)
    let seconds = { (t: timeval) in Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// A tensor of deterministic pseudo-random values (an LCG seeded by `seed`) in [0, 1), or in [-scale, scale)
/// when `signed`: the same inputs on every run, without a random generator in the timed code.
func pseudoRandomTensor(_ shape: [Int], seed: UInt32, signed: Bool = false, scale: Float = 1) -> Tensor {
    let t = Tensor(shape: shape)
    var state = seed
    for i in 0..<t.count {
        state = state &* 1_664_525 &+ 1_013_904_223
        let unit = Float(state >> 8) / Float(1 << 24)
        t.data[i] = signed ? (unit - 0.5) * 2 * scale : unit
    }
    return t
}

/// sgemm's best GFLOP/s over a few square sizes, through conv2dForward's own GEMM path (a 1x1 convolution is
/// exactly one sgemm: M = out channels, K = in channels, N = pixels), so it is the peak our kernels can reach.
func sgemmPeakGFLOPs(reps: Int, sizes: [Int] = [512, 1024, 1536]) -> Double {
    var best = 0.0
    for size in sizes {
        let x = pseudoRandomTensor([1, size, size, 1], seed: 1, signed: true)
        let w = pseudoRandomTensor([size, size, 1, 1], seed: 2, signed: true)
        let seconds = bestSeconds(reps: reps) { _ = conv2dForward(input: x, weight: w, bias: nil) }
        best = max(best, 2 * Double(size * size * size) / seconds / 1e9)
    }
    return best
}
