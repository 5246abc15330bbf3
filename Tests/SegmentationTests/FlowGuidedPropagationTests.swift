import FlowIO
import XCTest
@testable import Segmentation

final class GuidedFilterTests: XCTestCase {
    func test_boxMean_matches_a_brute_force_clipped_window() {
        // Windows inside the image, clipped at its border, and wider than it (r = 6 on a 7 x 5 image).
        for (w, h, r) in [(7, 5, 2), (7, 5, 6), (13, 11, 1)] {
            let values = (0..<(w * h)).map { Float(($0 * 37) % 11) }
            let fast = GuidedFilter.boxMean(values, width: w, height: h, radius: r)
            for y in 0..<h {
                for x in 0..<w {
                    var sum: Float = 0, n: Float = 0
                    for yy in max(0, y - r)...min(h - 1, y + r) {
                        for xx in max(0, x - r)...min(w - 1, x + r) { sum += values[yy * w + xx]; n += 1 }
                    }
                    XCTAssertEqual(fast[y * w + x], sum / n, accuracy: 1e-5, "\(w)x\(h) r \(r): (\(x), \(y))")
                }
            }
        }
    }

    func test_boxMeans_of_several_rows_at_once_equal_one_row_at_a_time_to_the_bit() {
        // Enough rows that each thread's share holds groups of four and a remainder; radii below and above the width.
        for (w, h, planes, r) in [(37, 23, 3, 4), (9, 30, 2, 12), (50, 19, 1, 0)] {
            let values = (0..<(planes * w * h)).map { Float(($0 * 7919) % 1013) / 1013 - 0.3 }
            let fast = GuidedFilter.boxMeans(values, planes: planes, width: w, height: h, radius: r)
            // The running sums written plainly: along each row, then down each column, in Double.
            var rows = [Float](repeating: 0, count: values.count), expected = rows
            for row in 0..<(planes * h) {
                var sum: Double = 0
                for x in 0..<min(r, w) { sum += Double(values[row * w + x]) }
                for x in 0..<w {
                    if x + r < w { sum += Double(values[row * w + x + r]) }
                    if x - r - 1 >= 0 { sum -= Double(values[row * w + x - r - 1]) }
                    rows[row * w + x] = Float(sum * (1 / Double(min(w, x + r + 1) - max(0, x - r))))
                }
            }
            for plane in 0..<planes {
                for x in 0..<w {
                    var sum: Double = 0
                    let at = { (y: Int) in plane * w * h + y * w + x }
                    for y in 0..<min(r, h) { sum += Double(rows[at(y)]) }
                    for y in 0..<h {
                        if y + r < h { sum += Double(rows[at(y + r)]) }
                        if y - r - 1 >= 0 { sum -= Double(rows[at(y - r - 1)]) }
                        expected[at(y)] = Float(sum * (1 / Double(min(h, y + r + 1) - max(0, y - r))))
                    }
                }
            }
            XCTAssertEqual(fast, expected, "\(w)x\(h) x \(planes) r \(r)")
        }
    }

