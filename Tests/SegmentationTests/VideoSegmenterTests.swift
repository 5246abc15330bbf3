import FlowIO
import NN
import XCTest
@testable import Segmentation

final class VideoSegmenterTests: XCTestCase {
    let scene = SquareScene()

    /// The scene with a fixed pseudo-random noise of +-`amplitude` grey levels per pixel (sensor noise).
    func noisy(_ rgb: [UInt8], seed: UInt64, amplitude: Int) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return rgb.map { value -> UInt8 in
            let offset = random.below(2 * amplitude + 1) - amplitude
            return UInt8(max(0, min(255, Int(value) + offset)))
        }
    }

    /// Share of pixels per frame whose segment changes over `frames` noisy renderings (+-`amplitude` grey levels) of
    /// the square standing still, every frame after the first given the flows `flows`.
    func changedShare(frames: Int, amplitude: Int, flows: (backward: FlowField, forward: FlowField)) -> Double {
        let square = LabelPropagationTests.Square(id: 1, colour: (220, 30, 30), x: 30, y: 20, dx: 0, dy: 0, size: 30)
        let (w, h) = (scene.width, scene.height)
        let clean = scene.render(square, t: 0).rgb
        let segmenter = VideoSegmenter(configuration: .init(segments: 3))
        var previous: [UInt8]?
        var changed = 0
        for t in 0..<frames {
            let rgb = noisy(clean, seed: UInt64(t), amplitude: amplitude)
            let features = ColourPatchFeatures.features(rgb: rgb, width: w, height: h, stride: 8)
            let ids = segmenter.segment(features, stride: 8, rgb: rgb, width: w, height: h,
                                        backward: t == 0 ? nil : flows.backward, forward: t == 0 ? nil : flows.forward)
            XCTAssertTrue(ids.allSatisfy { (1...3).contains($0) }, "ids are 1...K")
            if let previous { changed += zip(ids, previous).filter { $0 != $1 }.count }
            previous = ids
        }
        return Double(changed) / Double((frames - 1) * w * h)
    }

    func test_a_still_noisy_scene_changes_almost_no_pixel() {
        let still = FlowField.zero(width: scene.width, height: scene.height)
        XCTAssertLessThan(changedShare(frames: 5, amplitude: 12, flows: (still, still)), 0.005, "under 0.5% of pixels per frame")
    }

    /// The built-in network's flow on a still, flat scene wanders by a few pixels; nothing in the frames supports
    /// that motion, so segments must not follow it. Here the flow is a consistent 3 px drift to the right on
    /// a still noisy scene: without the photometric test it carried every segment sideways on every frame.
    func test_a_still_scene_under_a_flow_that_wanders_stays_still() {
        let (w, h) = (scene.width, scene.height)
        let drift = (backward: FlowField(width: w, height: h, u: [Float](repeating: -3, count: w * h), v: [Float](repeating: 0, count: w * h)),
                     forward: FlowField(width: w, height: h, u: [Float](repeating: 3, count: w * h), v: [Float](repeating: 0, count: w * h)))
        XCTAssertLessThan(changedShare(frames: 6, amplitude: 8, flows: drift), 0.005, "under 0.5% of pixels per frame")
    }

    func test_motion_is_followed_where_the_frames_support_it_and_not_elsewhere() {
        // The striped background stands still, the square moves 4 px right; the flow says so inside the square
        // and adds a 3 px drift that nothing supports on the background.
        let square = LabelPropagationTests.Square(id: 1, colour: (220, 30, 30), x: 30, y: 20, dx: 4, dy: 0, size: 30)
        let (w, h) = (scene.width, scene.height)
        let before = scene.render(square, t: 0), after = scene.render(square, t: 1)
        var (backward, forward) = scene.flows(dx: 4, dy: 0, inside: after.mask, id: 1)
        for i in 0..<(w * h) where after.mask[i] == 0 { backward.u[i] = -3 }
        for i in 0..<(w * h) where before.mask[i] == 0 { forward.u[i] = 3 }
        func explained(_ backward: FlowField, _ forward: FlowField) -> ExplainedMotion {
            ExplainedMotion(backward: backward, forward: forward, luma: VideoSegmenter.luma(after.rgb),
                            previousLuma: VideoSegmenter.luma(before.rgb), width: w, height: h, configuration: .init())
        }
        let motion = explained(backward, forward)
        // Near the square's leading edge (x 34...63 now, 30...59 before), where being still would not explain
        // the frame: the square's motion. Inside the uniform square no motion explains it as well (the aperture
        // problem), and the simpler explanation stands. On the background, away from the square: no motion.
        XCTAssertEqual(motion.field.u[40 * w + 61], -4)
        XCTAssertTrue(motion.carries[40 * w + 61])
        XCTAssertEqual(motion.field.u[40 * w + 45], 0)
        XCTAssertTrue(motion.carries[40 * w + 45])
        XCTAssertEqual(motion.field.u[80 * w + 100], 0)
        XCTAssertTrue(motion.carries[80 * w + 100])
        // A flow pointing the wrong way at the leading edge: neither it nor standing still explains the frame
        // there, so nothing is carried.
        for i in 0..<(w * h) where after.mask[i] == 1 { backward.u[i] = 4 }
        XCTAssertFalse(explained(backward, forward).carries[40 * w + 61])
    }

    func test_a_moving_square_keeps_its_segment_number() {
        let scene = SquareScene(striped: false)
        let square = LabelPropagationTests.Square(id: 1, colour: (220, 30, 30), x: 10, y: 20, dx: 6, dy: 1, size: 30)
        let (w, h) = (scene.width, scene.height)
        let segmenter = VideoSegmenter(configuration: .init(segments: 2))
        var squareSegment: UInt8?
        for t in 0..<5 {
            let frame = scene.render(square, t: t)
            let motion = scene.flows(dx: square.dx, dy: square.dy, inside: frame.mask, id: 1)
            let ids = segmenter.segment(ColourPatchFeatures.features(rgb: frame.rgb, width: w, height: h, stride: 8),
                                        stride: 8, rgb: frame.rgb, width: w, height: h,
                                        backward: t == 0 ? nil : motion.backward, forward: t == 0 ? nil : motion.forward)
            // The square's majority segment, and how much of the square it covers.
            var counts = [Int](repeating: 0, count: 256)
            for i in 0..<(w * h) where frame.mask[i] == 1 { counts[Int(ids[i])] += 1 }
            let majority = UInt8(counts.indices.max { counts[$0] < counts[$1] }!)
            let area = frame.mask.filter { $0 == 1 }.count
            XCTAssertGreaterThan(Double(counts[Int(majority)]) / Double(area), 0.95, "frame \(t): the square is one segment")
            let outside = (0..<(w * h)).filter { frame.mask[$0] == 0 && ids[$0] == majority }.count
            XCTAssertLessThan(Double(outside) / Double(area), 0.05, "frame \(t): the segment stays on the square")
            if let squareSegment { XCTAssertEqual(majority, squareSegment, "frame \(t): same segment number") }
            squareSegment = majority
        }
    }
}

