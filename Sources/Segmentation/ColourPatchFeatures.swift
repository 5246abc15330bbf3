/// A non-learned feature map: for each stride x stride cell, the mean colour of its four quadrants, each channel
/// mapped from 0...255 to -1...1 (centred, so that cosine similarity tells dark from light and one hue from
/// another). It is not the model: it exists to check the segmentation machinery end to end and as a floor
/// that learned features must beat.
public enum ColourPatchFeatures {
    /// Packed RGB (width x height x 3) -> a 12-channel map of ceil(height / stride) x ceil(width / stride) cells.
    public static func features(rgb: [UInt8], width: Int, height: Int, stride: Int = 8) -> FeatureMap {
        precondition(rgb.count == width * height * 3 && stride >= 2, "bad image or stride")
        let gridWidth = (width + stride - 1) / stride, gridHeight = (height + stride - 1) / stride
        let cells = gridWidth * gridHeight, half = stride / 2
        var sums = [Float](repeating: 0, count: 12 * cells), counts = [Float](repeating: 0, count: 4 * cells)
        for y in 0..<height {
            let gy = y / stride, qy = (y % stride) < half ? 0 : 1
            for x in 0..<width {
                let gx = x / stride, quadrant = qy * 2 + ((x % stride) < half ? 0 : 1)
                let cell = gy * gridWidth + gx, p = (y * width + x) * 3
                counts[quadrant * cells + cell] += 1
                for ch in 0..<3 { sums[(quadrant * 3 + ch) * cells + cell] += Float(rgb[p + ch]) }
            }
        }
        for quadrant in 0..<4 {
            for cell in 0..<cells {
                let n = counts[quadrant * cells + cell]
                for ch in 0..<3 {
                    let i = (quadrant * 3 + ch) * cells + cell
                    sums[i] = n > 0 ? sums[i] / n / 127.5 - 1 : 0
                }
            }
        }
        return FeatureMap(channels: 12, height: gridHeight, width: gridWidth, values: sums)
    }
}
