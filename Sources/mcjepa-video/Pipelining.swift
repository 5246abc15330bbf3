import Dispatch
import Foundation

// Overlap of the flow command's stages: the network runs on the calling thread while the next frame is
// decoded and the previous pair's outputs (flow files, video pictures) are encoded and written in the
// background. Each stage runs on its own serial queue, so the reader and the video writer are still used
// by one thread at a time and outputs keep their order.

/// Runs `fetch` one step ahead on a serial queue: `take()` returns the result of the previous `start`.
final class Prefetcher<Value> {
    private let queue = DispatchQueue(label: "mcjepa.prefetch")
    private let ready = DispatchSemaphore(value: 0)
    private var result: Result<Value, Error>?

    func start(_ fetch: @escaping () throws -> Value) {
        queue.async {
            self.result = Result { try fetch() }
            self.ready.signal()
        }
    }

    /// Waits for the value `start` is computing (rethrowing its error).
    func take() throws -> Value {
        ready.wait()
        defer { result = nil }
        return try result!.get()
    }
}

/// A serial background queue for output work with a bounded backlog (so memory stays flat when the disk or the
/// video encoder is slower than the network). The first error is rethrown by the next `submit` or by `drain`.
final class BackgroundWriter {
    private let queue = DispatchQueue(label: "mcjepa.writer")
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var firstError: Error?

    init(backlog: Int = 4) { slots = DispatchSemaphore(value: backlog) }

    private var error: Error? {
        lock.lock(); defer { lock.unlock() }
        return firstError
    }

    func submit(_ work: @escaping () throws -> Void) throws {
        if let error { throw error }
        slots.wait()
        queue.async {
            if self.error == nil {
                do { try work() } catch {
                    self.lock.lock()
                    if self.firstError == nil { self.firstError = error }
                    self.lock.unlock()
                }
            }
            self.slots.signal()
        }
    }

    /// Waits for every submitted job; rethrows the first error.
    func drain() throws {
        queue.sync {}
        if let error { throw error }
    }
}