final class MaskLegendTests: XCTestCase {
    func test_the_legend_shows_each_colour_and_leaves_the_rest_of_the_frame() {
        let (w, h) = (200, 120)
        var rgb = [UInt8](repeating: 255, count: w * h * 3)
        MaskOverlay.drawLegend(rgb: &rgb, width: w, height: h, ids: [1, 2, 12])
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(rgb[((y * w + x) * 3)..<((y * w + x) * 3 + 3)]) }
        // scale 2: rows of 14 px, swatches 10 px at x 2..<12, first row at y 2.
        XCTAssertEqual(pixel(5, 5), Array(DAVISPalette.rgb[3..<6]), "swatch of id 1")
        XCTAssertEqual(pixel(5, 19), Array(DAVISPalette.rgb[6..<9]), "swatch of id 2")
        XCTAssertEqual(pixel(5, 33), Array(DAVISPalette.rgb[36..<39]), "swatch of id 12")
        XCTAssertEqual(pixel(150, 100), [255, 255, 255], "outside the legend")
        // The digit '1' of row 1: its middle column is lit, the band around it is darkened.
        XCTAssertEqual(pixel(14 + 2, 2 + 4), [255, 255, 255])
        XCTAssertEqual(pixel(14, 2 + 4), [102, 102, 102])
        // The band is as wide as two digits (the longest number, 12): 2 + 10 + 2 + 2 x 8 = 30 pixels.
        XCTAssertEqual(pixel(29, 5), [102, 102, 102])
        XCTAssertEqual(pixel(30, 5), [255, 255, 255])
    }

    func test_a_legend_of_one_digit_numbers_is_one_digit_wide() {
        let (w, h) = (200, 120)
        var rgb = [UInt8](repeating: 255, count: w * h * 3)
        MaskOverlay.drawLegend(rgb: &rgb, width: w, height: h, ids: [1, 2, 3, 4, 5])
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(rgb[((y * w + x) * 3)..<((y * w + x) * 3 + 3)]) }
        XCTAssertEqual(pixel(21, 5), [102, 102, 102], "inside the band: 2 + 10 + 2 + 8 = 22 pixels")
        XCTAssertEqual(pixel(22, 5), [255, 255, 255], "right of the band")
    }
}
