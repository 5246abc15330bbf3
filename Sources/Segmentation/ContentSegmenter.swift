import FlowIO
import Foundation
import NN

/// Unsupervised content segmentation of a video: spherical k-means over each frame's dense L2-normalised
/// features (cosine similarity), with segment identities kept over time so colours do not flicker:
/// - the first frame starts from k-means++ seeds drawn with a fixed seed (deterministic);
/// - every later frame starts from the previous frame's centroids, so a segment usually stays where it was;
/// - after Lloyd's iterations, new segments are matched to the previous ones greedily on centroid cosine
///   similarity plus, when a flow is given, the overlap with the previous labels warped into this frame.
public final class ContentSegmenter {
    public struct Configuration: Sendable {
        /// K, the number of segments.
        public var segments: Int = 6
        public var iterations: Int = 20
        public var seed: UInt64 = 0
        /// Weight of the flow-warped label overlap (0...1 fraction) against centroid similarity (-1...1).
        public var overlapWeight: Float = 1

        public init(segments: Int = 6, iterations: Int = 20, seed: UInt64 = 0, overlapWeight: Float = 1) {
            self.segments = segments
            self.iterations = iterations
            self.seed = seed
            self.overlapWeight = overlapWeight
        }
    }

    public let configuration: Configuration
    /// The previous frame's unit centroids (K x C), indexed by segment identity.
    public private(set) var centroids: [Float] = []
    var previousLabels: [Int] = []
    var previousGrid = (width: 0, height: 0, channels: 0)

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.segments >= 1 && configuration.segments <= 255, "K must be in 1...255")
        self.configuration = configuration
    }

    /// Segments one frame: a segment identity in 0..<K per feature cell (row-major, features.height x width).
    /// - Parameter backwardFlow: optional flow from this frame to the previous one (any resolution covering the
    ///   same picture), used to carry the previous labels over when matching identities.
    public func segment(_ features: FeatureMap, backwardFlow: FlowField? = nil) -> [Int] {
        let points = features.unitVectorsPerCell()
        let c = features.channels, n = features.height * features.width
        let k = min(configuration.segments, n)
        let isContinuation = previousGrid.channels == c && centroids.count == k * c
        var current = isContinuation ? centroids : seeds(points, count: n, channels: c, k: k)
        var labels = [Int](repeating: 0, count: n)
        for iteration in 0..<max(1, configuration.iterations) {
            let changed = assign(points, centroids: current, channels: c, k: k, labels: &labels)
            if iteration > 0 && !changed { break }
            current = updatedCentroids(points, labels: labels, previous: current, channels: c, k: k)
        }
        _ = assign(points, centroids: current, channels: c, k: k, labels: &labels)
        if isContinuation {
            let overlap = warpedOverlap(labels: labels, width: features.width, height: features.height, k: k,
                                        flow: backwardFlow)
            var similarity = [Float](repeating: 0, count: k * k)
            for i in 0..<k {
                for j in 0..<k {
                    var dot: Float = 0
                    for ch in 0..<c { dot += current[i * c + ch] * centroids[j * c + ch] }
                    similarity[i * k + j] = dot + configuration.overlapWeight * (overlap?[i * k + j] ?? 0)
                }
            }
            let identity = Self.greedyMatching(similarity, count: k)
            labels = labels.map { identity[$0] }
            var reordered = current
            for i in 0..<k { for ch in 0..<c { reordered[identity[i] * c + ch] = current[i * c + ch] } }
            current = reordered
        }
        centroids = current
        previousLabels = labels
        previousGrid = (features.width, features.height, c)
        return labels
    }

    /// Greedy assignment on a K x K score matrix (rows: new segments, columns: previous identities): the best
    /// remaining pair first. Returns the identity of each new segment.
    static func greedyMatching(_ score: [Float], count k: Int) -> [Int] {
        var identity = [Int](repeating: -1, count: k), taken = [Bool](repeating: false, count: k)
        let order = (0..<(k * k)).sorted { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
        for pair in order {
            let i = pair / k, j = pair % k
            if identity[i] == -1 && !taken[j] {
                identity[i] = j
                taken[j] = true
            }
        }
        return identity
    }

    /// For each (new segment i, previous identity j), the fraction of i's cells whose flow-warped previous
    /// label is j; nil without a usable flow or when the grid changed.
    func warpedOverlap(labels: [Int], width: Int, height: Int, k: Int, flow: FlowField?) -> [Float]? {
        guard let flow, flow.width > 0, flow.height > 0, previousGrid.width == width, previousGrid.height == height,
              previousLabels.count == labels.count else { return nil }
        let sx = Float(flow.width) / Float(width), sy = Float(flow.height) / Float(height)
        var counts = [Float](repeating: 0, count: k * k), totals = [Float](repeating: 0, count: k)
        for y in 0..<height {
            for x in 0..<width {
                // The cell centre in flow pixels, then where it was in the previous frame, back in cells.
                let fx = min(flow.width - 1, Int((Float(x) + 0.5) * sx)), fy = min(flow.height - 1, Int((Float(y) + 0.5) * sy))
                let f = fy * flow.width + fx
                guard flow.valid[f] else { continue }
                let px = Int((((Float(x) + 0.5) * sx + flow.u[f]) / sx).rounded(.down))
                let py = Int((((Float(y) + 0.5) * sy + flow.v[f]) / sy).rounded(.down))
                guard px >= 0, px < width, py >= 0, py < height else { continue }
                let i = labels[y * width + x]
                counts[i * k + previousLabels[py * width + px]] += 1
                totals[i] += 1
            }
        }
        for i in 0..<k where totals[i] > 0 { for j in 0..<k { counts[i * k + j] /= totals[i] } }
        return counts
    }

    /// k-means++ seeds: the first uniformly, each next with probability proportional to its squared distance
    /// to the nearest seed (for unit vectors, 2 - 2 cos).
    func seeds(_ points: [Float], count n: Int, channels c: Int, k: Int) -> [Float] {
        var random = SplitMix64(state: configuration.seed)
        var chosen = [Int(random.next() % UInt64(n))]
        var nearest = [Float](repeating: .infinity, count: n)
        while chosen.count < k {
            let last = chosen[chosen.count - 1]
            var total: Double = 0
            for p in 0..<n {
                var dot: Float = 0
                for ch in 0..<c { dot += points[p * c + ch] * points[last * c + ch] }
                nearest[p] = min(nearest[p], max(0, 2 - 2 * dot))
                total += Double(nearest[p])
            }
            guard total > 0 else { chosen.append(chosen.count % n); continue }  // all points coincide
            var target = Double(random.next() >> 11) / Double(1 << 53) * total
            var pick = n - 1
            for p in 0..<n {
                target -= Double(nearest[p])
                if target < 0 { pick = p; break }
            }
            chosen.append(pick)
        }
        return chosen.flatMap { Array(points[($0 * c)..<($0 * c + c)]) }
    }

    /// Each point to its most similar centroid; returns whether any label changed.
    func assign(_ points: [Float], centroids: [Float], channels c: Int, k: Int, labels: inout [Int]) -> Bool {
        var changed = false
        for p in 0..<(points.count / c) {
            var best = 0, bestDot = -Float.infinity
            for j in 0..<k {
                var dot: Float = 0
                for ch in 0..<c { dot += points[p * c + ch] * centroids[j * c + ch] }
                if dot > bestDot { best = j; bestDot = dot }
            }
            if labels[p] != best { changed = true; labels[p] = best }
        }
        return changed
    }

    /// Mean direction of each segment's points; a segment left empty keeps its previous centroid.
    func updatedCentroids(_ points: [Float], labels: [Int], previous: [Float], channels c: Int, k: Int) -> [Float] {
        var sums = [Float](repeating: 0, count: k * c)
        for (p, label) in labels.enumerated() { for ch in 0..<c { sums[label * c + ch] += points[p * c + ch] } }
        for j in 0..<k {
            var norm: Float = 0
            for ch in 0..<c { norm += sums[j * c + ch] * sums[j * c + ch] }
            if norm > 1e-20 {
                let scale = 1 / norm.squareRoot()
                for ch in 0..<c { sums[j * c + ch] *= scale }
            } else {
                for ch in 0..<c { sums[j * c + ch] = previous[j * c + ch] }
            }
        }
        return sums
    }

    /// Cell labels to a frame-size mask (nearest cell, `stride` pixels per cell), as ids 1...K so 0 stays free
    /// for "no segment" and the DAVIS palette colours them.
    public static func frameMask(_ labels: [Int], gridWidth: Int, gridHeight: Int, stride: Int,
                                 frameWidth: Int, frameHeight: Int) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: frameWidth * frameHeight)
        for y in 0..<frameHeight {
            let gy = min(gridHeight - 1, y / stride)
            for x in 0..<frameWidth {
                mask[y * frameWidth + x] = UInt8(labels[gy * gridWidth + min(gridWidth - 1, x / stride)] + 1)
            }
        }
        return mask
    }
}
