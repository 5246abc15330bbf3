// Tensor: a shape plus one contiguous, row-major Float32 buffer (llm.c style: no strides, no autograd).
// Image tensors are NCHW: N batch, C channels, H height, W width; the last index varies fastest.
// A Tensor is a reference type on purpose: kernels write outputs and accumulate gradients into buffers the
// caller owns, and `reshaped` returns a view that shares storage (1x1 convolutions and linear layers use it).

import Foundation
import Synchronization

/// Owns the raw memory; shared by a tensor and its reshaped views. Large buffers come from and return to
/// `StoragePool`, so a training step reuses the previous step's activation memory instead of paying page faults.
// Tensors are shared with the kernels' worker threads by design: each thread writes only its own slice of a buffer
// (the contract of `parallelFor`), which no lock or actor could express without serialising the kernels.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    init(count: Int, zeroed: Bool = true) {
        self.count = count
        pointer = StoragePool.shared.take(count) ?? UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit {
        if !StoragePool.shared.give(pointer, count: count) { pointer.deallocate() }
    }
}

/// A cache of freed large tensor buffers, keyed by exact element count (a training or inference loop allocates
/// the same shapes every step). Fresh large allocations are mmapped by malloc and cost a page fault and a page
/// clear per 4 KB, a quarter of the time of the conv stack benchmark before this cache.
final class StoragePool: Sendable {
    static let shared = StoragePool()
    /// Buffers smaller than this are left to malloc, which recycles them cheaply itself.
    static let minimumCount = 1 << 16
    /// Upper bound on cached memory (floats): 512 MB.
    static let capacity = 1 << 27

    /// Free buffers by element count (as addresses: a pointer is not Sendable, the pool hands out sole ownership).
    private struct State: ~Copyable {
        var buckets: [Int: [UInt]] = [:]
        var cachedCount = 0
    }
    private let state = Mutex(State())

    func take(_ count: Int) -> UnsafeMutablePointer<Float>? {
        guard count >= Self.minimumCount else { return nil }
        let address: UInt? = state.withLock { state in
            guard let address = state.buckets[count]?.popLast() else { return nil }
            state.cachedCount -= count
            return address
        }
        return address.flatMap { UnsafeMutablePointer<Float>(bitPattern: $0) }
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard count >= Self.minimumCount else { return false }
        let address = UInt(bitPattern: pointer)
        return state.withLock { state in
            guard state.cachedCount + count <= Self.capacity else { return false }
            state.buckets[count, default: []].append(address)
            state.cachedCount += count
            return true
        }
    }

    /// Frees every cached buffer.
    func drain() {
        state.withLock { state in
            for address in state.buckets.values.joined() { UnsafeMutablePointer<Float>(bitPattern: address)?.deallocate() }
            state.buckets = [:]
            state.cachedCount = 0
        }
    }
}

/// Returns the tensor buffers cached for reuse to the system (e.g. after training, before a long idle phase).
public func releaseCachedTensorMemory() { StoragePool.shared.drain() }

public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let count: Int
    public let storage: TensorStorage

    /// A zero-filled tensor.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = TensorStorage(count: count)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape)
        data.update(repeating: value, count: count)
    }

    /// A tensor whose contents are undefined, for kernel outputs that write every element: zero-filling a
    /// 15 MB activation costs about as much as the activation function itself.
    init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = TensorStorage(count: count, zeroed: false)
    }

    private init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        count = shape.reduce(1, *)
        self.storage = storage
    }

    /// Raw pointer to the first element; kernels use it to avoid bounds-checked array access in hot loops.
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.pointer }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }

    public var array: [Float] { Array(buffer) }

    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count); return data[index] }
        set { precondition(index >= 0 && index < count); data[index] = newValue }
    }

    /// A view with another shape of the same element count, sharing storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// A deep copy.
    public func copy() -> Tensor {
        let result = Tensor(shape: shape)
        result.data.update(from: data, count: count)
        return result
    }

    public func zero() { data.update(repeating: 0, count: count) }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Copies another tensor's values (same element count) into this one.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    public var rank: Int { shape.count }

    /// NCHW accessors; they trap on a tensor of another rank, which is a programming error.
    public var n: Int { precondition(rank == 4); return shape[0] }
    public var c: Int { precondition(rank == 4); return shape[1] }
    public var h: Int { precondition(rank == 4); return shape[2] }
    public var w: Int { precondition(rank == 4); return shape[3] }

    public var description: String { "Tensor\(shape)" }
}

@inline(__always) func checkShape(_ tensor: Tensor?, _ expected: [Int], _ what: String) {
    guard let tensor else { return }
    precondition(tensor.shape == expected, "\(what): expected shape \(expected), got \(tensor.shape)")
}
