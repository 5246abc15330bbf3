import NN

/// One RGB frame for the model: planar Float RGB in [0, 1] (channel-major, 3 x height x width).
public struct FrameImage: Sendable {
    public let width: Int
    public let height: Int
    public let planar: [Float]

    /// From interleaved 8-bit RGB (what VideoReader decodes), divided by 255 like the reference's `uint8 / 255`.
    public init(width: Int, height: Int, rgb8: [UInt8]) {
        precondition(width > 0 && height > 0 && rgb8.count == width * height * 3, "frame: \(rgb8.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        let plane = width * height
        var planar = [Float](repeating: 0, count: 3 * plane)
        rgb8.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                planar[i] = Float(src[3 * i]) / 255
                planar[plane + i] = Float(src[3 * i + 1]) / 255
                planar[2 * plane + i] = Float(src[3 * i + 2]) / 255
            }
        }
        self.planar = planar
    }

    /// From planar Float RGB in [0, 1].
    public init(width: Int, height: Int, planar: [Float]) {
        precondition(width > 0 && height > 0 && planar.count == width * height * 3, "frame: \(planar.count) values for \(width)x\(height)")
        self.width = width
        self.height = height
        self.planar = planar
    }

    var tensor: Tensor { Tensor(shape: [1, 3, height, width], values: planar) }
}