    func test_probability_maps_filtered_as_complements_match_filtering_each_map() {
        let (w, h) = (31, 17)
        let rgb = (0..<(3 * w * h)).map { (i: Int) -> UInt8 in UInt8((i * 29 + i / 7) % 256) }
        // Three labels whose maps sum to one: smooth, a step, and the rest.
        var maps = [Float](repeating: 0, count: 3 * w * h)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                maps[i] = 0.5 * Float(x) / Float(w)
                maps[w * h + i] = x > 12 && y > 5 ? 0.4 : 0.1
                maps[2 * w * h + i] = 1 - maps[i] - maps[w * h + i]
            }
        }
        var each = maps, complement = maps
        GuidedFilter.filter(&each, count: 3, rgb: rgb, width: w, height: h, radius: 4, epsilon: 1e-3)
        GuidedFilter.filterProbabilities(&complement, count: 3, rgb: rgb, width: w, height: h, radius: 4, epsilon: 1e-3)
        for i in 0..<(3 * w * h) { XCTAssertEqual(complement[i], each[i], accuracy: 1e-4, "value \(i)") }
        XCTAssertGreaterThan(zip(each, maps).map { abs($0 - $1) }.max()!, 0.01, "the filter changed the maps")
    }

    func test_a_constant_map_stays_constant() {
        let (w, h) = (20, 12)
        let rgb = (0..<(3 * w * h)).map { UInt8(($0 * 13) % 251) }
        var maps = [Float](repeating: 0.25, count: w * h)
        GuidedFilter.filter(&maps, count: 1, rgb: rgb, width: w, height: h, radius: 3, epsilon: 1e-3)
        for value in maps { XCTAssertEqual(value, 0.25, accuracy: 1e-4) }
    }

    func test_a_blurred_map_snaps_to_the_guide_edge_even_between_colours_of_equal_brightness() {
        // The guide steps from grey to a red of the same luma at x = 20; the map is a ramp 8 px wide around
        // x = 17 (a label map upsampled from coarse cells, a little off). Filtered, it must follow the step.
        let (w, h) = (40, 6)
        var rgb = [UInt8](repeating: 0, count: 3 * w * h), maps = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let colour: [UInt8] = x >= 20 ? [220, 30, 30] : [86, 86, 86]
                for c in 0..<3 { rgb[3 * (y * w + x) + c] = colour[c] }
                maps[y * w + x] = min(1, max(0, Float(x - 13) / 8))
            }
        }
        GuidedFilter.filter(&maps, count: 1, rgb: rgb, width: w, height: h, radius: 4, epsilon: 1e-3)
        let row = Array(maps[(2 * w)..<(3 * w)])
        XCTAssertLessThan(row[18], 0.5, "left of the edge")
        XCTAssertGreaterThan(row[20], 0.5, "right of the edge")
        XCTAssertGreaterThan(row[20] - row[19], 0.3, "the transition is a step at the guide's edge")
    }
}

final class FlowLabelWarpTests: XCTestCase {
    func test_sampling_along_a_motion_shifts_the_maps_and_clamps_at_the_border() {
        let (w, h) = (10, 3)
        let maps = (0..<(2 * w * h)).map { Float($0 % w) + ($0 >= w * h ? 100 : 0) }  // value = x (+100 on map 2)
        let motion = FlowField(width: w, height: h, u: [Float](repeating: -2.5, count: w * h), v: [Float](repeating: 1, count: w * h))
        let sampled = FlowLabelWarp.sample(maps, count: 2, along: motion)
        for y in 0..<h {
            for x in 0..<w {
                let expected = max(0, Float(x) - 2.5)
                XCTAssertEqual(sampled[y * w + x], expected, accuracy: 1e-5, "(\(x), \(y))")
                XCTAssertEqual(sampled[w * h + y * w + x], 100 + expected, accuracy: 1e-4, "map 2 (\(x), \(y))")
            }
        }
    }

    func uniform(_ u: Float, _ v: Float, _ w: Int, _ h: Int) -> FlowField {
        FlowField(width: w, height: h, u: [Float](repeating: u, count: w * h), v: [Float](repeating: v, count: w * h))
    }

    func test_a_uniform_motion_shifts_the_maps_and_marks_what_came_from_outside() {
        let (w, h) = (10, 4)
        let maps = (0..<(w * h)).map { Float($0 % w) }  // value = x in the previous frame
        // The scene moved 3 px right: pixel x of the current frame was at x - 3.
        let result = FlowLabelWarp.warp(maps, count: 1, backward: uniform(-3, 0, w, h), forward: uniform(3, 0, w, h))
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                XCTAssertEqual(result.valid[i], x >= 3, "(\(x), \(y))")
                if x >= 3 { XCTAssertEqual(result.maps[i], Float(x - 3), accuracy: 1e-5) }
            }
        }
    }

    func test_flows_that_disagree_fail_the_forward_backward_check() {
        let (w, h) = (10, 4)
        let maps = [Float](repeating: 1, count: w * h)
        let result = FlowLabelWarp.warp(maps, count: 1, backward: uniform(-3, 0, w, h), forward: uniform(-3, 0, w, h))
        XCTAssertFalse(result.valid.contains(true))
        XCTAssertTrue(FlowLabelWarp.consistent(forward: (10, 0), backward: (-10.5, 0.3)))
        XCTAssertFalse(FlowLabelWarp.consistent(forward: (10, 0), backward: (-7, 0)))
    }
}

