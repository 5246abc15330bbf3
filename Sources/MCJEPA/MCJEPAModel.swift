import Foundation
import NN

/// The MC-JEPA network: one ConvNeXt encoder shared by the flow decoder (motion) and the expander (content).
/// `encode` runs once per frame; `flow` takes two frames' feature pyramids, so a video frame's features serve
/// both pairs it belongs to. Mirrors Reference/mcjepa/model.py `MCJEPA`.
public final class MCJEPAModel {
    public let config: ModelConfig
    public let parameters: ParameterStore
    let encoder: Encoder
    let decoder: FlowDecoder
    let expander: Expander

    /// A network with zero weights (norm gains 1); load weights with `WeightsFile.load` or `loadParameters`.
    public init(config: ModelConfig) {
        precondition(config.validationError() == nil, "invalid config: \(config.validationError()!)")
        self.config = config
        parameters = ParameterStore(config: config)
        encoder = Encoder(parameters)
        decoder = FlowDecoder(parameters)
        expander = Expander(parameters)
    }

    /// [N, 3, H, W] RGB in [0, 1], H and W multiples of 64 -> features of levels 1..6 (level l: H/2^l x W/2^l).
    public func encode(_ rgb01: Tensor) -> [Tensor] {
        precondition(rgb01.rank == 4 && rgb01.c == 3 && rgb01.h % ModelConfig.padMultiple == 0
                     && rgb01.w % ModelConfig.padMultiple == 0 && rgb01.h > 0 && rgb01.w > 0,
                     "encode: input \(rgb01.shape) must be [N, 3, H, W] with H, W multiples of 64")
        return encoder(ImageNormalization.normalized(rgb01))
    }

    /// Flows per decoded level (coarse to fine) and the full-resolution flow, in pixels of the input.
    public func flow(_ feats1: [Tensor], _ feats2: [Tensor]) -> (levels: [Tensor], full: Tensor) {
        precondition(feats1.count == ModelConfig.levelCount && feats2.count == ModelConfig.levelCount
                     && zip(feats1, feats2).allSatisfy { $0.shape == $1.shape }, "flow: feature pyramids differ")
        let flows = decoder(feats1, feats2)
        let full = upsampleFlow(flows.last!, height: feats1[0].h * 2, width: feats1[0].w * 2)
        return (flows, full)
    }

    /// Representation (global average pool of level 6, [N, C6]) and the expander embedding.
    public func content(_ feats: [Tensor]) -> (representation: Tensor, embedding: Tensor) {
        let top = feats[ModelConfig.levelCount - 1]
        let rep = globalAvgPoolForward(top).reshaped([top.n, top.c])
        return (rep, expander(rep))
    }

    /// Fills every parameter with the reference's initialisation scheme (MODEL.md section 7) from a seed: for
    /// tests and training from scratch. Not PyTorch's random stream, so values differ from a PyTorch init.
    public func initializeRandomly(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let heads: Set<String> = ["decoder.estimator.out.weight", "decoder.context.out.weight"]
        for spec in parameters.specs {
            let t = parameters[spec.name], p = t.data
            let isNorm = spec.name.contains(".norm") || spec.name.contains("norms.")
            if spec.name.hasSuffix(".bias") { t.zero(); continue }
            if isNorm { t.fill(1); continue }
            let std: Float
            if heads.contains(spec.name) {
                std = 1e-3
            } else if spec.name.hasPrefix("decoder.estimator.") || spec.name.hasPrefix("decoder.context.") {
                // Kaiming normal for leaky ReLU (a = 0.1), fan_in.
                let fanIn = Float(spec.shape.dropFirst().reduce(1, *))
                std = (2 / (1 + 0.01) / fanIn).squareRoot()
            } else {
                std = 0.02
            }
            for i in 0..<t.count {
                var z = rng.normal()
                while abs(z * std) > 2 { z = rng.normal() } // truncated at +-2 absolute, as trunc_normal_
                p[i] = z * std
            }
        }
    }
}

/// Deterministic generator for initialisation (reproducible across platforms).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
}
