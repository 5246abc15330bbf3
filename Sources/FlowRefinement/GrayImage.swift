/// A single-channel image for the photometric terms of flow refinement: luma on the 0...255 scale (the scale of
/// OpenCV's 8-bit input, on which the refinement's constants, zeta and epsilon, were tuned), row-major.
public struct GrayImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height,
                     "gray image: \(pixels.count) values for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// From planar RGB in [0, 1] (3 x height x width, what the model reads): ITU-R BT.601 luma, as OpenCV's
    /// RGB2GRAY, but kept in floating point instead of rounded to 8 bits.
    public init(width: Int, height: Int, planarRGB: [Float]) {
        let plane = width * height
        precondition(width > 0 && height > 0 && planarRGB.count == 3 * plane,
                     "gray image: \(planarRGB.count) RGB values for \(width)x\(height)")
        var pixels = [Float](repeating: 0, count: plane)
        planarRGB.withUnsafeBufferPointer { rgb in
            for i in 0..<plane {
                pixels[i] = 255 * (0.299 * rgb[i] + 0.587 * rgb[plane + i] + 0.114 * rgb[2 * plane + i])
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The image shrunk to `newWidth` x `newHeight` (each no larger than now) by area averaging: every output pixel
    /// is the mean of the input area it covers, fractional pixels weighted by their overlap (OpenCV's INTER_AREA
    /// when shrinking). Averaging rather than sampling keeps a coarse level free of aliasing.
    public func areaShrunk(width newWidth: Int, height newHeight: Int) -> GrayImage {
        GrayImage(width: newWidth, height: newHeight,
                  pixels: areaShrink(pixels, width: width, height: height, to: newWidth, newHeight))
    }
}

/// Row-major `width` x `height` values -> `newWidth` x `newHeight` by area averaging (see `GrayImage.areaShrunk`).
/// Separable: rows first, then columns, each output sample a weighted sum over the input interval it covers.
func areaShrink(_ values: [Float], width: Int, height: Int, to newWidth: Int, _ newHeight: Int) -> [Float] {
    precondition(newWidth >= 1 && newWidth <= width && newHeight >= 1 && newHeight <= height,
                 "area shrink from \(width)x\(height) to \(newWidth)x\(newHeight)")
    if newWidth == width && newHeight == height { return values }
    let columns = areaWeights(from: width, to: newWidth), rows = areaWeights(from: height, to: newHeight)
    var narrow = [Float](repeating: 0, count: newWidth * height)
    for y in 0..<height {
        for (x, taps) in columns.enumerated() {
            var sum: Float = 0
            for (source, weight) in taps { sum += weight * values[y * width + source] }
            narrow[y * newWidth + x] = sum
        }
    }
    var out = [Float](repeating: 0, count: newWidth * newHeight)
    for (y, taps) in rows.enumerated() {
        for (source, weight) in taps {
            for x in 0..<newWidth { out[y * newWidth + x] += weight * narrow[source * newWidth + x] }
        }
    }
    return out
}

/// For each of `outputCount` cells over `inputCount` samples: the input samples it overlaps and the weights
/// (overlap / cell length, summing to 1).
private func areaWeights(from inputCount: Int, to outputCount: Int) -> [[(Int, Float)]] {
    let step = Double(inputCount) / Double(outputCount)
    return (0..<outputCount).map { cell in
        let start = Double(cell) * step, end = Double(cell + 1) * step
        var taps: [(Int, Float)] = []
        var i = Int(start)
        while i < inputCount && Double(i) < end {
            let overlap = min(end, Double(i + 1)) - max(start, Double(i))
            if overlap > 1e-9 { taps.append((i, Float(overlap / step))) }
            i += 1
        }
        return taps
    }
}