/// Intersection over union of one object's pixels in two masks.
func iou(_ a: [UInt8], _ b: [UInt8], id: UInt8) -> Double {
    MaskMetrics.jaccard(a.map { $0 == id }, b.map { $0 == id })
}

/// Squares moving over diagonal stripes (or plain grey), with their true masks: the rendered video of the
/// propagation tests.
struct SquareScene {
    let width = 128, height = 96
    /// Diagonal stripes behind the square; false: a plain grey background.
    var striped = true

    /// Frame t as RGB and its true mask (each square's id inside it; later squares in front).
    func render(_ squares: [LabelPropagationTests.Square], t: Int) -> (rgb: [UInt8], mask: [UInt8]) {
        var rgb = [UInt8](repeating: 0, count: width * height * 3), mask = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                // Diagonal stripes, so the background is not uniform and positions are not trivially separable.
                let light: UInt8 = !striped ? 128 : ((x + y) / 12) % 2 == 0 ? 200 : 90
                (rgb[(y * width + x) * 3], rgb[(y * width + x) * 3 + 1], rgb[(y * width + x) * 3 + 2]) = (light, light, light / 2)
            }
        }
        for s in squares {
            let x0 = s.x + s.dx * t, y0 = s.y + s.dy * t
            for y in max(0, y0)..<min(height, y0 + s.size) {
                for x in max(0, x0)..<min(width, x0 + s.size) {
                    let p = (y * width + x) * 3
                    (rgb[p], rgb[p + 1], rgb[p + 2]) = s.colour
                    mask[y * width + x] = s.id
                }
            }
        }
        return (rgb, mask)
    }

    /// One square, or none: the background alone.
    func render(_ s: LabelPropagationTests.Square?, t: Int) -> (rgb: [UInt8], mask: [UInt8]) {
        render(s.map { [$0] } ?? [], t: t)
    }

    func flows(dx: Int, dy: Int, inside mask: [UInt8], id: UInt8) -> (backward: FlowField, forward: FlowField) {
        // The square moves, the background stands still.
        let (w, h) = (width, height)
        var bu = [Float](repeating: 0, count: w * h), bv = bu, fu = bu, fv = bu
        for i in 0..<(w * h) where mask[i] == id {
            bu[i] = Float(-dx); bv[i] = Float(-dy)
        }
        // Forward flow lives on the previous frame: where the square was.
        for y in 0..<h {
            for x in 0..<w where x - dx >= 0 && x - dx < w && y - dy >= 0 && y - dy < h && mask[y * w + x] == id {
                fu[(y - dy) * w + (x - dx)] = Float(dx); fv[(y - dy) * w + (x - dx)] = Float(dy)
            }
        }
        return (FlowField(width: w, height: h, u: bu, v: bv), FlowField(width: w, height: h, u: fu, v: fv))
    }
}

/// Flow-guided propagation on a rendered square, with the true motion as flow.
final class FlowGuidedPropagationTests: XCTestCase {
    let scene = SquareScene()

    /// DINO's norm_mask in one pass per map gives the values of the straightforward min(), max() and scaling:
    /// maps of both signs, a constant map (left alone), an all-negative one (left alone), one pixel.
    func test_min_max_normalisation_is_the_straightforward_one() {
        var rng = SystemRandomNumberGenerator()
        for (labelCount, pixels) in [(1, 1), (2, 300), (3, 257), (4, 64)] {
            var maps = (0..<(labelCount * pixels)).map { _ in Float.random(in: -0.5...2, using: &rng) }
            if labelCount > 1 { for i in 0..<pixels { maps[pixels + i] = 0.25 } }
            if labelCount > 2 { for i in 0..<pixels { maps[2 * pixels + i] = -Float.random(in: 0.1...1, using: &rng) } }
            var expected = maps
            for l in 0..<labelCount {
                let slice = expected[(l * pixels)..<((l + 1) * pixels)]
                let low = slice.min()!, high = slice.max()!
                if high > 0 && high > low {
                    for i in (l * pixels)..<((l + 1) * pixels) { expected[i] = (expected[i] - low) * (1 / (high - low)) }
                }
            }
            LabelPropagation.normalise(&maps, count: labelCount)
            XCTAssertEqual(maps, expected, "\(labelCount) labels of \(pixels) pixels")
        }
    }

