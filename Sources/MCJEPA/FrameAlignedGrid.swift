import NN

/// One level of a frame's feature pyramid resampled onto a grid aligned with the frame itself: cell (x, y)
/// covers frame pixels [x * stride, (x + 1) * stride), the geometry label propagation and k-means segmentation
/// assume. Values are channel-major (C, height, width) like an NCHW tensor with N = 1.
public struct FrameAlignedGrid {
    public let channels: Int, height: Int, width: Int
    /// Frame pixels per cell.
    public let stride: Int
    /// values[c * height * width + y * width + x]
    public let values: [Float]
}

extension FrameFeatures {
    /// Level `level` (1...6) on a frame-aligned grid (see `FrameAlignedGrid`).
    ///
    /// The network's map is not aligned with the frame: it covers the frame shrunk to the inference size
    /// (`maxSide`) and then padded on all sides to a multiple of 64, so its cell 0 may start before the frame
    /// and its cells may stand for more than 2^level frame pixels. Each grid cell therefore samples the map
    /// bilinearly at its centre's position in the map. Where the positions land on cells (no shrinking, or a
    /// shrink factor that keeps them whole, and padding a multiple of the level's stride) the values are the
    /// map's own, shifted by the padding.
    /// - Parameters:
    ///   - stride: the grid's stride in frame pixels; default 2^level times the shrink factor (the network's own
    ///     cell size in the frame). A fixed stride suits callers that need one for frames of any size.
    ///   - samplesPerCell: n > 1 averages n x n samples per cell, at the centres of its n x n equal sub-cells,
    ///     instead of one at its centre: a level finer than the grid by a factor n (a stride-4 level on a
    ///     stride-8 grid: n = 2) then gives each cell the mean of the n x n map cells it covers (an area average,
    ///     exact where the positions land on cells), where a single sample would read only the middle ones.
    public func frameAligned(level: Int, stride fixedStride: Int? = nil, samplesPerCell: Int = 1) -> FrameAlignedGrid {
        precondition((1...pyramid.count).contains(level), "level \(level) is not in 1...\(pyramid.count)")
        precondition(fixedStride.map { $0 >= 1 } ?? true, "stride must be positive")
        precondition(samplesPerCell >= 1, "samplesPerCell must be positive")
        let tensor = pyramid[level - 1]
        let (channels, mapHeight, mapWidth) = (tensor.c, tensor.h, tensor.w)
        let levelStride = Double(1 << level)
        // Frame pixels per inference pixel (1 without maxSide).
        let scaleX = Double(width) / Double(inferenceWidth), scaleY = Double(height) / Double(inferenceHeight)
        let stride = fixedStride ?? max(1, Int((levelStride * max(scaleX, scaleY)).rounded()))
        let gridWidth = (width + stride - 1) / stride, gridHeight = (height + stride - 1) / stride

        /// Sample `sample` of a grid cell (its centre when samplesPerCell is 1) -> (lower tap, upper tap, weight of
        /// the upper) along one axis of the map.
        func taps(cell: Int, sample: Int, scale: Double, padding: Int, size: Int) -> (Int, Int, Float) {
            let framePosition = (Double(cell) + (Double(sample) + 0.5) / Double(samplesPerCell)) * Double(stride)
            let paddedPosition = framePosition / scale + Double(padding)
            let position = min(max(paddedPosition / levelStride - 0.5, 0), Double(size - 1))
            let lower = Int(position)
            return (lower, min(lower + 1, size - 1), Float(position - Double(lower)))
        }
        let columnSamples = (0..<samplesPerCell).map { sample in
            (0..<gridWidth).map { taps(cell: $0, sample: sample, scale: scaleX, padding: padder.left, size: mapWidth) }
        }
        let rowSamples = (0..<samplesPerCell).map { sample in
            (0..<gridHeight).map { taps(cell: $0, sample: sample, scale: scaleY, padding: padder.top, size: mapHeight) }
        }

        var values = [Float](repeating: 0, count: channels * gridHeight * gridWidth)
        let plane = mapHeight * mapWidth, gridPlane = gridHeight * gridWidth
        for (rows, columns) in rowSamples.flatMap({ rows in columnSamples.map { (rows, $0) } }) {
            for c in 0..<channels {
                let map = tensor.data + c * plane
                for (gy, (y0, y1, wy)) in rows.enumerated() {
                    for (gx, (x0, x1, wx)) in columns.enumerated() {
                        let top = map[y0 * mapWidth + x0] * (1 - wx) + map[y0 * mapWidth + x1] * wx
                        let bottom = map[y1 * mapWidth + x0] * (1 - wx) + map[y1 * mapWidth + x1] * wx
                        values[c * gridPlane + gy * gridWidth + gx] += top * (1 - wy) + bottom * wy
                    }
                }
            }
        }
        if samplesPerCell > 1 {
            let share = 1 / Float(samplesPerCell * samplesPerCell)
            for i in values.indices { values[i] *= share }
        }
        return FrameAlignedGrid(channels: channels, height: gridHeight, width: gridWidth, stride: stride, values: values)
    }
}
