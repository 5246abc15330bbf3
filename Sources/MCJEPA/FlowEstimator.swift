import FlowIO
import NN

/// Two frames of any size -> the full-resolution flow from the first to the second (pixels of the frames).
/// Pads to a multiple of 64 (edge replication) and crops back, as the reference's `estimate_flow`; with
/// `maxSide` the flow is estimated on shrunk frames and resized back with its values scaled by the size ratio.
public final class FlowEstimator {
    public let encoder: ContentEncoder
    public var model: MCJEPAModel { encoder.model }

    public init(model: MCJEPAModel, maxSide: Int? = nil) {
        encoder = ContentEncoder(model: model, maxSide: maxSide)
    }

    public func features(_ frame: FrameImage) -> FrameFeatures { encoder.features(frame) }

    /// Flow from the frame of `first` to that of `second` (swap them for backward flow).
    public func flow(from first: FrameFeatures, to second: FrameFeatures) -> FlowField {
        precondition(first.width == second.width && first.height == second.height,
                     "flow: frames are \(first.width)x\(first.height) and \(second.width)x\(second.height)")
        let full = first.padder.unpad(model.flow(first.pyramid, second.pyramid).full)
        let (w, h) = (first.inferenceWidth, first.inferenceHeight)
        let u = Array(UnsafeBufferPointer(start: full.data, count: w * h))
        let v = Array(UnsafeBufferPointer(start: full.data + w * h, count: w * h))
        let field = FlowField(width: w, height: h, u: u, v: v)
        if w == first.width && h == first.height { return field }
        return field.resized(width: first.width, height: first.height)
    }

    /// Convenience for one isolated pair (encodes both frames).
    public func flow(_ first: FrameImage, _ second: FrameImage) -> FlowField {
        flow(from: features(first), to: features(second))
    }
}
