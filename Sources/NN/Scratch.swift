import Foundation

// Scratch buffers for im2col columns and other per-call temporaries. Large buffers are reused instead of being
// allocated per call: a fresh 50 MB allocation costs thousands of page faults, more than the GEMM it feeds.

final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private let lock = NSLock()

    /// A buffer of at least `count` floats, contents undefined; give it back with `release`.
    func take(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        defer { lock.unlock() }
        var best: Int? = nil
        for index in free.indices where free[index].capacity >= count {
            if best == nil || free[index].capacity < free[best!].capacity { best = index }
        }
        if let best { return free.remove(at: best) }
        let capacity = max(count, 1)
        return (UnsafeMutablePointer<Float>.allocate(capacity: capacity), capacity)
    }

    func release(_ buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buffer)
        // Keep a handful of buffers; drop the smallest beyond that.
        if free.count > 8 {
            var smallest = 0
            for index in free.indices where free[index].capacity < free[smallest].capacity { smallest = index }
            free.remove(at: smallest).pointer.deallocate()
        }
    }
}

/// Runs `body` with a scratch buffer of `count` floats (contents undefined).
@inline(__always)
func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let buffer = ScratchPool.shared.take(count)
    defer { ScratchPool.shared.release(buffer) }
    return try body(buffer.pointer)
}
