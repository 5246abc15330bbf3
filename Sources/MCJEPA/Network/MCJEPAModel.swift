import Foundation
import NN

/// The network's modules, built in state_dict order: each declares its parameters as it is built.
struct Network {
    let encoder: Encoder
    let decoder: FlowDecoder
    let expander: Expander
    /// The dense content loss's per-pixel projector (training only), when the configuration has one.
    let localProjector: Expander?

    init(_ store: ParameterStore) {
        encoder = Encoder(store)
        decoder = FlowDecoder(store)
        expander = Expander(store)
        let cfg = store.config
        localProjector = cfg.localProjectorLevel == 0 ? nil
            : Expander(store, prefix: "local_projector", inputWidth: cfg.widths[cfg.localProjectorLevel - 1],
                       widths: cfg.localProjectorWidths)
    }
}

/// The MC-JEPA network: one ConvNeXt encoder shared by the flow decoder (motion) and the expander (content).
/// `encode` runs once per frame; `flow` takes two frames' feature pyramids, so a video frame's features serve
/// both pairs it belongs to. Mirrors Reference/mcjepa/model.py `MCJEPA`.
///
/// Each module (Network/Encoder.swift, Network/FlowDecoder/, Network/Expander.swift) has one forward that, asked to,
/// records what its backward needs; inference records nothing. The training passes below run the same forwards
/// recording, and backward passes that accumulate into `parameters.gradient(name)`. Gradients w.r.t. features are
/// returned so that the caller can add the feature-level losses' gradients and the decoder's (both directions)
/// before running the encoder's backward once per frame.
public final class MCJEPAModel {
    public let config: ModelConfig
    public let parameters: ParameterStore
    let encoder: Encoder
    let decoder: FlowDecoder
    let expander: Expander
    let localProjector: Expander?

    /// A network with zero weights (norm gains 1); load weights with `WeightsFile.load` or `loadParameters`.
    public init(config: ModelConfig) {
        precondition(config.validationError() == nil, "invalid config: \(config.validationError()!)")
        self.config = config
        parameters = ParameterStore(config: config)
        let network = Network(parameters)
        encoder = network.encoder
        decoder = network.decoder
        expander = network.expander
        localProjector = network.localProjector
    }

    /// [N, 3, H, W] RGB in [0, 1], H and W multiples of 64 -> features of levels 1..6 (level l: H/2^l x W/2^l).
    public func encode(_ rgb01: Tensor) -> [Tensor] {
        precondition(rgb01.rank == 4 && rgb01.c == 3 && rgb01.h % ModelConfig.padMultiple == 0
                     && rgb01.w % ModelConfig.padMultiple == 0 && rgb01.h > 0 && rgb01.w > 0,
                     "encode: input \(rgb01.shape) must be [N, 3, H, W] with H, W multiples of 64")
        return encoder.forward(ImageNormalization.normalized(rgb01), recording: false).features
    }

    /// Flows per decoded level (coarse to fine) and the full-resolution flow, in pixels of the input.
    public func flow(_ feats1: [Tensor], _ feats2: [Tensor]) -> (levels: [Tensor], full: Tensor) {
        precondition(feats1.count == ModelConfig.levelCount && feats2.count == ModelConfig.levelCount
                     && zip(feats1, feats2).allSatisfy { $0.shape == $1.shape }, "flow: feature pyramids differ")
        let (levels, full, _) = decoder.forward(feats1, feats2, recording: false)
        return (levels, full)
    }

    /// Representation (global average pool of level 6, [N, C6]) and the expander embedding.
    public func content(_ feats: [Tensor]) -> (representation: Tensor, embedding: Tensor) {
        let top = feats[ModelConfig.levelCount - 1]
        let rep = globalAvgPoolForward(top).reshaped([top.n, top.c])
        return (rep, expander.forward(rep, recording: false).0)
    }

    /// Copies every parameter of `other` (same configuration) into this model.
    public func copyParameters(from other: MCJEPAModel) {
        precondition(other.config == config, "copyParameters: configurations differ")
        parameters.assign(other.parameters.tensors)
    }

    /// Fills every parameter as its layer declared (the reference's initialisation scheme, MODEL.md section 7) from
    /// a seed, in declaration order: for tests and training from scratch. Not PyTorch's random stream, so values
    /// differ from a PyTorch init.
    public func initializeRandomly(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        for spec in parameters.specs {
            let t = parameters[spec.name], p = t.data
            let std: Float
            switch parameters.initializations[spec.name]! {
            case .zeros: t.zero(); continue
            case .ones: t.fill(1); continue
            case .values(let values): for i in 0..<t.count { p[i] = values[i] }; continue
            case .truncatedNormal(let deviation): std = deviation
            case .kaimingLeakyReLU:
                let fanIn = Float(spec.shape.dropFirst().reduce(1, *))
                std = (2 / (1 + 0.01) / fanIn).squareRoot()
            }
            for i in 0..<t.count {
                var z = rng.normal()
                while abs(z * std) > 2 { z = rng.normal() } // truncated at +-2 absolute, as trunc_normal_
                p[i] = z * std
            }
        }
    }
}

// MARK: Training passes

/// The encoder's forward pass with everything its backward needs.
public struct EncoderTrace {
    /// Features of levels 1..6 (the same values `encode` returns).
    public let features: [Tensor]
    let record: Encoder.Record
}

/// The decoder's forward pass (one direction) with everything its backward needs.
public struct DecoderTrace {
    /// Flows per decoded level, coarse to fine, and the full-resolution flow (as `flow` returns them).
    public let levels: [Tensor]
    public let full: Tensor
    let record: FlowDecoder.Record
}