    /// Making label maps probabilities again, plane by plane, gives the values of the pixel-by-pixel loop to the
    /// bit: overshoots below zero, pixels with nothing left (background), tiny totals, one to four labels.
    func test_probabilities_are_those_of_the_pixel_by_pixel_loop() {
        func pixelByPixel(_ maps: inout [Float], count labelCount: Int) {
            let pixels = maps.count / labelCount
            for i in 0..<pixels {
                var total: Float = 0
                for l in 0..<labelCount {
                    let value = max(0, maps[l * pixels + i])
                    maps[l * pixels + i] = value
                    total += value
                }
                if total > 1e-12 {
                    let scale = 1 / total
                    for l in 0..<labelCount { maps[l * pixels + i] *= scale }
                } else {
                    maps[i] = 1
                }
            }
        }
        var rng = SystemRandomNumberGenerator()
        for labelCount in 1...4 {
            let pixels = 500
            var maps = (0..<(labelCount * pixels)).map { _ in Float.random(in: -0.2...1.2, using: &rng) }
            for i in stride(from: 0, to: pixels, by: 7) { for l in 0..<labelCount { maps[l * pixels + i] = -0.1 } }
            for i in stride(from: 3, to: pixels, by: 11) { for l in 0..<labelCount { maps[l * pixels + i] = 1e-14 } }
            var expected = maps
            pixelByPixel(&expected, count: labelCount)
            FlowGuidedPropagation.normaliseProbabilities(&maps, count: labelCount)
            XCTAssertEqual(maps, expected, "\(labelCount) labels")
        }
    }

    func test_flow_guided_propagation_tracks_a_moving_square_with_sharp_edges() throws {
        let square = LabelPropagationTests.Square(id: 1, colour: (220, 30, 30), x: 9, y: 11, dx: 5, dy: 2, size: 30)
        let (w, h) = (scene.width, scene.height)
        let first = scene.render(square, t: 0)
        let propagation = try FlowGuidedPropagation(
            firstFeatures: ColourPatchFeatures.features(rgb: first.rgb, width: w, height: h, stride: 8),
            firstMask: first.mask, frameWidth: w, frameHeight: h,
            configuration: .init(affinity: .init(stride: 8, radius: 4)))
        var worst = 1.0
        for t in 1...8 {
            let frame = scene.render(square, t: t)
            let motion = scene.flows(dx: square.dx, dy: square.dy, inside: frame.mask, id: 1)
            let predicted = try propagation.propagate(
                ColourPatchFeatures.features(rgb: frame.rgb, width: w, height: h, stride: 8), rgb: frame.rgb,
                backward: motion.backward, forward: motion.forward)
            worst = min(worst, iou(predicted, frame.mask, id: 1))
        }
        // Edges at stride 8 that fall mid-cell cost feature propagation alone several pixels; the warp and the
        // guided filter keep them on the square's true edges.
        XCTAssertGreaterThan(worst, 0.95)
    }

    func test_a_still_scene_keeps_its_mask() throws {
        let square = LabelPropagationTests.Square(id: 2, colour: (30, 200, 30), x: 21, y: 13, dx: 0, dy: 0, size: 27)
        let (w, h) = (scene.width, scene.height)
        let first = scene.render(square, t: 0)
        let features = ColourPatchFeatures.features(rgb: first.rgb, width: w, height: h, stride: 8)
        let propagation = try FlowGuidedPropagation(firstFeatures: features, firstMask: first.mask, frameWidth: w,
                                                    frameHeight: h, configuration: .init(affinity: .init(stride: 8)))
        let still = FlowField.zero(width: w, height: h)
        for _ in 1...5 {
            let predicted = try propagation.propagate(features, rgb: first.rgb, backward: still, forward: still)
            XCTAssertEqual(predicted, first.mask)
        }
    }

    func test_a_frame_of_the_wrong_size_is_refused() throws {
        let (w, h) = (scene.width, scene.height)
        let first = scene.render(nil, t: 0)
        let features = ColourPatchFeatures.features(rgb: first.rgb, width: w, height: h, stride: 8)
        let propagation = try FlowGuidedPropagation(firstFeatures: features, firstMask: first.mask, frameWidth: w,
                                                    frameHeight: h)
        XCTAssertThrowsError(try propagation.propagate(features, rgb: [0, 0, 0], backward: nil, forward: nil))
    }
}
