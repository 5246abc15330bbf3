import Foundation
import NN

/// Semi-supervised video object segmentation by label propagation through features, the protocol of DINO's
/// `eval_video_segmentation.py` used by MC-JEPA and most self-supervised papers:
/// - features are L2-normalised per cell (default: the stride-8 level);
/// - the context of frame t is the first frame with its given mask plus the previous `contextFrames` (7)
///   frames with their predicted soft label maps;
/// - a target cell's affinity to a context cell is exp(cos / temperature) (temperature 0.1), only for context
///   cells within `radius` (12) cells in x and y, and only the top `topK` (5) over the whole context count;
/// - its label map is the affinity-weighted average of those cells' label maps;
/// - label maps are upsampled bilinearly to the frame size, each label's map is min-max normalised (DINO's
///   `norm_mask`), and each pixel takes the label with the highest value.
///
/// Geometry: cell (x, y) of a feature map covers pixels [x * stride, (x + 1) * stride) of the frame; a map may
/// extend past the frame (a model that pads its input) but must cover it.
/// Labels: one per object id present in the first mask (its palette indices), background (0) always first; the
/// output masks use the same ids.
public final class LabelPropagation {
    public struct Configuration: Sendable {
        public var stride: Int = 8
        public var contextFrames: Int = 7
        public var temperature: Float = 0.1
        public var radius: Int = 12
        public var topK: Int = 5
        /// DINO's `norm_mask` before the argmax; without it small objects tend to fade.
        public var normaliseLabelMaps: Bool = true

        public init(stride: Int = 8, contextFrames: Int = 7, temperature: Float = 0.1, radius: Int = 12,
                    topK: Int = 5, normaliseLabelMaps: Bool = true) {
            self.stride = stride
            self.contextFrames = contextFrames
            self.temperature = temperature
            self.radius = radius
            self.topK = topK
            self.normaliseLabelMaps = normaliseLabelMaps
        }
    }

    /// A frame of the context: unit feature vectors (h, w, C) and soft label maps (L, h, w).
    struct ContextFrame {
        var features: [Float]
        var labels: [Float]
    }

    public let configuration: Configuration
    /// The object ids, background (0) first; label index k stands for objectIDs[k].
    public let objectIDs: [UInt8]
    public let frameWidth: Int
    public let frameHeight: Int
    let channels: Int, gridHeight: Int, gridWidth: Int
    let first: ContextFrame
    var recent: [ContextFrame] = []

    /// Starts a video from its first frame's features and mask (object ids per pixel, frameWidth x frameHeight).
    public init(firstFeatures: FeatureMap, firstMask: [UInt8], frameWidth: Int, frameHeight: Int,
                configuration: Configuration = Configuration()) throws {
        guard firstMask.count == frameWidth * frameHeight else {
            throw SegmentationError(file: "", reason: "first mask holds \(firstMask.count) pixels, expected \(frameWidth)x\(frameHeight)")
        }
        let stride = configuration.stride
        guard stride > 0, firstFeatures.width * stride >= frameWidth, firstFeatures.height * stride >= frameHeight else {
            throw SegmentationError(file: "", reason: "a \(firstFeatures.width)x\(firstFeatures.height) feature map at stride \(stride) does not cover a \(frameWidth)x\(frameHeight) frame")
        }
        self.configuration = configuration
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        channels = firstFeatures.channels
        gridHeight = firstFeatures.height
        gridWidth = firstFeatures.width
        var present = Set(firstMask)
        present.insert(0)
        objectIDs = present.sorted()
        first = ContextFrame(features: firstFeatures.unitVectorsPerCell(),
                             labels: Self.cellLabelFractions(firstMask, ids: objectIDs, frameWidth: frameWidth,
                                                             frameHeight: frameHeight, gridWidth: gridWidth,
                                                             gridHeight: gridHeight, stride: stride))
    }

    /// The first mask at feature resolution: per label, the fraction of each cell's pixels (inside the frame)
    /// that carry it. (DINO takes the nearest pixel instead; fractions keep objects thinner than a cell.)
    static func cellLabelFractions(_ mask: [UInt8], ids: [UInt8], frameWidth: Int, frameHeight: Int,
                                   gridWidth: Int, gridHeight: Int, stride: Int) -> [Float] {
        var indexOf = [Int](repeating: 0, count: 256)
        for (k, id) in ids.enumerated() { indexOf[Int(id)] = k }
        let cells = gridWidth * gridHeight
        var labels = [Float](repeating: 0, count: ids.count * cells)
        for gy in 0..<gridHeight {
            for gx in 0..<gridWidth {
                let y0 = gy * stride, x0 = gx * stride
                let y1 = min(y0 + stride, frameHeight), x1 = min(x0 + stride, frameWidth)
                guard y1 > y0, x1 > x0 else { labels[gy * gridWidth + gx] = 1; continue }  // padding: background
                let share = 1 / Float((y1 - y0) * (x1 - x0))
                for y in y0..<y1 {
                    for x in x0..<x1 { labels[indexOf[Int(mask[y * frameWidth + x])] * cells + gy * gridWidth + gx] += share }
                }
            }
        }
        return labels
    }

