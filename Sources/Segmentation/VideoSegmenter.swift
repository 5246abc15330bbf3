import Foundation
import FlowIO

/// Unsupervised segmentation of a video into a few segments that follow objects and motion and keep their
/// identity (and so their colour) over time:
/// - motion is taken from the flow only where it explains the frame: at each pixel, the backward flow is used
///   when it passes the forward-backward check and predicts the pixel's neighbourhood from the previous frame
///   clearly better than no motion does; elsewhere the pixel is taken as still (`ExplainedMotion`). On a flat
///   wall or a still scene the network's flow wanders by a few pixels, and nothing in the frames supports that
///   motion: following it would move segments about for no reason;
/// - each cell's description joins its appearance features with that motion (as a direction (u/4, v/4, 1):
///   still cells agree with each other, cells moving together agree);
/// - the first frame is clustered by spherical k-means (deterministic k-means++ seeds); afterwards the centres
///   persist: each moves a fifth of the way per frame towards the mean of the cells that ended the frame in its
///   segment (online k-means on the final, stabilised labels), so a segment changes slowly and keeps its index;
/// - a cell's segment probabilities are a softmax of its cosine similarity to the centres;
/// - upsampled to the frame, they are averaged with the previous frame's probabilities carried along the motion
///   (an exponential moving average of each pixel's scores along its track) wherever the pixel's neighbourhood
///   is still what it was, so segments move with the objects instead of being re-decided on every frame;
/// - the segment each such pixel carried gets a bonus (`persistence`) before a guided filter on the frame's
///   colours smooths the scores and puts the boundaries on the image's edges: the previous decision is a prior
///   that the filter spreads over the neighbourhood, so a pixel keeps its segment while its neighbourhood does,
///   and a sliver its neighbourhood does not support (decided while something passed over a flat wall) dissolves
///   instead of being kept for ever;
/// - after the filter a pixel leaves its carried segment only for one better by `switchMargin` (hysteresis:
///   evidence that merely fluctuates, as noise does along a boundary, does not flip pixels back and forth).
public final class VideoSegmenter {
    public struct Configuration: Sendable {
        /// K, the number of segments.
        public var segments: Int = 5
        /// k-means iterations on the first frame.
        public var iterations: Int = 20
        public var seed: UInt64 = 0
        /// Softmax temperature over cosine similarities to the centroids.
        public var temperature: Float = 0.1
        /// Weight of the carried probabilities where the pixel's neighbourhood is still what it was.
        public var flowWeight: Float = 0.5
        /// How far each centroid moves towards its cells' mean per frame (0: frozen after the first frame).
        public var centroidMomentum: Float = 0.2
        /// Bonus to the carried segment's probability (then renormalised) before the guided filter.
        public var persistence: Float = 0.25
        /// Probability by which a new segment must beat the carried one, after the filter, for a pixel to switch.
        public var switchMargin: Float = 0.1
        /// The neighbourhood (radius, pixels) over which the flow and no motion are compared, and over which a
        /// pixel's content is checked against where its segment came from: 2 (5 x 5) averages sensor noise down
        /// while staying local to an object's edge.
        public var evidenceRadius: Int = 2
        /// How much better (mean absolute luma difference, grey levels) the flow must predict a neighbourhood
        /// than no motion to be followed: no motion is the simpler explanation and wins ties, so noise alone
        /// never moves a segment.
        public var motionEvidence: Float = 1
        /// Mean absolute luma difference (grey levels) over the neighbourhood above which a pixel's content is
        /// no longer what was where its segment came from (an occlusion, a change of light, a flow that failed):
        /// nothing is carried there and the pixel is decided afresh. Noise and compression stay far below.
        public var contentTolerance: Float = 12
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
    /// The previous frame's segment probabilities (K x pixels), final labels (0..<K, after hysteresis) and luma.
    var previous: [Float] = []
    var previousLabels: [UInt8] = []
    var previousLuma: [Float] = []

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
        let luma = Self.luma(rgb)
        var motion: ExplainedMotion?
        if let backward, let forward, previousLuma.count == pixels, previousLabels.count == pixels,
           backward.width == width, backward.height == height, forward.width == width, forward.height == height {
            motion = ExplainedMotion(backward: backward, forward: forward, luma: luma, previousLuma: previousLuma,
                                     width: width, height: height, configuration: configuration)
        }
        let joined = FeatureMap.joined([features, motionMap(motion?.field, gridWidth: features.width,
                                                            gridHeight: features.height, stride: stride)])
        let points = joined.unitVectorsPerCell()
        let c = joined.channels, cells = joined.height * joined.width
        let k = min(configuration.segments, cells)
        let seeding = centroids.count != k * c
        if seeding {
            var labels = [Int](repeating: 0, count: cells)
            centroids = kmeans.seeds(points, count: cells, channels: c, k: k)
            for iteration in 0..<max(1, configuration.iterations) {
                let changed = kmeans.assign(points, centroids: centroids, channels: c, k: k, labels: &labels)
                if iteration > 0 && !changed { break }
                centroids = kmeans.updatedCentroids(points, labels: labels, previous: centroids, channels: c, k: k)
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
        if let motion, previous.count == k * pixels {
            let carried = FlowLabelWarp.sample(previous, count: k, along: motion.field)
            let weight = configuration.flowWeight, bonus = configuration.persistence
            for y in 0..<height {
                for x in 0..<width where motion.carries[y * width + x] {
                    // The segment the pixel had in the previous frame (nearest pixel along the motion): it is kept
                    // unless a new one is clearly better.
                    let i = y * width + x
                    let px = min(width - 1, max(0, Int((Float(x) + motion.field.u[i]).rounded())))
                    let py = min(height - 1, max(0, Int((Float(y) + motion.field.v[i]).rounded())))
                    carriedLabel[i] = Int(previousLabels[py * width + px])
                    for j in 0..<k {
                        maps[j * pixels + i] = weight * carried[j * pixels + i] + (1 - weight) * maps[j * pixels + i]
                    }
                    // The bonus, renormalised so the maps still sum to one (see the guided filter below).
                    maps[carriedLabel[i] * pixels + i] += bonus
                    for j in 0..<k { maps[j * pixels + i] *= 1 / (1 + bonus) }
                }
            }
        }
        let radius = configuration.refineRadius ?? stride
        if radius > 0 {
            // The maps sum to one at every pixel (softmax, bilinear weights, the blend and the bonus keep that).
            GuidedFilter.filterProbabilities(&maps, count: k, rgb: rgb, width: width, height: height, radius: radius,
                                             epsilon: configuration.refineEpsilon)
        }
        FlowGuidedPropagation.normaliseProbabilities(&maps, count: k)
        var labels = [UInt8](repeating: 0, count: pixels)
        for i in 0..<pixels {
            var best = 0
            for j in 1..<max(k, 1) where maps[j * pixels + i] > maps[best * pixels + i] { best = j }
            let kept = carriedLabel[i]
            if kept >= 0 && maps[best * pixels + i] - maps[kept * pixels + i] < configuration.switchMargin { best = kept }
            labels[i] = UInt8(best)
        }
        if !seeding {
            followFinalLabels(points, labels: labels, gridWidth: joined.width, gridHeight: joined.height, stride: stride,
                              width: width, height: height, channels: c, k: k)
        }
        previous = maps
        previousLabels = labels
        previousLuma = luma
        return labels.map { $0 + 1 }
    }

    /// Online k-means on what the frame showed: each centroid moves `centroidMomentum` of the way towards the
    /// mean of the cells whose centre pixel ended in its segment (a segment without cells keeps its centroid).
    func followFinalLabels(_ points: [Float], labels: [UInt8], gridWidth: Int, gridHeight: Int, stride: Int,
                           width: Int, height: Int, channels c: Int, k: Int) {
        var cellLabels = [Int](repeating: 0, count: gridWidth * gridHeight)
        for gy in 0..<gridHeight {
            for gx in 0..<gridWidth {
                let x = min(width - 1, gx * stride + stride / 2), y = min(height - 1, gy * stride + stride / 2)
                cellLabels[gy * gridWidth + gx] = Int(labels[y * width + x])
            }
        }
        let means = kmeans.updatedCentroids(points, labels: cellLabels, previous: centroids, channels: c, k: k)
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

    /// Rec. 601 luma of packed RGB, in grey levels.
    static func luma(_ rgb: [UInt8]) -> [Float] {
        (0..<(rgb.count / 3)).map { i in
            0.299 * Float(rgb[3 * i]) + 0.587 * Float(rgb[3 * i + 1]) + 0.114 * Float(rgb[3 * i + 2])
        }
    }

    /// Per cell, the motion at its centre as the direction (u / scale, v / scale, 1); all (0, 0, 1) without one.
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

/// Which motion explains a frame from the previous one, pixel by pixel, and where the previous frame's content
/// is still there to carry from. Two hypotheses are compared on the luma, each by its mean absolute difference
/// over a (2r+1)^2 neighbourhood (one pixel's difference is mostly noise):
/// - the flow: this frame's pixel x came from x + backward(x) of the previous frame (bilinear), admissible only
///   where the forward-backward check passes and the source lies inside the frame;
/// - no motion: it came from x.
/// The flow is taken where it predicts clearly better (by `motionEvidence`); otherwise no motion, the simpler
/// explanation. The segment is carried where the chosen prediction's difference stays under `contentTolerance`.
struct ExplainedMotion {
    /// The chosen motion per pixel (the backward flow, or zero).
    var field: FlowField
    /// Whether the previous frame's segment may be carried to the pixel.
    var carries: [Bool]

    init(backward: FlowField, forward: FlowField, luma: [Float], previousLuma: [Float], width: Int, height: Int,
         configuration: VideoSegmenter.Configuration) {
        let pixels = width * height
        let predicted = FlowLabelWarp.warp(previousLuma, count: 1, backward: backward, forward: forward)
        var flowError = [Float](repeating: 0, count: pixels), stillError = [Float](repeating: 0, count: pixels)
        for i in 0..<pixels {
            stillError[i] = abs(luma[i] - previousLuma[i])
            // An inadmissible flow predicts nothing: the largest difference there is.
            flowError[i] = predicted.valid[i] ? abs(luma[i] - predicted.maps[i]) : 255
        }
        let r = configuration.evidenceRadius
        flowError = GuidedFilter.boxMean(flowError, width: width, height: height, radius: r)
        stillError = GuidedFilter.boxMean(stillError, width: width, height: height, radius: r)
        field = FlowField.zero(width: width, height: height)
        carries = [Bool](repeating: false, count: pixels)
        for i in 0..<pixels {
            let moves = predicted.valid[i] && flowError[i] + configuration.motionEvidence < stillError[i]
            if moves {
                field.u[i] = backward.u[i]
                field.v[i] = backward.v[i]
            }
            carries[i] = (moves ? flowError[i] : stillError[i]) <= configuration.contentTolerance
        }
    }
}
