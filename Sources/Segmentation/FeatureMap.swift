/// A dense feature map of one frame: `channels` values per cell of a `height` x `width` grid, stored
/// channel-major (C, h, w) like an NCHW tensor with N = 1, so a model's `Tensor` [1, C, h, w] converts with
/// `FeatureMap(channels: t.c, height: t.h, width: t.w, values: t.array)`.
public struct FeatureMap: Sendable {
    public let channels: Int
    public let height: Int
    public let width: Int
    /// values[c * height * width + y * width + x]
    public var values: [Float]

    public init(channels: Int, height: Int, width: Int, values: [Float]) {
        precondition(channels > 0 && height > 0 && width > 0, "empty feature map")
        precondition(values.count == channels * height * width, "values must hold channels * height * width floats")
        self.channels = channels
        self.height = height
        self.width = width
        self.values = values
    }

    /// The same features cell-major (h, w, C), each cell's vector scaled to unit L2 length (zero vectors stay
    /// zero): the layout in which cosine similarity is one contiguous dot product.
    public func unitVectorsPerCell() -> [Float] {
        let cells = height * width
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for cell in 0..<cells {
                    var norm: Float = 0
                    for c in 0..<channels {
                        let v = src[c * cells + cell]
                        dst[cell * channels + c] = v
                        norm += v * v
                    }
                    let scale: Float = norm > 1e-20 ? 1 / norm.squareRoot() : 0
                    for c in 0..<channels { dst[cell * channels + c] *= scale }
                }
            }
        }
        return out
    }
}