    /// Segments the next frame from its features and returns its mask (object ids, frameWidth x frameHeight).
    public func propagate(_ features: FeatureMap) throws -> [UInt8] {
        let target = try unitTarget(features)
        let labels = propagateLabels(target)
        remember(target: target, labels: labels)
        return upsampledArgmax(labels)
    }

    /// A frame's unit feature vectors, checked against the first frame's grid.
    func unitTarget(_ features: FeatureMap) throws -> [Float] {
        guard features.channels == channels, features.width == gridWidth, features.height == gridHeight else {
            throw SegmentationError(file: "", reason: "feature map is \(features.channels)x\(features.height)x\(features.width), the first frame's was \(channels)x\(gridHeight)x\(gridWidth)")
        }
        return features.unitVectorsPerCell()
    }

    /// Adds a segmented frame to the short memory (the oldest leaves once it holds `contextFrames`).
    func remember(target: [Float], labels: [Float]) {
        recent.append(ContextFrame(features: target, labels: labels))
        if recent.count > configuration.contextFrames { recent.removeFirst() }
    }

    /// Side, in cells, of the square tiles of target cells whose similarities are computed together.
    static let tileSide = 8

    /// Soft label maps (L, h, w) of a target frame from the context.
    ///
    /// The similarities come from matrix products: for a tile of 8 x 8 target cells, every context cell within
    /// `radius` of the tile (at most 32 x 32) is gathered, and one GEMM gives all their cosines at once. That
    /// computes about 1.6 times the similarities the windows need (the tile's corners see past their own
    /// windows), and still takes about a third of the time of one dot product at a time, as OpenBLAS runs the
    /// products with the machine's widest vectors. Each target cell then scans its own window in the product, in
    /// the order of the one-at-a-time search (frames, then rows, then columns; ties keep the first), so the
    /// choice of neighbours is the same up to the rounding of the dot products.
    func propagateLabels(_ target: [Float]) -> [Float] {
        let context = [first] + recent
        let labelCount = objectIDs.count, cells = gridWidth * gridHeight
        let (w, h, c, radius, k) = (gridWidth, gridHeight, channels, configuration.radius, configuration.topK)
        let inverseTemperature = 1 / configuration.temperature
        let side = Self.tileSide
        let tilesAcross = (w + side - 1) / side, tilesDown = (h + side - 1) / side
        var output = [Float](repeating: 0, count: labelCount * cells)
        nonisolated(unsafe) let outputPointer = output.withUnsafeMutableBufferPointer { $0.baseAddress! }
        // Tiles of target cells are independent; each writes only its own cells.
        target.withUnsafeBufferPointer { query in
            nonisolated(unsafe) let query = query
            DispatchQueue.concurrentPerform(iterations: tilesAcross * tilesDown) { tile in
                let qy0 = (tile / tilesAcross) * side, qx0 = (tile % tilesAcross) * side
                let qy1 = min(h, qy0 + side), qx1 = min(w, qx0 + side)
                let ky0 = max(0, qy0 - radius), ky1 = min(h, qy1 + radius)
                let kx0 = max(0, qx0 - radius), kx1 = min(w, qx1 + radius)
                let tileWidth = qx1 - qx0, queries = (qy1 - qy0) * tileWidth
                let keyWidth = kx1 - kx0, keys = (ky1 - ky0) * keyWidth
                var queryBlock = [Float](repeating: 0, count: queries * c)
                var keyBlock = [Float](repeating: 0, count: keys * c)
                var similarities = [Float](repeating: 0, count: queries * keys)
                for y in qy0..<qy1 {
                    for i in 0..<(tileWidth * c) {
                        queryBlock[(y - qy0) * tileWidth * c + i] = query[(y * w + qx0) * c + i]
                    }
                }
                // Per target cell of the tile, its top k so far (sorted, best first): similarity, frame, cell.
                var bestSimilarity = [Float](repeating: -.infinity, count: queries * k)
                var bestFrame = [Int](repeating: 0, count: queries * k), bestCell = [Int](repeating: 0, count: queries * k)
                for (f, frame) in context.enumerated() {
                    frame.features.withUnsafeBufferPointer { source in
                        keyBlock.withUnsafeMutableBufferPointer { block in
                            for ky in ky0..<ky1 {
                                (block.baseAddress! + (ky - ky0) * keyWidth * c)
                                    .update(from: source.baseAddress! + (ky * w + kx0) * c, count: keyWidth * c)
                            }
                        }
                    }
                    queryBlock.withUnsafeBufferPointer { q in
                        keyBlock.withUnsafeBufferPointer { key in
                            similarities.withUnsafeMutableBufferPointer { s in
                                multiplyTransposedOnThisThread(m: queries, n: keys, k: c, a: q.baseAddress!,
                                                               b: key.baseAddress!, c: s.baseAddress!)
                            }
                        }
                    }
                    similarities.withUnsafeBufferPointer { s in
                        for y in qy0..<qy1 {
                            for x in qx0..<qx1 {
                                let slot = (y - qy0) * tileWidth + (x - qx0), top = slot * k
                                let row = s.baseAddress! + slot * keys
                                var threshold = bestSimilarity[top + k - 1]
                                let kxStart = max(0, x - radius), kxEnd = min(w - 1, x + radius)
                                for ky in max(0, y - radius)...min(h - 1, y + radius) {
                                    let keyRow = row + (ky - ky0) * keyWidth
                                    // Most rows of the window hold nothing above the k-th best so far: their
                                    // maximum (four branch-free running maxima) skips them whole (blackswan: 59 ms
                                    // of CPU a frame instead of 73). The threshold only rises, so a skipped value
                                    // would have failed the test below: the same neighbours, in the same order, as
                                    // scanning every value.
                                    guard Self.maximum(keyRow + (kxStart - kx0), count: kxEnd - kxStart + 1) > threshold
                                    else { continue }
                                    for kx in kxStart...kxEnd {
                                        // In a row that holds a candidate, one comparison at a time: most fail
                                        // and the branch is predicted (about 0.5 ns each). Skipping groups of eight with
                                        // SIMD8's any(.>) was 10x slower per value: on the baseline x86-64 target
                                        // Swift's SIMD masks are reduced lane by lane.
                                        let similarity = keyRow[kx - kx0]
                                        guard similarity > threshold else { continue }
                                        // Insert into the sorted top-k list.
                                        var i = k - 1
                                        while i > 0 && bestSimilarity[top + i - 1] < similarity {
                                            bestSimilarity[top + i] = bestSimilarity[top + i - 1]
                                            bestFrame[top + i] = bestFrame[top + i - 1]
                                            bestCell[top + i] = bestCell[top + i - 1]
                                            i -= 1
                                        }
                                        bestSimilarity[top + i] = similarity
                                        bestFrame[top + i] = f
                                        bestCell[top + i] = ky * w + kx
                                        threshold = bestSimilarity[top + k - 1]
                                    }
                                }
                            }
                        }
                    }
                }
                // exp(cos / T) normalised over the top k; subtracting the best keeps exp in range.
                var weights = [Float](repeating: 0, count: k)
                for y in qy0..<qy1 {
                    for x in qx0..<qx1 {
                        let top = ((y - qy0) * tileWidth + (x - qx0)) * k
                        var total: Float = 0
                        for i in 0..<k {
                            weights[i] = 0
                            guard bestSimilarity[top + i] > -.infinity else { continue }
                            weights[i] = expf((bestSimilarity[top + i] - bestSimilarity[top]) * inverseTemperature)
                            total += weights[i]
                        }
                        for i in 0..<k where weights[i] > 0 {
                            let source = context[bestFrame[top + i]].labels
                            let weight = weights[i] / total
                            for l in 0..<labelCount {
                                outputPointer[l * cells + y * w + x] += weight * source[l * cells + bestCell[top + i]]
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// The largest of `count` values, four running maxima at a time (branch-free `maxss`, independent chains),
    /// then the rest one by one. (SIMD8's pointwiseMax and max() were slower than the scan they were to save: on
    /// the baseline x86-64 target Swift lowers them lane by lane.) NaNs (never produced by the cosines of finite
    /// vectors) are dropped; a row holding one is scanned the same either way, as a NaN never passes `>`.
    @inline(__always)
    static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var m0 = -Float.infinity, m1 = -Float.infinity, m2 = -Float.infinity, m3 = -Float.infinity
        var i = 0
        while i + 4 <= count {
            m0 = values[i] > m0 ? values[i] : m0
            m1 = values[i + 1] > m1 ? values[i + 1] : m1
            m2 = values[i + 2] > m2 ? values[i + 2] : m2
            m3 = values[i + 3] > m3 ? values[i + 3] : m3
            i += 4
        }
        while i < count {
            m0 = values[i] > m0 ? values[i] : m0
            i += 1
        }
        m0 = m1 > m0 ? m1 : m0
        m2 = m3 > m2 ? m3 : m2
        return m2 > m0 ? m2 : m0
    }

    /// Bilinear upsampling to the frame, optional min-max normalisation per label (DINO's `norm_mask`), and the
    /// argmax as object ids.
    func upsampledArgmax(_ labels: [Float]) -> [UInt8] {
        var maps = upsampledMaps(labels)
        if configuration.normaliseLabelMaps { Self.normalise(&maps, count: objectIDs.count) }
        return argmax(maps)
    }

    /// Bilinear upsampling of soft label maps (L, h, w) to the frame (pixel centres, align_corners = false).
    func upsampledMaps(_ labels: [Float]) -> [Float] {
        Self.bilinearUpsample(labels, count: objectIDs.count, gridWidth: gridWidth, gridHeight: gridHeight,
                              stride: configuration.stride, frameWidth: frameWidth, frameHeight: frameHeight)
    }

    /// `count` planar maps on a grid of `stride`-pixel cells -> frame-sized maps, bilinear between cell centres
    /// (align_corners = false), clamped at the border.
    static func bilinearUpsample(_ labels: [Float], count labelCount: Int, gridWidth: Int, gridHeight: Int,
                                 stride strideInPixels: Int, frameWidth: Int, frameHeight: Int) -> [Float] {
        let cells = gridWidth * gridHeight, pixels = frameWidth * frameHeight
        let stride = Float(strideInPixels)
        var maps = [Float](repeating: 0, count: labelCount * pixels)
        // Interpolation taps per column and per row, shared by every label.
        func taps(_ n: Int, _ size: Int) -> [(Int, Int, Float)] {
            (0..<n).map { p in
                let f = min(max((Float(p) + 0.5) / stride - 0.5, 0), Float(size - 1))
                let i0 = Int(f)
                return (i0, min(i0 + 1, size - 1), f - Float(i0))
            }
        }
        let columns = taps(frameWidth, gridWidth), rows = taps(frameHeight, gridHeight)
        for l in 0..<labelCount {
            let base = l * cells
            for y in 0..<frameHeight {
                let (y0, y1, wy) = rows[y]
                for x in 0..<frameWidth {
                    let (x0, x1, wx) = columns[x]
                    let top = labels[base + y0 * gridWidth + x0] * (1 - wx) + labels[base + y0 * gridWidth + x1] * wx
                    let bottom = labels[base + y1 * gridWidth + x0] * (1 - wx) + labels[base + y1 * gridWidth + x1] * wx
                    maps[l * pixels + y * frameWidth + x] = top * (1 - wy) + bottom * wy
                }
            }
        }
        return maps
    }

    /// DINO's `norm_mask`: each label's map min-max scaled to 0...1 (a map that is all zero stays so).
    static func normalise(_ maps: inout [Float], count labelCount: Int) {
        let pixels = maps.count / max(labelCount, 1)
        guard pixels > 0 else { return }
        maps.withUnsafeMutableBufferPointer { maps in
            for l in 0..<labelCount {
                let plane = maps.baseAddress! + l * pixels
                // Both ends in one pass, compared as `min()` and `max()` compare, in the same order.
                var low = plane[0], high = plane[0]
                for i in 1..<pixels {
                    if plane[i] < low { low = plane[i] }
                    if high < plane[i] { high = plane[i] }
                }
                if high > 0 && high > low {
                    let scale = 1 / (high - low)
                    for i in 0..<pixels { plane[i] = (plane[i] - low) * scale }
                }
            }
        }
    }

    /// Per pixel, the object id of the label with the highest value (ties: the lower label).
    func argmax(_ maps: [Float]) -> [UInt8] {
        let labelCount = objectIDs.count, pixels = frameWidth * frameHeight
        var mask = [UInt8](repeating: 0, count: pixels)
        for i in 0..<pixels {
            var best = 0, bestValue = maps[i]
            for l in 1..<max(labelCount, 1) where maps[l * pixels + i] > bestValue {
                best = l
                bestValue = maps[l * pixels + i]
            }
            mask[i] = objectIDs[best]
        }
        return mask
    }
}

/// The dot product of two vectors of length c, eight lanes at a time (the affinity search spends its time here).
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var ch = 0
    while ch + 8 <= c {
        let x = UnsafeRawPointer(a + ch).loadUnaligned(as: SIMD8<Float>.self)
        let y = UnsafeRawPointer(b + ch).loadUnaligned(as: SIMD8<Float>.self)
        lanes += x * y
        ch += 8
    }
    var sum = lanes.sum()
    while ch < c {
        sum += a[ch] * b[ch]
        ch += 1
    }
    return sum
}
