import Foundation
import Synchronization

// Scratch buffers for im2col columns and other per-call temporaries. Large buffers are reused instead of being
// allocated per call: a fresh 50 MB allocation costs thousands of page faults, more than the GEMM it feeds.

final class ScratchPool: Sendable {
    static let shared = ScratchPool()
    /// Free buffers as (address, capacity): a pointer is not Sendable, and the pool hands out sole ownership.
    private let free = Mutex<[(address: UInt, capacity: Int)]>([])

    /// A buffer of at least `count` floats, contents undefined; give it back with `release`.
    func take(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let reused: (address: UInt, capacity: Int)? = free.withLock { free in
            var best: Int? = nil
            for index in free.indices where free[index].capacity >= count {
                if best == nil || free[index].capacity < free[best!].capacity { best = index }
            }
            return best.map { free.remove(at: $0) }
        }
        if let reused, let pointer = UnsafeMutablePointer<Float>(bitPattern: reused.address) {
            return (pointer, reused.capacity)
        }
        let capacity = max(count, 1)
        return (UnsafeMutablePointer<Float>.allocate(capacity: capacity), capacity)
    }

    func release(_ buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        let dropped: UInt? = free.withLock { free in
            free.append((UInt(bitPattern: buffer.pointer), buffer.capacity))
            // Keep a handful of buffers; drop the smallest beyond that.
            guard free.count > 8 else { return nil }
            var smallest = 0
            for index in free.indices where free[index].capacity < free[smallest].capacity { smallest = index }
            return free.remove(at: smallest).address
        }
        if let dropped { UnsafeMutablePointer<Float>(bitPattern: dropped)?.deallocate() }
    }
}

/// Runs `body` with a scratch buffer of `count` floats (contents undefined).
@inline(__always)
func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let buffer = ScratchPool.shared.take(count)
    defer { ScratchPool.shared.release(buffer) }
    return try body(buffer.pointer)
}
