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
        return decoder(feats1, feats2)
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
        let heads = Set(config.estimatorPrefixes.map { "\($0).out.weight" } + ["decoder.context.out.weight"])
        for spec in parameters.specs {
            let t = parameters[spec.name], p = t.data
            let isNorm = spec.name.contains(".norm") || spec.name.contains("norms.")
            if spec.name == "decoder.upsampler.mask.bias" {
                // The convex upsampler starts as bilinear upsampling (and its mask weights at zero, below).
                let logits = bilinearStencilLogits(factor: 1 << config.decoderStopLevel)
                for i in 0..<t.count { p[i] = logits[i] }
                continue
            }
            if spec.name == "decoder.upsampler.mask.weight" { t.zero(); continue }
            if spec.name.hasSuffix(".bias") { t.zero(); continue }
            if isNorm { t.fill(1); continue }
            let std: Float
            if heads.contains(spec.name) {
                std = 1e-3
            } else if spec.name.hasPrefix("decoder.estimator.") || spec.name.hasPrefix("decoder.estimators.")
                        || spec.name.hasPrefix("decoder.context.")
                        || spec.name.hasPrefix("decoder.upsampler.") {
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

/// [9 x factor^2] convex-upsampling logits whose softmax is the bilinear (half-pixel centred) stencil, in
/// `convexUpsampleForward`'s layout; weights that are zero get log 1e-4 (the reference's `bilinear_stencil_logits`).
func bilinearStencilLogits(factor: Int) -> [Float] {
    let along: [[Double]] = (0..<factor).map { sub in
        let t = (Double(sub) + 0.5) / Double(factor) - 0.5
        return [max(0, -t), 1 - abs(t), max(0, t)]
    }
    var logits = [Float](repeating: 0, count: 9 * factor * factor)
    for ky in 0..<3 {
        for kx in 0..<3 {
            for dy in 0..<factor {
                for dx in 0..<factor {
                    let weight = along[dy][ky] * along[dx][kx]
                    logits[(ky * 3 + kx) * factor * factor + dy * factor + dx] = Float(log(max(weight, 1e-4)))
                }
            }
        }
    }
    return logits
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
