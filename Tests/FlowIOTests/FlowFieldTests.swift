import XCTest
@testable import FlowIO

final class FlowFieldTests: XCTestCase {
    func test_max_magnitude_ignores_unknown_pixels() {
        let flow = FlowField(width: 3, height: 1, u: [3, 100, 0], v: [4, 0, -2], valid: [true, false, true])
        XCTAssertEqual(flow.maxMagnitude, 5)
        XCTAssertEqual(flow.magnitudes(), [5, 0, 2])
        XCTAssertEqual(flow.validCount, 2)
    }

    func test_resizing_scales_displacements_by_the_size_ratio() {
        let flow = FlowField(width: 2, height: 2, u: [1, 1, 1, 1], v: [2, 2, 2, 2])
        let big = flow.resized(width: 4, height: 6)
        XCTAssertEqual(big.width, 4)
        XCTAssertEqual(big.height, 6)
        XCTAssertTrue(big.u.allSatisfy { $0 == 2 })
        XCTAssertTrue(big.v.allSatisfy { $0 == 6 })
    }

    func test_resizing_interpolates_at_pixel_centres() {
        // Output pixel 1 of 4 maps to source x = (1 + 0.5) / 2 - 0.5 = 0.25: 0.75 * 0 + 0.25 * 8 = 2, times 2.
        let flow = FlowField(width: 2, height: 1, u: [0, 8], v: [0, 0])
        XCTAssertEqual(flow.resized(width: 4, height: 1).u, [0, 4, 12, 16])
    }

    func test_resizing_uses_only_known_neighbours() {
        let flow = FlowField(width: 2, height: 1, u: [4, 100], v: [0, 0], valid: [true, false])
        let half = flow.resized(width: 4, height: 1)
        XCTAssertEqual(half.valid, [true, true, true, false])
        XCTAssertEqual(half.u[1], 8, "the unknown neighbour does not leak its value in")
    }

    func test_cropping_keeps_values_and_rejects_rectangles_outside() throws {
        let flow = sampleFlow()
        let crop = try flow.cropped(x: 2, y: 1, width: 3, height: 2)
        XCTAssertEqual(crop.u, [flow.u[9], flow.u[10], flow.u[11], flow.u[16], flow.u[17], flow.u[18]])
        XCTAssertEqual(crop.valid, [true, true, true, true, false, true])
        XCTAssertThrowsError(try flow.cropped(x: 5, y: 0, width: 3, height: 1))
    }

    func test_scaling_multiplies_each_axis() {
        let flow = FlowField(width: 1, height: 1, u: [2], v: [3]).scaled(x: 0.5, y: -1)
        XCTAssertEqual(flow.u, [1])
        XCTAssertEqual(flow.v, [-3])
    }
}
