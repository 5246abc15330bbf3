import Foundation

/// The project's one random-number generator: SplitMix64 (Steele, Lea, Flood 2014), a 64-bit state and a few
/// multiplications per number. It is deterministic on every platform, and its whole state is one `UInt64`, so a
/// checkpoint can save and restore it and a resumed run draws exactly what an uninterrupted run would have drawn.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    /// Starts from `state` as it is: a saved state, or a seed used directly (model initialisation, k-means seeds).
    public init(state: UInt64) { self.state = state }

    /// Starts from a small seed spread over the state (the trainer's `--seed`).
    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 24 bits.
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }
    /// Uniform integer in 0..<bound.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
}
