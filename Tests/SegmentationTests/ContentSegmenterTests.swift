import FlowIO
import NN
import XCTest
@testable import Segmentation

final class ContentSegmenterTests: XCTestCase {
    let width = 12, height = 9, channels = 6

    /// Features whose cell (x, y) points along basis direction `region(x, y)`, plus deterministic noise.
    func features(noiseSeed: UInt64, region: (Int, Int) -> Int) -> FeatureMap {
        var random = SplitMix64(state: noiseSeed)
        let cells = width * height
        var values = [Float](repeating: 0, count: channels * cells)
        for y in 0..<height {
            for x in 0..<width {
                for ch in 0..<channels {
                    let noise = Float(random.next() % 1000) / 1000 * 0.3
                    values[ch * cells + y * width + x] = (ch == region(x, y) ? 1 : 0) + noise
                }
            }
        }
        return FeatureMap(channels: channels, height: height, width: width, values: values)
    }

    func labelsOf(_ labels: [Int], where region: (Int, Int) -> Int, is r: Int) -> Set<Int> {
        var set = Set<Int>()
        for y in 0..<height { for x in 0..<width where region(x, y) == r { set.insert(labels[y * width + x]) } }
        return set
    }

    func test_kmeans_separates_well_separated_clusters() {
        let thirds = { (x: Int, _: Int) in x / 4 }
        let labels = ContentSegmenter(configuration: .init(segments: 3)).segment(features(noiseSeed: 1, region: thirds))
        let perRegion = (0..<3).map { labelsOf(labels, where: thirds, is: $0) }
        XCTAssertEqual(perRegion.map(\.count), [1, 1, 1], "each region is one segment")
        XCTAssertEqual(Set(perRegion.map { $0.first! }).count, 3, "three different segments")
    }

    func test_identities_follow_content_when_regions_move() {
        let segmenter = ContentSegmenter(configuration: .init(segments: 3))
        let before = { (x: Int, _: Int) in x / 4 }              // regions 0 | 1 | 2
        let after = { (x: Int, _: Int) in 2 - x / 4 }           // regions 2 | 1 | 0: the outer ones swapped places
        let first = segmenter.segment(features(noiseSeed: 1, region: before))
        let second = segmenter.segment(features(noiseSeed: 2, region: after))
        for r in 0..<3 {
            XCTAssertEqual(labelsOf(first, where: before, is: r), labelsOf(second, where: after, is: r),
                           "content \(r) keeps its identity")
        }
    }

    func test_same_seed_gives_the_same_segments() {
        let stripes = { (x: Int, y: Int) in (x + y) % 4 }
        let a = ContentSegmenter(configuration: .init(segments: 4, seed: 7)).segment(features(noiseSeed: 3, region: stripes))
        let b = ContentSegmenter(configuration: .init(segments: 4, seed: 7)).segment(features(noiseSeed: 3, region: stripes))
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a).count, 4)
    }

    func test_greedy_matching_takes_the_best_pairs_first() {
        // Rows: new segments; columns: previous identities. Best pair (1 -> 0) first, then (2 -> 2), then 0 -> 1.
        let score: [Float] = [0.8, 0.7, 0.1,
                              0.9, 0.2, 0.0,
                              0.5, 0.3, 0.6]
        XCTAssertEqual(ContentSegmenter.greedyMatching(score, count: 3), [1, 0, 2])
    }

    func test_warped_overlap_uses_the_backward_flow() {
        // Previous frame: left half 0, right half 1 (4x2 cells). Current labels are the same, but the content
        // moved one cell right, so with the flow, cell x maps to x - 1 in the previous frame.
        let segmenter = ContentSegmenter(configuration: .init(segments: 2))
        segmenter.previousLabels = [0, 0, 1, 1, 0, 0, 1, 1]
        segmenter.previousGrid = (4, 2, 3)
        let flow = FlowField(width: 8, height: 4, u: [Float](repeating: -2, count: 32), v: [Float](repeating: 0, count: 32))
        let overlap = segmenter.warpedOverlap(labels: [0, 0, 0, 1, 0, 0, 0, 1], width: 4, height: 2, k: 2, flow: flow)
        // New segment 0 (cells x = 0, 1, 2): x = 0 leaves the picture, x = 1 -> 0 (label 0), x = 2 -> 1 (label 0).
        // New segment 1 (x = 3) -> x = 2 (label 1).
        XCTAssertEqual(overlap, [1, 0, 0, 1])
    }

    func test_frame_mask_upsamples_cells_as_ids_from_one() {
        let mask = ContentSegmenter.frameMask([0, 1, 2, 3], gridWidth: 2, gridHeight: 2, stride: 2, frameWidth: 3,
                                              frameHeight: 3)
        XCTAssertEqual(mask, [1, 1, 2,
                              1, 1, 2,
                              3, 3, 4])
    }
}
