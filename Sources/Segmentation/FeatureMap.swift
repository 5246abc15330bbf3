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

extension FeatureMap {
    /// Several maps of one grid as one: each cell's vector of each map scaled to unit length, the pieces
    /// stacked and divided by sqrt(count), so that the cosine similarity of two cells is the mean of the maps'
    /// cosine similarities (each source weighs the same, whatever its channel count or scale).
    public static func joined(_ maps: [FeatureMap]) -> FeatureMap {
        precondition(!maps.isEmpty, "nothing to join")
        let (h, w) = (maps[0].height, maps[0].width), cells = h * w
        precondition(maps.allSatisfy { $0.height == h && $0.width == w }, "maps must share a grid")
        if maps.count == 1 { return maps[0] }
        let share = 1 / Float(maps.count).squareRoot()
        var values = [Float]()
        values.reserveCapacity(maps.reduce(0) { $0 + $1.values.count })
        for map in maps {
            var norms = [Float](repeating: 0, count: cells)
            for c in 0..<map.channels { for i in 0..<cells { norms[i] += map.values[c * cells + i] * map.values[c * cells + i] } }
            for i in 0..<cells { norms[i] = norms[i] > 1e-20 ? share / norms[i].squareRoot() : 0 }
            for c in 0..<map.channels { for i in 0..<cells { values.append(map.values[c * cells + i] * norms[i]) } }
        }
        return FeatureMap(channels: maps.reduce(0) { $0 + $1.channels }, height: h, width: w, values: values)
    }
}
