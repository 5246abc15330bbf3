import FlowRefinement
import NN

/// A frame's feature pyramid and how it was prepared (inference size, padding), so flows between two frames
/// can be mapped back to the frames' full resolution.
public struct FrameFeatures {
    /// Levels 1..6 of the padded inference-size frame.
    public let pyramid: [Tensor]
    /// Levels 1..6 of the frame mirrored left to right (padded after mirroring), for flip-averaged flow; nil
    /// unless asked for.
    public internal(set) var mirroredPyramid: [Tensor]? = nil
    /// The frame's luma at full size, for refining flow from it; nil unless the estimator refines.
    public internal(set) var luma: GrayImage? = nil
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

    /// With `mirrored`, the pyramid of the frame mirrored left to right as well (twice the encoder's work).
    public func features(_ frame: FrameImage, mirrored: Bool = false) -> FrameFeatures {
        let size = inferenceSize(width: frame.width, height: frame.height)
        var input = frame.tensor
        if size != (frame.width, frame.height) {
            input = resizeBilinearForward(input, height: size.height, width: size.width)
        }
        let padder = InputPadder(height: size.height, width: size.width)
        let pyramid = model.encode(padder.pad(input))
        let mirroredPyramid = mirrored ? model.encode(padder.pad(mirroredLeftToRight(input))) : nil
        return FrameFeatures(pyramid: pyramid, mirroredPyramid: mirroredPyramid, width: frame.width, height: frame.height,
                             inferenceWidth: size.width, inferenceHeight: size.height, padder: padder)
    }

    /// [N, C, H, W] -> the same maps mirrored left to right (x -> W - 1 - x).
    func mirroredLeftToRight(_ x: Tensor) -> Tensor {
        let y = Tensor(shape: x.shape)
        let w = x.w
        for row in 0..<(x.n * x.c * x.h) {
            let src = x.data + row * w, dst = y.data + row * w
            for i in 0..<w { dst[i] = src[w - 1 - i] }
        }
        return y
    }

    /// The content representation of a frame (global average pool of level 6) and its expander embedding.
    public func content(_ features: FrameFeatures) -> (representation: [Float], embedding: [Float]) {
        let (rep, emb) = model.content(features.pyramid)
        return (rep.array, emb.array)
    }
}
