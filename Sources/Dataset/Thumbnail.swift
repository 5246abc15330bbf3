import VideoIO

/// A small grayscale copy of a frame, the cheap signal behind scene cuts and the motion score.
///
/// 32x32 box-averaged luma keeps content changes (a cut swaps most thumbnail cells) while averaging away noise
/// and compression artefacts, and costs one pass over the frame.
public struct Thumbnail: Equatable, Sendable {
    public static let side = 32
    public let luma: [UInt8]

    public init(_ image: RGBImage) {
        let side = Self.side
        var luma = [UInt8](repeating: 0, count: side * side)
        image.rgb.withUnsafeBufferPointer { pixels in
            for cy in 0..<side {
                // Each cell averages its source box; boxes get at least one pixel so tiny images still work.
                let y0 = cy * image.height / side, y1 = max(y0 + 1, (cy + 1) * image.height / side)
                for cx in 0..<side {
                    let x0 = cx * image.width / side, x1 = max(x0 + 1, (cx + 1) * image.width / side)
                    var sum = 0
                    for y in y0..<y1 {
                        var offset = (y * image.width + x0) * 3
                        for _ in x0..<x1 {
                            // BT.601 luma in integer arithmetic (weights sum to 256).
                            sum += (77 * Int(pixels[offset]) + 150 * Int(pixels[offset + 1])
                                + 29 * Int(pixels[offset + 2])) >> 8
                            offset += 3
                        }
                    }
                    luma[cy * side + cx] = UInt8(sum / ((y1 - y0) * (x1 - x0)))
                }
            }
        }
        self.luma = luma
    }

    /// Mean absolute difference of the two thumbnails, in 0...1 (1 = black against white everywhere).
    public func meanAbsoluteDifference(_ other: Thumbnail) -> Double {
        var total = 0
        for i in 0..<luma.count { total += abs(Int(luma[i]) - Int(other.luma[i])) }
        return Double(total) / Double(luma.count * 255)
    }

    /// The smallest mean absolute difference over shifts of up to `maxShift` cells in x and y (compared on the
    /// overlap). A pan or a subject moving a few cells between frames nearly cancels at the matching shift, while a
    /// cut to another shot stays different at every shift, so this separates cuts from fast motion better than
    /// the plain difference.
    public func shiftTolerantDifference(_ other: Thumbnail, maxShift: Int = 2) -> Double {
        let side = Self.side
        var best = Double.infinity
        for dy in -maxShift...maxShift {
            for dx in -maxShift...maxShift {
                var total = 0
                let ys = max(0, -dy)..<min(side, side - dy), xs = max(0, -dx)..<min(side, side - dx)
                for y in ys {
                    let row = y * side, shiftedRow = (y + dy) * side + dx
                    for x in xs { total += abs(Int(luma[row + x]) - Int(other.luma[shiftedRow + x])) }
                }
                best = min(best, Double(total) / Double(ys.count * xs.count * 255))
            }
        }
        return best
    }
}
