import XCTest
@testable import Segmentation

/// The tiled affinity search (`LabelPropagation.propagateLabels`: a matrix product per tile of target cells and
/// context frame, then each cell's top k from its window in the product) against the search written one cell at a
/// time.
final class AffinitySearchTests: XCTestCase {
    /// Offering similarities one at a time, ties keeping the first (best first).
    func referenceTopK(_ offers: [(Float, Int, Int)], k: Int) -> [(Float, Int, Int)] {
        var list = [(Float, Int, Int)](repeating: (-.infinity, 0, 0), count: k)
        for offer in offers where offer.0 > list[k - 1].0 {
            var i = k - 1
            while i > 0 && list[i - 1].0 < offer.0 { list[i] = list[i - 1]; i -= 1 }
            list[i] = offer
        }
        return list
    }

    /// Features whose cosines are exact in any summation order (16 channels of +-1/4: unit length, dot products
    /// multiples of 1/16), so the tiled products and a dot product per pair must give the same label maps to the
    /// bit, ties and all.
    func test_tiled_search_gives_the_label_maps_of_a_cell_by_cell_search() throws {
        let (w, h, c, stride) = (21, 13, 16, 4)
        var rng = SystemRandomNumberGenerator()
        func features() -> FeatureMap {
            FeatureMap(channels: c, height: h, width: w,
                       values: (0..<(c * h * w)).map { _ in Bool.random(using: &rng) ? 0.25 : -0.25 })
        }
        let mask = (0..<(w * stride * h * stride)).map { i -> UInt8 in
            let (x, y) = (i % (w * stride), i / (w * stride))
            return x < 30 && y < 20 ? 1 : (x > 50 ? 2 : 0)
        }
        let configuration = LabelPropagation.Configuration(stride: stride, contextFrames: 3, radius: 5, topK: 5)
        let first = features()
        let propagation = try LabelPropagation(firstFeatures: first, firstMask: mask, frameWidth: w * stride,
                                               frameHeight: h * stride, configuration: configuration)
        var context = [(first.unitVectorsPerCell(), propagation.first.labels)]
        for _ in 0..<5 {
            let target = try propagation.unitTarget(features())
            let tiled = propagation.propagateLabels(target)
            let reference = cellByCell(target, context: context, width: w, height: h, channels: c,
                                       labels: propagation.objectIDs.count, configuration: configuration)
            XCTAssertEqual(tiled, reference)
            propagation.remember(target: target, labels: tiled)
            context.append((target, tiled))
            if context.count > 1 + configuration.contextFrames { context.remove(at: 1) }
        }
    }

    /// The row maximum that lets the search skip rows: the largest value for every length (the four running
    /// maxima and the tail), wherever it sits, negatives and infinities included.
    func test_row_maximum_is_the_largest_value() {
        var rng = SystemRandomNumberGenerator()
        for count in 1...30 {
            for position in 0..<count {
                var values = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
                values[position] = 2
                if count > 1 { values[(position + 1) % count] = -.infinity }
                XCTAssertEqual(values.withUnsafeBufferPointer { LabelPropagation.maximum($0.baseAddress!, count: count) },
                               2, "count \(count), largest at \(position)")
            }
            let negatives = (0..<count).map { _ in Float.random(in: -3 ... -1, using: &rng) }
            XCTAssertEqual(negatives.withUnsafeBufferPointer { LabelPropagation.maximum($0.baseAddress!, count: count) },
                           negatives.max()!)
        }
    }

    /// The search as the protocol describes it: for each target cell, frames in order, then rows, then columns of
    /// its window, a dot product per pair; the top k by exp(cos / T), their label maps averaged.
    func cellByCell(_ target: [Float], context: [([Float], [Float])], width w: Int, height h: Int, channels c: Int,
                    labels labelCount: Int, configuration: LabelPropagation.Configuration) -> [Float] {
        let (k, radius, cells) = (configuration.topK, configuration.radius, w * h)
        let inverseTemperature = 1 / configuration.temperature
        var output = [Float](repeating: 0, count: labelCount * cells)
        for y in 0..<h {
            for x in 0..<w {
                var offers: [(Float, Int, Int)] = []
                for (f, frame) in context.enumerated() {
                    for ky in max(0, y - radius)...min(h - 1, y + radius) {
                        for kx in max(0, x - radius)...min(w - 1, x + radius) {
                            var dot: Float = 0
                            for ch in 0..<c { dot += target[(y * w + x) * c + ch] * frame.0[(ky * w + kx) * c + ch] }
                            offers.append((dot, f, ky * w + kx))
                        }
                    }
                }
                let best = referenceTopK(offers, k: k)
                var weights = [Float](repeating: 0, count: k), total: Float = 0
                for i in 0..<k where best[i].0 > -.infinity {
                    weights[i] = expf((best[i].0 - best[0].0) * inverseTemperature)
                    total += weights[i]
                }
                for i in 0..<k where weights[i] > 0 {
                    for l in 0..<labelCount {
                        output[l * cells + y * w + x] += weights[i] / total * context[best[i].1].1[l * cells + best[i].2]
                    }
                }
            }
        }
        return output
    }
}
