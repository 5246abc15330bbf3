import MCJEPA
import NN
import Segmentation

/// One level of a frame's feature pyramid as a `FeatureMap` on a grid aligned with the frame itself, the
/// geometry LabelPropagation and ContentSegmenter assume (cell (x, y) covers frame pixels [x * stride,
/// (x + 1) * stride)).
///
/// The network's map is not aligned that way: it covers the frame shrunk to the inference size (--max-side) and
/// then padded on all sides to a multiple of 64, so its cell 0 may start before the frame and its cells may stand
/// for more than 2^level frame pixels. Each grid cell therefore samples the network's map bilinearly at the
/// cell centre's position in that map. Without shrinking and with no padding (or padding a multiple of the
/// level's stride) the samples land exactly on cells, so the map is copied unchanged.
/// - Parameter stride: the grid's stride in frame pixels; default 2^level times the shrink factor (the network's
///   own cell size in the frame). A fixed stride suits callers that need the same one for frames of any size.
func frameAlignedFeatures(_ features: FrameFeatures, level: Int, stride fixedStride: Int? = nil) -> (map: FeatureMap, stride: Int) {
    precondition((1...features.pyramid.count).contains(level), "level \(level) is not in 1...\(features.pyramid.count)")
    let tensor = features.pyramid[level - 1]
    let (channels, mapHeight, mapWidth) = (tensor.c, tensor.h, tensor.w)
    let levelStride = Double(1 << level)
    // Frame pixels per inference pixel (1 without --max-side).
    let scaleX = Double(features.width) / Double(features.inferenceWidth)
    let scaleY = Double(features.height) / Double(features.inferenceHeight)
    let stride = fixedStride ?? max(1, Int((levelStride * max(scaleX, scaleY)).rounded()))
    let gridWidth = (features.width + stride - 1) / stride, gridHeight = (features.height + stride - 1) / stride

    /// Frame coordinate of a grid cell's centre -> (lower tap, upper tap, weight of the upper) in the map.
    func taps(cell: Int, scale: Double, padding: Int, size: Int) -> (Int, Int, Float) {
        let framePosition = (Double(cell) + 0.5) * Double(stride)
        let paddedPosition = framePosition / scale + Double(padding)
        let position = min(max(paddedPosition / levelStride - 0.5, 0), Double(size - 1))
        let lower = Int(position)
        return (lower, min(lower + 1, size - 1), Float(position - Double(lower)))
    }
    let columns = (0..<gridWidth).map { taps(cell: $0, scale: scaleX, padding: features.padder.left, size: mapWidth) }
    let rows = (0..<gridHeight).map { taps(cell: $0, scale: scaleY, padding: features.padder.top, size: mapHeight) }

    var values = [Float](repeating: 0, count: channels * gridHeight * gridWidth)
    let source = tensor.data, plane = mapHeight * mapWidth, gridPlane = gridHeight * gridWidth
    for c in 0..<channels {
        let map = source + c * plane
        for (gy, (y0, y1, wy)) in rows.enumerated() {
            for (gx, (x0, x1, wx)) in columns.enumerated() {
                let top = map[y0 * mapWidth + x0] * (1 - wx) + map[y0 * mapWidth + x1] * wx
                let bottom = map[y1 * mapWidth + x0] * (1 - wx) + map[y1 * mapWidth + x1] * wx
                values[c * gridPlane + gy * gridWidth + gx] = top * (1 - wy) + bottom * wy
            }
        }
    }
    return (FeatureMap(channels: channels, height: gridHeight, width: gridWidth, values: values), stride)
}
