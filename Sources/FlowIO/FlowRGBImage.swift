/// A packed RGB24 picture (row-major, 3 bytes per pixel), what every flow-picture function returns; the CLI
/// converts it to and from video frames.
public struct FlowRGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(width >= 0 && height >= 0 && rgb.count == width * height * 3, "RGB buffer does not match \(width)x\(height)")
        self.width = width
        self.height = height
        self.rgb = rgb
    }

    /// A picture filled with one colour (black by default).
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        if fill != (0, 0, 0) {
            for i in 0..<(width * height) {
                rgb[3 * i] = fill.0
                rgb[3 * i + 1] = fill.1
                rgb[3 * i + 2] = fill.2
            }
        }
        self.init(width: width, height: height, rgb: rgb)
    }

    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (y * width + x)
        return (rgb[i], rgb[i + 1], rgb[i + 2])
    }

    public mutating func setPixel(x: Int, y: Int, _ color: (UInt8, UInt8, UInt8)) {
        let i = 3 * (y * width + x)
        rgb[i] = color.0
        rgb[i + 1] = color.1
        rgb[i + 2] = color.2
    }

    /// Nearest-neighbour resize, for matching a flow picture to a frame of another size.
    public func resized(width newWidth: Int, height newHeight: Int) -> FlowRGBImage {
        guard newWidth != width || newHeight != height else { return self }
        var out = FlowRGBImage(width: newWidth, height: newHeight)
        guard width > 0, height > 0 else { return out }
        for y in 0..<newHeight {
            let sy = min(height - 1, y * height / max(newHeight, 1))
            for x in 0..<newWidth {
                let sx = min(width - 1, x * width / max(newWidth, 1))
                out.setPixel(x: x, y: y, pixel(x: sx, y: sy))
            }
        }
        return out
    }
}
