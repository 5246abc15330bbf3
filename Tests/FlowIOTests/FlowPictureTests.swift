import XCTest
@testable import FlowIO

final class FlowPictureTests: XCTestCase {
    func test_overlay_blends_frame_and_picture_by_alpha() {
        let frame = FlowRGBImage(width: 2, height: 1, rgb: [0, 100, 200, 10, 20, 30])
        let picture = FlowRGBImage(width: 2, height: 1, rgb: [200, 100, 0, 30, 20, 11])
        XCTAssertEqual(FlowOverlay.blend(frame: frame, picture: picture, alpha: 0), frame)
        XCTAssertEqual(FlowOverlay.blend(frame: frame, picture: picture, alpha: 1), picture)
        XCTAssertEqual(FlowOverlay.blend(frame: frame, picture: picture, alpha: 0.5).rgb, [100, 100, 100, 20, 20, 21])
    }

    func test_overlay_leaves_unknown_flow_pixels_as_the_frame() {
        let frame = FlowRGBImage(width: 2, height: 1, rgb: [100, 100, 100, 100, 100, 100])
        let flow = FlowField(width: 2, height: 1, u: [1, 0], v: [0, 0], valid: [true, false])
        let picture = FlowColor.render(flow, maxFlow: 1)
        let out = FlowOverlay.blend(frame: frame, picture: picture, alpha: 0.5, known: flow.valid)
        XCTAssertEqual(out.rgb, [178, 50, 50, 100, 100, 100])
    }

    func test_overlay_resizes_the_picture_to_the_frame() {
        let frame = FlowRGBImage(width: 4, height: 2)
        let picture = FlowRGBImage(width: 2, height: 1, rgb: [200, 0, 0, 0, 200, 0])
        let out = FlowOverlay.blend(frame: frame, picture: picture, alpha: 1)
        XCTAssertEqual(out.width, 4)
        XCTAssertEqual(out.pixel(x: 1, y: 1).0, 200)
        XCTAssertEqual(out.pixel(x: 2, y: 0).1, 200)
    }

    func test_side_by_side_places_frame_left_and_picture_right() {
        let left = FlowRGBImage(width: 2, height: 2, fill: (1, 2, 3))
        let right = FlowRGBImage(width: 1, height: 1, fill: (9, 9, 9))
        let out = SideBySide.compose(left, right)
        XCTAssertEqual(out.width, 3)
        XCTAssertEqual(out.height, 2)
        XCTAssertTrue(out.pixel(x: 1, y: 1) == (1, 2, 3))
        XCTAssertTrue(out.pixel(x: 2, y: 0) == (9, 9, 9))
        XCTAssertTrue(out.pixel(x: 2, y: 1) == (0, 0, 0), "the shorter picture is padded with black")
    }

    func test_arrows_start_at_grid_points_and_end_where_they_move() {
        var frame = FlowRGBImage(width: 32, height: 32)
        let flow = FlowField(width: 32, height: 32, u: [Float](repeating: 6, count: 1024), v: [Float](repeating: 0, count: 1024))
        FlowArrows.draw(on: &frame, flow: flow, spacing: 16, color: (255, 255, 255))
        // Grid points at 8 and 24; each shaft runs from x to x + 6 on its row.
        for (x0, y) in [(8, 8), (24, 8), (8, 24), (24, 24)] {
            for x in x0...(x0 + 6) { XCTAssertTrue(frame.pixel(x: x, y: y) == (255, 255, 255), "shaft at \(x),\(y)") }
            XCTAssertTrue(frame.pixel(x: x0 - 1, y: y) == (0, 0, 0), "nothing behind the start at \(x0 - 1),\(y)")
            XCTAssertTrue(frame.pixel(x: x0 + 7, y: y) == (0, 0, 0), "nothing beyond the tip at \(x0 + 7),\(y)")
            // Head strokes go back from the tip, above and below the shaft.
            XCTAssertTrue(frame.pixel(x: x0 + 5, y: y - 1) == (255, 255, 255) || frame.pixel(x: x0 + 4, y: y - 1) == (255, 255, 255))
            XCTAssertTrue(frame.pixel(x: x0 + 5, y: y + 1) == (255, 255, 255) || frame.pixel(x: x0 + 4, y: y + 1) == (255, 255, 255))
        }
        XCTAssertTrue(frame.pixel(x: 0, y: 0) == (0, 0, 0))
        XCTAssertTrue(frame.pixel(x: 16, y: 16) == (0, 0, 0))
    }

    func test_arrows_skip_unknown_flow_and_clip_at_the_border() {
        var frame = FlowRGBImage(width: 16, height: 16)
        let flow = FlowField(width: 16, height: 16, u: [Float](repeating: 1e6, count: 256), v: [Float](repeating: -1e6, count: 256))
        FlowArrows.draw(on: &frame, flow: flow, spacing: 16, color: (255, 0, 0))
        XCTAssertTrue(frame.pixel(x: 8, y: 8) == (255, 0, 0), "a huge vector is drawn and clipped")
        var blank = FlowRGBImage(width: 16, height: 16)
        let unknown = FlowField(width: 16, height: 16, u: [Float](repeating: 5, count: 256), v: [Float](repeating: 0, count: 256),
                                valid: [Bool](repeating: false, count: 256))
        FlowArrows.draw(on: &blank, flow: unknown, spacing: 4)
        XCTAssertEqual(blank, FlowRGBImage(width: 16, height: 16))
    }

    func test_legend_is_a_colour_wheel_disc_in_the_corner() {
        var image = FlowRGBImage(width: 100, height: 80, fill: (7, 7, 7))
        ColorWheelLegend.draw(on: &image, corner: .topRight, diameter: 40, margin: 5)
        // The disc spans x 55..<95, y 5..<45; centre ~white, right edge red (motion to the right), left edge
        // the colour of motion to the left (wheel[27] = cyan-blue).
        let centre = image.pixel(x: 75, y: 25)
        XCTAssertGreaterThan(Int(centre.0) + Int(centre.1) + Int(centre.2), 3 * 240)
        let right = image.pixel(x: 94, y: 25)
        XCTAssertTrue(right.0 > 240 && right.1 < 40 && right.2 < 40, "right edge \(right)")
        let left = image.pixel(x: 55, y: 25)
        XCTAssertTrue(left.0 < 40 && left.1 > 180 && left.2 > 240, "left edge \(left)")
        XCTAssertTrue(image.pixel(x: 55, y: 5) == (7, 7, 7), "the disc's bounding-box corner is untouched")
        XCTAssertTrue(image.pixel(x: 20, y: 60) == (7, 7, 7), "the rest of the picture is untouched")
    }

    func test_legend_bottom_left_corner_placement() {
        var image = FlowRGBImage(width: 50, height: 50)
        ColorWheelLegend.draw(on: &image, corner: .bottomLeft, diameter: 20, margin: 2)
        XCTAssertTrue(image.pixel(x: 12, y: 37) != (0, 0, 0), "centre of a disc at x 2..<22, y 28..<48")
        XCTAssertTrue(image.pixel(x: 40, y: 10) == (0, 0, 0))
    }
}
