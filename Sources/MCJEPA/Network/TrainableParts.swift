/// Which parts of the network a training step updates (`train --train-only`), so that its backward pass can stop
/// where no gradient reaches a trainable parameter: no encoder backward when the encoder is frozen, no decoder
/// backward past the fine head when only the head trains, and no content batch at all when neither the encoder nor
/// the expander trains. The loss values do not depend on it: only the gradients left uncomputed do.
public struct TrainableParts: Equatable, Sendable {
    /// `encoder.*`
    public var encoder: Bool
    /// `decoder.*` but the fine head
    public var decoder: Bool
    /// `decoder.fine.*`
    public var fineHead: Bool
    /// `expander.*` and `local_projector.*`: the content heads on the encoder
    public var expander: Bool

    public static let all = TrainableParts(encoder: true, decoder: true, fineHead: true, expander: true)

    public init(encoder: Bool, decoder: Bool, fineHead: Bool, expander: Bool) {
        self.encoder = encoder; self.decoder = decoder; self.fineHead = fineHead; self.expander = expander
    }

    /// The parts that hold at least one of the parameters `names`.
    public init(trainable names: [String]) {
        func any(_ prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }
        self.init(encoder: any("encoder."), decoder: names.contains { $0.hasPrefix("decoder.") && !$0.hasPrefix("decoder.fine.") },
                  fineHead: any("decoder.fine."), expander: any("expander.") || any("local_projector."))
    }

    /// Whether the flow losses reach a trainable parameter.
    public var flow: Bool { encoder || decoder || fineHead }
    /// Whether the content (VICReg) losses reach a trainable parameter: through the expander and the encoder only.
    public var content: Bool { encoder || expander }
    /// Whether the decoder's backward must go past the fine head: to the coarse levels' weights or to the features.
    var decoderBelowFineHead: Bool { encoder || decoder }
}
