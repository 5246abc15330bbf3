/// The trainer's only source of randomness: SplitMix64, one 64-bit state that a checkpoint saves and restores,
/// so that a resumed run draws exactly the numbers an uninterrupted run would have drawn.
public struct TrainingRNG: RandomNumberGenerator {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678 }
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }
    /// Uniform integer in 0..<bound.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
}
