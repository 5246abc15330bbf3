import XCTest
@testable import FlowIO

/// Expected colours are worked out by hand from the wheel definition of Baker et al. / flow_viz.py:
/// hue index fk = (atan2(-v, -u) / pi + 1) / 2 * 54, linear blend of wheel[k0] and wheel[k0 + 1],
/// then c = 1 - r * (1 - c) for r <= 1 or c * 0.75 beyond, and floor(255 * c).
final class FlowColorTests: XCTestCase {
    func rgb(_ u: Float, _ v: Float) -> [UInt8] {
        let c = FlowColor.color(u: u, v: v)
        return [c.0, c.1, c.2]
    }

    func test_wheel_has_the_55_standard_colours() {
        let wheel = FlowColor.wheel
        XCTAssertEqual(wheel.count, 55)
        func at(_ i: Int) -> [Double] { [wheel[i].0, wheel[i].1, wheel[i].2] }
        XCTAssertEqual(at(0), [255, 0, 0])        // red
        XCTAssertEqual(at(13), [255, 221, 0])     // RY: floor(255 * 13 / 15)
        XCTAssertEqual(at(15), [255, 255, 0])     // yellow starts YG
        XCTAssertEqual(at(21), [0, 255, 0])       // green starts GC
        XCTAssertEqual(at(25), [0, 255, 255])     // cyan starts CB
        XCTAssertEqual(at(27), [0, 209, 255])     // CB: 255 - floor(255 * 2 / 11)
        XCTAssertEqual(at(36), [0, 0, 255])       // blue starts BM
        XCTAssertEqual(at(49), [255, 0, 255])     // magenta starts MR
        XCTAssertEqual(at(54), [255, 0, 43])      // MR: 255 - floor(255 * 5 / 6)
    }

    func test_motion_to_the_right_at_the_normaliser_is_pure_red() {
        // atan2(-0, -1) = -pi -> fk = 0 -> wheel[0]; r = 1 keeps the full colour.
        XCTAssertEqual(rgb(1, 0), [255, 0, 0])
    }

    func test_motion_to_the_left_is_wheel_colour_27() {
        // atan2(-0, 1) = -0 -> fk = 27.
        XCTAssertEqual(rgb(-1, 0), [0, 209, 255])
    }

    func test_downward_motion_blends_wheel_colours_13_and_14() {
        // atan2(-1, 0) = -pi/2 -> fk = 13.5: G = (221 + 238) / 2 = 229.5 -> 229.
        XCTAssertEqual(rgb(0, 1), [255, 229, 0])
    }

    func test_upward_motion_blends_wheel_colours_40_and_41() {
        // atan2(1, -0) = pi/2 -> fk = 40.5: R = (78 + 98) / 2 = 88.
        XCTAssertEqual(rgb(0, -1), [88, 0, 255])
    }

    func test_half_magnitude_is_half_saturated_and_out_of_range_is_dimmed() {
        XCTAssertEqual(rgb(0.5, 0), [255, 127, 127])   // 1 - 0.5 * (1 - 0) = 0.5 -> 127
        XCTAssertEqual(rgb(0.42, 0), [255, 147, 147])  // v = 0: Float atan2 must not fall off the wheel
        XCTAssertEqual(rgb(2, 0), [191, 0, 0])         // 0.75 * 255 = 191.25
        XCTAssertEqual(rgb(0, 0), [255, 255, 255])     // no motion is white
    }

    func test_diagonal_out_of_range_motion() {
        // (1, 1): r = 1.414 > 1; atan2(-1, -1) = -3pi/4 -> fk = 6.75 between wheel[6] = (255, 102, 0) and
        // wheel[7] = (255, 119, 0): G = 0.75 * (0.25 * 102 + 0.75 * 119) = 86.06 -> 86.
        XCTAssertEqual(rgb(1, 1), [191, 86, 0])
    }

    func test_unknown_and_non_finite_flow_is_black() {
        let flow = FlowField(width: 3, height: 1, u: [1, 5, .nan], v: [0, 0, 0], valid: [true, false, true])
        let picture = FlowColor.render(flow, maxFlow: 1)
        XCTAssertEqual(picture.rgb, [255, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    func test_render_divides_by_max_flow() {
        let flow = FlowField(width: 2, height: 1, u: [4, 8], v: [0, 0])
        XCTAssertEqual(FlowColor.render(flow, maxFlow: 8).rgb, [255, 127, 127, 255, 0, 0])
        // Self-normalised: the largest motion (8, +1e-5) sits just inside the rim.
        XCTAssertEqual(Array(FlowColor.render(flow).rgb[3..<6]), [255, 0, 0])
    }

    func test_running_normaliser_never_decreases() {
        var normalizer = RunningMaxNormalizer(floor: 1)
        var seen = [Float]()
        for maxMotion: Float in [0.5, 2, 5, 1, 3, 0, 7] {
            seen.append(normalizer.observe(FlowField(width: 1, height: 1, u: [maxMotion], v: [0])))
        }
        XCTAssertEqual(seen, [1, 2, 5, 5, 5, 5, 7])
        XCTAssertEqual(seen, seen.sorted())
    }

    func test_running_normaliser_keeps_colours_stable_after_a_busy_frame() {
        var normalizer = RunningMaxNormalizer()
        let busy = FlowField(width: 1, height: 1, u: [10], v: [0])
        let quiet = FlowField(width: 1, height: 1, u: [5], v: [0])
        _ = FlowColor.render(busy, normalizer: &normalizer)
        // Per-frame normalisation would paint the quiet frame fully red; the shared one keeps it half-saturated.
        XCTAssertEqual(FlowColor.render(quiet, normalizer: &normalizer).rgb, [255, 127, 127])
    }

    func test_running_normaliser_ignores_unknown_pixels() {
        var normalizer = RunningMaxNormalizer()
        let flow = FlowField(width: 2, height: 1, u: [3, 1e6], v: [0, 0], valid: [true, false])
        XCTAssertEqual(normalizer.observe(flow), 3)
    }
}
