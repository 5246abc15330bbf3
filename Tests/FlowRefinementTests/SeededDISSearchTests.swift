import FlowIO
import XCTest
@testable import FlowRefinement

/// OpenCV's DIS behind the C interface: the flow comes back in the right order and units, the initial flow is
/// used, and what cannot be searched is returned as it came.
final class SeededDISSearchTests: XCTestCase {
    /// A textured luma image (smoothed pseudo-random noise, no repeating pattern) and the same scene moved by
    /// (dx, dy) whole pixels: `second(x + dx, y + dy) = first(x, y)`, so the true flow is (dx, dy) everywhere.
    static func shiftedPair(width: Int, height: Int, dx: Int, dy: Int) -> (GrayImage, GrayImage) {
        let margin = 64, (bw, bh) = (width + 2 * margin, height + 2 * margin)
        var state: UInt32 = 12345
        var noise = [Float](repeating: 0, count: bw * bh)
        for i in noise.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            noise[i] = Float(state >> 8) / Float(1 << 24)
        }
        // A 5x5 box blur gives blobs a few pixels wide, which patch matching can lock onto.
        var blurred = [Float](repeating: 0, count: bw * bh)
        for y in 2..<(bh - 2) {
            for x in 2..<(bw - 2) {
                var sum: Float = 0
                for j in -2...2 { for i in -2...2 { sum += noise[(y + j) * bw + x + i] } }
                blurred[y * bw + x] = 255 * sum / 25
            }
        }
        func crop(_ ox: Int, _ oy: Int) -> GrayImage {
            var pixels = [Float](repeating: 0, count: width * height)
            for y in 0..<height { for x in 0..<width { pixels[y * width + x] = blurred[(y + margin + oy) * bw + x + margin + ox] } }
            return GrayImage(width: width, height: height, pixels: pixels)
        }
        return (crop(0, 0), crop(-dx, -dy))
    }

    /// Mean end-point error against a constant flow (dx, dy), over the pixels away from the border by `inset`.
    static func error(_ flow: FlowField, _ dx: Float, _ dy: Float, inset: Int = 16) -> Float {
        var sum: Float = 0, count: Float = 0
        for y in inset..<(flow.height - inset) {
            for x in inset..<(flow.width - inset) {
                let i = y * flow.width + x
                sum += ((flow.u[i] - dx) * (flow.u[i] - dx) + (flow.v[i] - dy) * (flow.v[i] - dy)).squareRoot()
                count += 1
            }
        }
        return sum / count
    }

    func test_search_from_zero_finds_a_small_shift_with_u_horizontal_and_v_vertical() {
        let (first, second) = Self.shiftedPair(width: 160, height: 120, dx: 3, dy: -2)
        let flow = SeededDISSearch().search(from: first, to: second)
        XCTAssertLessThan(Self.error(flow, 3, -2), 0.25)
        XCTAssertGreaterThan(Self.error(flow, -2, 3), 3, "u and v swapped")
    }

    func test_refining_a_seed_near_a_large_motion_recovers_it_precisely() {
        // 45 px is beyond what DIS finds from zero at this size; a seed 2-3 px off is refined to sub-pixel error.
        let (first, second) = Self.shiftedPair(width: 192, height: 144, dx: 45, dy: 9)
        let search = SeededDISSearch()
        let fromZero = search.search(from: first, to: second)
        var seed = FlowField.zero(width: 192, height: 144)
        for i in 0..<seed.pixelCount { seed.u[i] = 43; seed.v[i] = 11 }
        let refined = search.refine(seed, from: first, to: second)
        XCTAssertLessThan(Self.error(refined, 45, 9), 0.3)
        XCTAssertGreaterThan(Self.error(fromZero, 45, 9), 5, "the seed would make no difference on this pair")
    }

    func test_refining_keeps_the_seed_validity_and_returns_tiny_frames_unchanged() {
        let (first, second) = Self.shiftedPair(width: 64, height: 48, dx: 1, dy: 1)
        var seed = FlowField.zero(width: 64, height: 48)
        seed.valid[5] = false
        XCTAssertEqual(SeededDISSearch().refine(seed, from: first, to: second).valid, seed.valid)

        let (tiny1, tiny2) = Self.shiftedPair(width: 24, height: 40, dx: 1, dy: 0)
        var tinySeed = FlowField.zero(width: 24, height: 40)
        tinySeed.u[7] = 5
        XCTAssertEqual(SeededDISSearch().refine(tinySeed, from: tiny1, to: tiny2), tinySeed)
    }

    func test_the_standard_refinement_is_the_seeded_search_at_full_resolution() {
        let refiner = RefinementMethod.standard.refiner(threads: 1)
        XCTAssertEqual(refiner as? SeededDISSearch, SeededDISSearch(preset: .medium, finestScale: 0))
        XCTAssertEqual(RefinementMethod.fastSearch.refiner(threads: 1) as? SeededDISSearch,
                       SeededDISSearch(preset: .medium, finestScale: 1))
        XCTAssertTrue(RefinementMethod.variational.refiner(threads: 1) is CoarseToFineRefinement)
    }
}
