import XCTest
@testable import Segmentation

/// `FeatureMap.joined`, the descriptor of flow-guided propagation's `both` appearance (the model's features and
/// colour patches): each source weighs the same, whatever its channel count or scale, and the affinity that
/// results asks a match to hold on both.
final class JoinedAffinityTests: XCTestCase {
    /// A map whose values are a fixed pseudo-random pattern, scaled.
    func map(channels: Int, height: Int, width: Int, seed: Int, scale: Float) -> FeatureMap {
        let values = (0..<(channels * height * width)).map { i -> Float in
            scale * (Float((i * 7919 + seed * 104_729) % 1009) / 504.5 - 1)
        }
        return FeatureMap(channels: channels, height: height, width: width, values: values)
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Float {
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let norms = (a.reduce(0) { $0 + $1 * $1 } * b.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return dot / norms
    }

    /// Cell `cell`'s vector of `map` (channel-major storage).
    func vector(_ map: FeatureMap, cell: Int, channels range: Range<Int>? = nil) -> [Float] {
        (range ?? 0..<map.channels).map { map.values[$0 * map.height * map.width + cell] }
    }

    func test_joined_cosine_is_the_mean_of_the_sources_cosines_whatever_their_channels_and_scale() {
        // 32 channels of scale 40 (a network's activations) and 12 of scale 1 (colour in -1...1).
        let features = map(channels: 32, height: 3, width: 4, seed: 1, scale: 40)
        let colour = map(channels: 12, height: 3, width: 4, seed: 2, scale: 1)
        let joined = FeatureMap.joined([features, colour])
        XCTAssertEqual([joined.channels, joined.height, joined.width], [44, 3, 4])
        for cell in 0..<12 {
            // Each part has length 1/sqrt(2), so the joined vector has unit length.
            let first = vector(joined, cell: cell, channels: 0..<32), second = vector(joined, cell: cell, channels: 32..<44)
            XCTAssertEqual(first.reduce(0) { $0 + $1 * $1 }, 0.5, accuracy: 1e-5)
            XCTAssertEqual(second.reduce(0) { $0 + $1 * $1 }, 0.5, accuracy: 1e-5)
            // The parts keep their direction.
            XCTAssertEqual(cosine(first, vector(features, cell: cell)), 1, accuracy: 1e-5)
            XCTAssertEqual(cosine(second, vector(colour, cell: cell)), 1, accuracy: 1e-5)
        }
        let unit = joined.unitVectorsPerCell()
        for (a, b) in [(0, 1), (2, 7), (5, 11), (3, 3)] {
            let joinedCosine = (0..<44).reduce(Float(0)) { $0 + unit[a * 44 + $1] * unit[b * 44 + $1] }
            let mean = (cosine(vector(features, cell: a), vector(features, cell: b))
                        + cosine(vector(colour, cell: a), vector(colour, cell: b))) / 2
            XCTAssertEqual(joinedCosine, mean, accuracy: 1e-5, "cells \(a), \(b)")
        }
    }

    func test_a_zero_cell_stays_zero_and_one_map_is_returned_as_it_is() {
        var colour = map(channels: 12, height: 1, width: 2, seed: 3, scale: 1)
        for c in 0..<12 { colour.values[c * 2] = 0 }  // cell 0: exactly mid-grey
        let features = map(channels: 4, height: 1, width: 2, seed: 4, scale: 2)
        let joined = FeatureMap.joined([features, colour])
        XCTAssertEqual(vector(joined, cell: 0, channels: 4..<16), [Float](repeating: 0, count: 12))
        XCTAssertFalse(joined.values.contains { $0.isNaN })
        XCTAssertEqual(FeatureMap.joined([features]).values, features.values)
    }

    /// A target cell whose best match by the features alone is background cell P, by colour alone background
    /// cell Q, and by both the object cell R (0.8 on each, against 1 and 0): each cue alone is fooled, the two
    /// together are not: the joint affinity is the geometric mean of the two, so a cell must match on both.
    func test_the_joint_affinity_picks_the_cell_that_matches_on_both_cues() throws {
        // One row of 3 cells (P, R, Q) at stride 8; the object is the middle cell.
        func cells(_ vectors: [[Float]]) -> FeatureMap {
            let channels = vectors[0].count
            var values = [Float](repeating: 0, count: channels * vectors.count)
            for (cell, v) in vectors.enumerated() { for c in 0..<channels { values[c * vectors.count + cell] = v[c] } }
            return FeatureMap(channels: channels, height: 1, width: vectors.count, values: values)
        }
        let firstFeatures = cells([[1, 0], [0.8, 0.6], [0, 1]])   // P matches T's features, Q does not
        let firstColour = cells([[0, 1], [0.8, 0.6], [1, 0]])     // Q matches T's colour, P does not
        // The target frame: every cell is T (features (1, 0), colour (1, 0)).
        let targetFeatures = cells([[1, 0], [1, 0], [1, 0]]), targetColour = cells([[1, 0], [1, 0], [1, 0]])
        var mask = [UInt8](repeating: 0, count: 24 * 8)
        for y in 0..<8 { for x in 8..<16 { mask[y * 24 + x] = 1 } }
        let configuration = LabelPropagation.Configuration(stride: 8, topK: 1)

        func objectShare(first: FeatureMap, target: FeatureMap) throws -> Float {
            let propagation = try LabelPropagation(firstFeatures: first, firstMask: mask, frameWidth: 24,
                                                   frameHeight: 8, configuration: configuration)
            let labels = propagation.propagateLabels(try propagation.unitTarget(target))
            return labels[3 + 1]  // label 1 (the object), target cell 1
        }
        XCTAssertEqual(try objectShare(first: firstFeatures, target: targetFeatures), 0, "features alone: P")
        XCTAssertEqual(try objectShare(first: firstColour, target: targetColour), 0, "colour alone: Q")
        XCTAssertEqual(try objectShare(first: FeatureMap.joined([firstFeatures, firstColour]),
                                       target: FeatureMap.joined([targetFeatures, targetColour])), 1, "both: R")
    }
}
