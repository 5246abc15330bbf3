import Foundation
import FlowIO

/// Unsupervised segmentation of a video into a few segments that follow objects and motion and keep their
/// identity (and so their colour) over time:
/// - each cell's description joins its appearance features with its motion (the backward flow at the cell,
///   as a direction (u/4, v/4, 1): still cells agree with each other, cells moving together agree);
/// - the first frame is clustered by spherical k-means (deterministic k-means++ seeds); later frames keep the
///   centroids and move each one a fifth of the way towards the mean of the cells it holds (online k-means), so
///   a segment changes slowly and keeps its index;
/// - a cell's segment probabilities are a softmax of its cosine similarity to the centroids;
/// - upsampled to the frame, they are averaged with the previous frame's probabilities carried along the flow
///   where the forward-backward check passes, so segments move with the objects instead of being re-decided
///   from scratch on every frame;
/// - a guided filter on the frame's colours puts the boundaries on the image's edges, and a pixel changes
///   segment only when the new one beats the carried one by `switchMargin` (hysteresis: noise does not make
///   boundaries flicker on a still scene; the carried segment is the previous frame's final one, followed along
///   the flow, with motions under `stillMotion` taken as none).
public final class VideoSegmenter {
    public struct Configuration: Sendable {
        /// K, the number of segments.
        public var segments: Int = 5
        /// k-means iterations on the first frame.
        public var iterations: Int = 20
        public var seed: UInt64 = 0
        /// Softmax temperature over cosine similarities to the centroids.
        public var temperature: Float = 0.1
        /// Weight of the flow-carried probabilities where the flow is trusted.
        public var flowWeight: Float = 0.5
        /// How far each centroid moves towards its cells' mean per frame (0: frozen after the first frame).
        public var centroidMomentum: Float = 0.2
        /// Probability by which a new segment must beat the carried one for a pixel to switch.
        public var switchMargin: Float = 0.25
        /// Flow vectors shorter than this (pixels) are taken as no motion when carrying segments: on a still clip
        /// the built-in network's flow wanders by 1-1.7 px on average, and following that noise makes the
        /// boundaries of a still scene jitter.
        public var stillMotion: Float = 2
        /// Flow (pixels) that counts as one unit of motion in the motion description.
        public var motionScale: Float = 4
        /// Guided-filter radius (pixels; 0: none; default the stride) and regularisation (colour units squared).
        public var refineRadius: Int? = nil
        public var refineEpsilon: Float = 1e-3

        public init(segments: Int = 5) { self.segments = segments }
    }

    public let configuration: Configuration
    let kmeans: ContentSegmenter
    /// Unit centroids (K x C) of the joined appearance and motion description.
    var centroids: [Float] = []
    /// The previous frame's segment probabilities (K x pixels) and final labels (0..<K, after hysteresis).
    var previous: [Float] = []
    var previousLabels: [UInt8] = []

    public init(configuration: Configuration = Configuration()) {
        precondition((1...255).contains(configuration.segments), "K must be in 1...255")
        self.configuration = configuration
        kmeans = ContentSegmenter(configuration: ContentSegmenter.Configuration(
            segments: configuration.segments, iterations: configuration.iterations, seed: configuration.seed))
    }

