import NN

/// A frame's feature pyramid and how it was prepared (inference size, padding), so flows between two frames
/// can be mapped back to the frames' full resolution.
public struct FrameFeatures {
    /// Levels 1..6 of the padded inference-size frame.
    public let pyramid: [Tensor]
    /// The frame's own size.
    public let width: Int, height: Int
    /// The size the network saw before padding (smaller than the frame's with `maxSide`).
    public let inferenceWidth: Int, inferenceHeight: Int
    public let padder: InputPadder
}

/// Frame -> feature pyramid, computed once per frame (a video frame's features serve both pairs it belongs to).
/// With `maxSide`, frames whose longer side exceeds it are shrunk (bilinear) before the network sees them.
public final class ContentEncoder {
    public let model: MCJEPAModel
    public let maxSide: Int?

    public init(model: MCJEPAModel, maxSide: Int? = nil) {
        precondition(maxSide.map { $0 >= 1 } ?? true, "maxSide must be positive")
        self.model = model
        self.maxSide = maxSide
    }

    /// The inference size for a frame size: unchanged, or shrunk so the longer side is `maxSide`.
    public func inferenceSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard let maxSide, max(width, height) > maxSide else { return (width, height) }
        let scale = Double(maxSide) / Double(max(width, height))
        return (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
    }

    public func features(_ frame: FrameImage) -> FrameFeatures {
        let size = inferenceSize(width: frame.width, height: frame.height)
        var input = frame.tensor
        if size != (frame.width, frame.height) {
            input = resizeBilinearForward(input, height: size.height, width: size.width)
        }
        let padder = InputPadder(height: size.height, width: size.width)
        let pyramid = model.encode(padder.pad(input))
        return FrameFeatures(pyramid: pyramid, width: frame.width, height: frame.height,
                             inferenceWidth: size.width, inferenceHeight: size.height, padder: padder)
    }

    /// The content representation of a frame (global average pool of level 6) and its expander embedding.
    public func content(_ features: FrameFeatures) -> (representation: [Float], embedding: [Float]) {
        let (rep, emb) = model.content(features.pyramid)
        return (rep.array, emb.array)
    }
}
