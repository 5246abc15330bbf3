import NN

/// The trainer's only source of randomness: NN's `SplitMix64`, started with `init(seed:)`; a checkpoint saves
/// its `state` and a resumed run restores it with `init(state:)`.
public typealias TrainingRNG = SplitMix64