    /// Segments one frame; returns segment ids 1...K per pixel (0 is never used, so the DAVIS palette colours
    /// every segment).
    /// - Parameters:
    ///   - features: the frame's appearance features on a frame-aligned grid of `stride` pixels per cell.
    ///   - rgb: the frame, packed RGB, width x height.
    ///   - backward: flow from this frame to the previous one, frame-sized (nil on the first frame).
    ///   - forward: flow from the previous frame to this one (for the occlusion check).
    public func segment(_ features: FeatureMap, stride: Int, rgb: [UInt8], width: Int, height: Int,
                        backward: FlowField?, forward: FlowField?) -> [UInt8] {
        let pixels = width * height
        precondition(rgb.count == 3 * pixels, "segment: frame is not width x height")
        let joined = FeatureMap.joined([features, motionMap(backward, gridWidth: features.width,
                                                            gridHeight: features.height, stride: stride)])
        let points = joined.unitVectorsPerCell()
        let c = joined.channels, cells = joined.height * joined.width
        let k = min(configuration.segments, cells)
        var labels = [Int](repeating: 0, count: cells)
        if centroids.count != k * c {
            centroids = kmeans.seeds(points, count: cells, channels: c, k: k)
            for iteration in 0..<max(1, configuration.iterations) {
                let changed = kmeans.assign(points, centroids: centroids, channels: c, k: k, labels: &labels)
                if iteration > 0 && !changed { break }
                centroids = kmeans.updatedCentroids(points, labels: labels, previous: centroids, channels: c, k: k)
            }
        } else {
            _ = kmeans.assign(points, centroids: centroids, channels: c, k: k, labels: &labels)
            let means = kmeans.updatedCentroids(points, labels: labels, previous: centroids, channels: c, k: k)
            let m = configuration.centroidMomentum
            for j in 0..<k {
                var norm: Float = 0
                for ch in 0..<c {
                    centroids[j * c + ch] = (1 - m) * centroids[j * c + ch] + m * means[j * c + ch]
                    norm += centroids[j * c + ch] * centroids[j * c + ch]
                }
                let scale = norm > 1e-20 ? 1 / norm.squareRoot() : 0
                for ch in 0..<c { centroids[j * c + ch] *= scale }
            }
        }
        // Soft assignment per cell: softmax over the K cosine similarities.
        var cellProbabilities = [Float](repeating: 0, count: k * cells)
        let inverseTemperature = 1 / configuration.temperature
        points.withUnsafeBufferPointer { p in
            centroids.withUnsafeBufferPointer { centre in
                var scores = [Float](repeating: 0, count: k)
                for cell in 0..<cells {
                    var best = -Float.infinity
                    for j in 0..<k {
                        scores[j] = dot(p.baseAddress! + cell * c, centre.baseAddress! + j * c, c) * inverseTemperature
                        best = max(best, scores[j])
                    }
                    var total: Float = 0
                    for j in 0..<k { scores[j] = expf(scores[j] - best); total += scores[j] }
                    for j in 0..<k { cellProbabilities[j * cells + cell] = scores[j] / total }
                }
            }
        }
        var maps = LabelPropagation.bilinearUpsample(cellProbabilities, count: k, gridWidth: joined.width,
                                                     gridHeight: joined.height, stride: stride,
                                                     frameWidth: width, frameHeight: height)
        var carriedLabel = [Int](repeating: -1, count: pixels)
        if let backward, let forward, previous.count == k * pixels, backward.width == width, backward.height == height {
            let motion = Self.snappingSmallMotion(backward, below: configuration.stillMotion)
            let carried = FlowLabelWarp.warp(previous, count: k, backward: motion,
                                             forward: Self.snappingSmallMotion(forward, below: configuration.stillMotion))
            let weight = configuration.flowWeight
            for y in 0..<height {
                for x in 0..<width {
                    // The segment the pixel had in the previous frame (nearest pixel along the flow), where the
                    // check passes: it is kept unless a new one is clearly better.
                    let i = y * width + x
                    guard carried.valid[i] else { continue }
                    let px = Int((Float(x) + motion.u[i]).rounded()), py = Int((Float(y) + motion.v[i]).rounded())
                    if px >= 0, px < width, py >= 0, py < height { carriedLabel[i] = Int(previousLabels[py * width + px]) }
                }
            }
            for i in 0..<pixels {
                guard carried.valid[i] else { continue }
                for j in 0..<k {
                    maps[j * pixels + i] = weight * carried.maps[j * pixels + i] + (1 - weight) * maps[j * pixels + i]
                }
            }
        }
        let radius = configuration.refineRadius ?? stride
        if radius > 0 {
            // The maps sum to one at every pixel (softmax, bilinear weights and the blend all keep that).
            GuidedFilter.filterProbabilities(&maps, count: k, rgb: rgb, width: width, height: height, radius: radius,
                                             epsilon: configuration.refineEpsilon)
        }
        FlowGuidedPropagation.normaliseProbabilities(&maps, count: k)
        var ids = [UInt8](repeating: 0, count: pixels)
        for i in 0..<pixels {
            var best = 0
            for j in 1..<max(k, 1) where maps[j * pixels + i] > maps[best * pixels + i] { best = j }
            let kept = carriedLabel[i]
            if kept >= 0 && maps[best * pixels + i] - maps[kept * pixels + i] < configuration.switchMargin { best = kept }
            ids[i] = UInt8(best + 1)
        }
        previous = maps
        previousLabels = ids.map { $0 - 1 }
        return ids
    }

    /// The flow with vectors shorter than `threshold` pixels set to zero.
    static func snappingSmallMotion(_ flow: FlowField, below threshold: Float) -> FlowField {
        guard threshold > 0 else { return flow }
        var snapped = flow
        let limit = threshold * threshold
        for i in 0..<flow.pixelCount where flow.u[i] * flow.u[i] + flow.v[i] * flow.v[i] < limit {
            snapped.u[i] = 0
            snapped.v[i] = 0
        }
        return snapped
    }

    /// Per cell, the backward flow at its centre as the direction (u / scale, v / scale, 1); all (0, 0, 1)
    /// without a flow.
    func motionMap(_ flow: FlowField?, gridWidth: Int, gridHeight: Int, stride: Int) -> FeatureMap {
        let cells = gridWidth * gridHeight
        var values = [Float](repeating: 0, count: 3 * cells)
        for i in 0..<cells { values[2 * cells + i] = 1 }
        guard let flow else { return FeatureMap(channels: 3, height: gridHeight, width: gridWidth, values: values) }
        let scale = 1 / configuration.motionScale
        for gy in 0..<gridHeight {
            for gx in 0..<gridWidth {
                let x = min(flow.width - 1, gx * stride + stride / 2), y = min(flow.height - 1, gy * stride + stride / 2)
                values[gy * gridWidth + gx] = flow.u[y * flow.width + x] * scale
                values[cells + gy * gridWidth + gx] = flow.v[y * flow.width + x] * scale
            }
        }
        return FeatureMap(channels: 3, height: gridHeight, width: gridWidth, values: values)
    }
}
