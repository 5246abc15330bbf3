import Foundation

/// The DAVIS region and boundary measures for one object in one frame, written to give exactly the numbers of
/// the official davis2017-evaluation code (`davis2017/metrics.py`: `db_eval_iou`, `f_measure`, `_seg2bmap`).
/// Masks are row-major booleans, `true` = the object.
public enum MaskMetrics {
    /// J: intersection over union of the two masks; two empty masks agree perfectly (1), as in `db_eval_iou`.
    public static func jaccard(_ annotation: [Bool], _ prediction: [Bool]) -> Double {
        precondition(annotation.count == prediction.count, "masks of different sizes")
        var intersection = 0, union = 0
        for i in 0..<annotation.count {
            let a = annotation[i], p = prediction[i]
            if a && p { intersection += 1 }
            if a || p { union += 1 }
        }
        return union == 0 ? 1 : Double(intersection) / Double(union)
    }

    /// The boundary tolerance in pixels for a picture: `ceil(0.008 * diagonal)` (8 px at 854x480).
    public static func boundaryTolerance(width: Int, height: Int, fraction: Double = 0.008) -> Int {
        fraction >= 1 ? Int(fraction) : Int((fraction * Double(width * width + height * height).squareRoot()).rounded(.up))
    }

    /// `_seg2bmap`: a pixel is on the boundary when it differs from its east, south or south-east neighbour;
    /// the last row compares only with the east neighbour, the last column only with the south one, and the
    /// bottom-right pixel is never a boundary. Boundaries therefore lie on the object's or the background's side
    /// exactly as in the official code.
    public static func boundaryMap(_ mask: [Bool], width: Int, height: Int) -> [Bool] {
        precondition(mask.count == width * height, "mask size does not match \(width)x\(height)")
        var boundary = [Bool](repeating: false, count: mask.count)
        guard width > 0, height > 0 else { return boundary }
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x, s = mask[i]
                // Neighbours beyond the picture count as background (zeros_like in the official shift).
                let east = x + 1 < width ? mask[i + 1] : false
                let south = y + 1 < height ? mask[i + width] : false
                let southEast = x + 1 < width && y + 1 < height ? mask[i + width + 1] : false
                if y == height - 1 && x == width - 1 {
                    boundary[i] = false
                } else if y == height - 1 {
                    boundary[i] = s != east
                } else if x == width - 1 {
                    boundary[i] = s != south
                } else {
                    boundary[i] = s != east || s != south || s != southEast
                }
            }
        }
        return boundary
    }

    /// F: the boundary F-measure. Boundary pixels of one mask match when a boundary pixel of the other lies
    /// within the tolerance disk (skimage `disk(r)`: dx² + dy² <= r², the official code's dilation kernel).
    /// Precision/recall conventions for empty boundaries follow `f_measure`.
    public static func fMeasure(_ annotation: [Bool], _ prediction: [Bool], width: Int, height: Int,
                                tolerance: Int? = nil) -> Double {
        let radius = tolerance ?? boundaryTolerance(width: width, height: height)
        let truthBoundary = boundaryMap(annotation, width: width, height: height)
        let predictedBoundary = boundaryMap(prediction, width: width, height: height)
        let truthCount = truthBoundary.reduce(0) { $0 + ($1 ? 1 : 0) }
        let predictedCount = predictedBoundary.reduce(0) { $0 + ($1 ? 1 : 0) }
        let precision: Double, recall: Double
        switch (predictedCount, truthCount) {
        case (0, 0): (precision, recall) = (1, 1)
        case (0, _): (precision, recall) = (1, 0)
        case (_, 0): (precision, recall) = (0, 1)
        default:
            let predictedNearTruth = dilated(truthBoundary, width: width, height: height, radius: radius)
            let truthNearPrediction = dilated(predictedBoundary, width: width, height: height, radius: radius)
            var predictedMatches = 0, truthMatches = 0
            for i in 0..<truthBoundary.count {
                if predictedBoundary[i] && predictedNearTruth[i] { predictedMatches += 1 }
                if truthBoundary[i] && truthNearPrediction[i] { truthMatches += 1 }
            }
            precision = Double(predictedMatches) / Double(predictedCount)
            recall = Double(truthMatches) / Double(truthCount)
        }
        return precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
    }

    /// Binary dilation by a disk of `radius`, done by stamping the disk's row spans around each set pixel:
    /// boundaries are sparse, so this costs (boundary pixels x disk rows) instead of (pixels x disk area).
    static func dilated(_ mask: [Bool], width: Int, height: Int, radius: Int) -> [Bool] {
        var out = [Bool](repeating: false, count: mask.count)
        // Half-width of the disk's row at each vertical offset: the largest dx with dx² + dy² <= r².
        let halfWidths = (0...radius).map { dy -> Int in
            var dx = 0
            while (dx + 1) * (dx + 1) + dy * dy <= radius * radius { dx += 1 }
            return dx
        }
        out.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                for x in 0..<width where mask[y * width + x] {
                    for dy in -radius...radius {
                        let yy = y + dy
                        guard yy >= 0 && yy < height else { continue }
                        let half = halfWidths[abs(dy)]
                        let lo = max(0, x - half), hi = min(width - 1, x + half)
                        let row = yy * width
                        for xx in lo...hi { out[row + xx] = true }
                    }
                }
            }
        }
        return out
    }
}

/// `db_statistics` over the per-frame values of one object: mean, recall (fraction above 0.5) and decay
/// (mean of the first quarter of frames minus mean of the last quarter).
public struct MeasureStatistics: Codable, Equatable, Sendable {
    public var mean: Double
    public var recall: Double
    public var decay: Double

    public init(mean: Double, recall: Double, decay: Double) {
        self.mean = mean
        self.recall = recall
        self.decay = decay
    }

    public init(_ values: [Double]) {
        guard !values.isEmpty else {
            self.init(mean: .nan, recall: .nan, decay: .nan)
            return
        }
        let average = { (slice: ArraySlice<Double>) -> Double in
            slice.isEmpty ? .nan : slice.reduce(0, +) / Double(slice.count)
        }
        // ids = round(linspace(1, n, 5) + 1e-10) - 1, bins are ids[i]...ids[i+1] inclusive.
        let n = values.count
        let ids = (0...4).map { k -> Int in
            let point = 1 + Double(n - 1) * Double(k) / 4
            return Int((point + 1e-10).rounded()) - 1
        }
        let firstBin = values[ids[0]...min(ids[1], n - 1)]
        let lastBin = values[ids[3]...min(ids[4], n - 1)]
        self.init(mean: average(values[...]),
                  recall: Double(values.filter { $0 > 0.5 }.count) / Double(n),
                  decay: average(firstBin) - average(lastBin))
    }
}