/// The content branch's forward pass.
public struct ContentTrace {
    public let representation: Tensor
    public let embedding: Tensor
    let top: Tensor
    let record: Expander.Record
}

extension MCJEPAModel {
    public func encodeForTraining(_ rgb01: Tensor) -> EncoderTrace {
        let (features, record) = encoder.forward(ImageNormalization.normalized(rgb01), recording: true)
        return EncoderTrace(features: features, record: record!)
    }

    /// Accumulates parameter gradients from dL/dfeatures (nil = no gradient at that level).
    public func backwardEncoder(_ trace: EncoderTrace, gradFeatures: [Tensor?]) {
        encoder.backward(trace.record, gradFeatures: gradFeatures, store: parameters)
    }

    public func flowForTraining(_ feats1: [Tensor], _ feats2: [Tensor]) -> DecoderTrace {
        let (levels, full, record) = decoder.forward(feats1, feats2, recording: true)
        return DecoderTrace(levels: levels, full: full, record: record!)
    }

    /// Accumulates parameter gradients from dL/dflows (per decoded level, coarse to fine, nil = none) and
    /// dL/dfull; returns dL/dfeatures of both frames (nil at levels the decoder does not use). Only as far as
    /// `trainable` parts need: nothing when no flow-reaching part trains, the fine head's weights alone (no feature
    /// gradients) when nothing before it trains.
    public func backwardFlow(_ trace: DecoderTrace, gradLevels: [Tensor?], gradFull: Tensor?,
                             trainable: TrainableParts = .all) -> (feats1: [Tensor?], feats2: [Tensor?]) {
        guard trainable.flow else {
            return (Array(repeating: nil, count: ModelConfig.levelCount), Array(repeating: nil, count: ModelConfig.levelCount))
        }
        return decoder.backward(trace.record, flows: trace.levels, gradLevels: gradLevels, gradFull: gradFull,
                                store: parameters, onlyFineHead: !trainable.decoderBelowFineHead)
    }

    public func contentForTraining(_ feats: [Tensor]) -> ContentTrace {
        let top = feats[ModelConfig.levelCount - 1]
        let rep = globalAvgPoolForward(top).reshaped([top.n, top.c])
        let (embedding, record) = expander.forward(rep, recording: true)
        return ContentTrace(representation: rep, embedding: embedding, top: top, record: record!)
    }

    /// Accumulates the expander's parameter gradients; returns dL/d(level-6 features).
    public func backwardContent(_ trace: ContentTrace, gradRepresentation: Tensor?, gradEmbedding: Tensor?) -> Tensor {
        let rows = trace.representation.shape[0]
        let dRep = gradRepresentation?.copy() ?? Tensor(shape: trace.representation.shape)
        if let gradEmbedding { accumulate(dRep, expander.backward(trace.record, gradEmbedding: gradEmbedding, store: parameters)) }
        let dTop = Tensor(shape: trace.top.shape)
        globalAvgPoolBackward(gradOutput: dRep.reshaped([rows, trace.top.c, 1, 1]), gradInput: dTop)
        return dTop
    }
}

/// The local projector's forward pass on one view batch's feature map.
public struct LocalEmbeddingTrace {
    /// [N*H*W, D]: row n*H*W + y*W + x is pixel (y, x) of item n.
    public let embedding: Tensor
    let mapShape: [Int]
    let record: Expander.Record
}

extension MCJEPAModel {
    /// The local projector on every pixel of `feats[localProjectorLevel - 1]` (the model must have one).
    public func localEmbeddingForTraining(_ feats: [Tensor]) -> LocalEmbeddingTrace {
        guard let localProjector else { preconditionFailure("local embedding: \(config) has no local projector") }
        let map = feats[config.localProjectorLevel - 1]
        let (embedding, record) = localProjector.forward(pixelRows(map), recording: true)
        return LocalEmbeddingTrace(embedding: embedding, mapShape: map.shape, record: record!)
    }

    /// Accumulates the local projector's parameter gradients; returns dL/d(the level's feature map).
    public func backwardLocalEmbedding(_ trace: LocalEmbeddingTrace, gradEmbedding: Tensor) -> Tensor {
        let dRows = localProjector!.backward(trace.record, gradEmbedding: gradEmbedding, store: parameters)
        return pixelRowsAsMap(dRows, shape: trace.mapShape)
    }
}

/// [N, C, H, W] -> [N*H*W, C]: one row per pixel, so that a Linear on the rows is a 1x1 conv.
func pixelRows(_ map: Tensor) -> Tensor {
    let (N, C, plane) = (map.n, map.c, map.h * map.w)
    let rows = Tensor(shape: [N * plane, C])
    for n in 0..<N {
        for c in 0..<C {
            let src = map.data + (n * C + c) * plane, dst = rows.data + n * plane * C + c
            for p in 0..<plane { dst[p * C] = src[p] }
        }
    }
    return rows
}

/// The inverse of `pixelRows`: [N*H*W, C] -> [N, C, H, W] (`shape`).
func pixelRowsAsMap(_ rows: Tensor, shape: [Int]) -> Tensor {
    let map = Tensor(shape: shape)
    let (N, C, plane) = (map.n, map.c, map.h * map.w)
    for n in 0..<N {
        for c in 0..<C {
            let src = rows.data + n * plane * C + c, dst = map.data + (n * C + c) * plane
            for p in 0..<plane { dst[p] = src[p * C] }
        }
    }
    return map
}
