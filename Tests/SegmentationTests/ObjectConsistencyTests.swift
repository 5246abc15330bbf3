import FlowIO
import XCTest
@testable import Segmentation

final class ConnectedComponentsTests: XCTestCase {
    /// A diagonal line of 1s is one region (8-connected) and the 0s on both sides of it are one region too; two
    /// patches of 2s that do not touch are two regions.
    func test_components_of_a_hand_made_grid_are_8_connected_regions_of_equal_values() {
        let grid: [UInt8] = [1, 1, 0, 2, 2,
                             0, 1, 0, 0, 2,
                             0, 0, 1, 0, 0,
                             2, 0, 0, 1, 1]
        var components = ConnectedComponents()
        XCTAssertEqual(components.label(grid, width: 5, height: 4), 4)
        XCTAssertEqual(components.component, [0, 0, 1, 2, 2,
                                              1, 0, 1, 1, 2,
                                              1, 1, 0, 1, 1,
                                              3, 1, 1, 0, 0])
        XCTAssertEqual(components.value, [1, 0, 2, 2])
        XCTAssertEqual(components.size, [6, 10, 3, 1])
        XCTAssertEqual(components.firstPixel, [0, 2, 3, 15])
        // The buffers are reused for the next image of the same size.
        XCTAssertEqual(components.label([UInt8](repeating: 7, count: 20), width: 5, height: 4), 1)
        XCTAssertEqual(components.component, [Int32](repeating: 0, count: 20))
        XCTAssertEqual(components.size, [20])
    }

    /// Random images against a plain fixed-point labelling: every pixel takes the smallest raster index among its
    /// 8-connected equal neighbours until nothing changes.
    func test_components_match_a_fixed_point_labelling_on_random_images() {
        var rng = SystemRandomNumberGenerator()
        var components = ConnectedComponents()
        for (w, h, values) in [(31, 17, 2), (1, 9, 2), (12, 1, 3), (23, 29, 3)] {
            let image = (0..<(w * h)).map { _ in UInt8.random(in: 0..<UInt8(values), using: &rng) }
            var root = Array(0..<(w * h))
            var changed = true
            while changed {
                changed = false
                for y in 0..<h {
                    for x in 0..<w {
                        for dy in -1...1 {
                            for dx in -1...1 where (0..<w).contains(x + dx) && (0..<h).contains(y + dy) {
                                let i = y * w + x, j = (y + dy) * w + x + dx
                                if image[i] == image[j] && root[j] < root[i] { root[i] = root[j]; changed = true }
                            }
                        }
                    }
                }
            }
            let roots = Array(Set(root)).sorted()
            let count = components.label(image, width: w, height: h)
            XCTAssertEqual(count, roots.count, "\(w)x\(h)")
            // Components are numbered by their first pixel, as the roots are ordered.
            let expected = root.map { Int32(roots.firstIndex(of: $0)!) }
            XCTAssertEqual(components.component, expected, "\(w)x\(h)")
            XCTAssertEqual(components.firstPixel, roots, "\(w)x\(h)")
        }
    }
}

final class ObjectConsistencyTests: XCTestCase {
    let (w, h) = (40, 30)

    /// Planar maps (background, object 1, object 2) that are `values` inside `rect` and background elsewhere.
    func fill(_ maps: inout [Float], _ rect: (x: Range<Int>, y: Range<Int>), _ values: [Float]) {
        for y in rect.y { for x in rect.x { for l in 0..<3 { maps[l * w * h + y * w + x] = values[l] } } }
    }

    func backgroundMaps() -> [Float] {
        var maps = [Float](repeating: 0, count: 3 * w * h)
        for i in 0..<(w * h) { maps[i] = 1 }
        return maps
    }

    func argmax(_ maps: [Float]) -> [Int] {
        (0..<(w * h)).map { i in (0..<3).max { maps[$0 * w * h + i] < maps[$1 * w * h + i] }! }
    }

    /// Object 1 moved 2 px right (its carried mask overlaps where it is now) and also appears far away, where the
    /// carried masks say background: that region goes to its next labels (object 2 on its left half, background
    /// on the right), the moved object and object 2 (supported) stay.
    func test_a_leak_far_from_the_carried_mask_is_removed_and_the_moved_object_kept() {
        var maps = backgroundMaps()
        let object = (x: 7..<17, y: 5..<15), leakLeft = (x: 28..<32, y: 18..<26), leakRight = (x: 32..<36, y: 18..<26)
        let other = (x: 25..<35, y: 1..<7)
        fill(&maps, object, [0.2, 0.8, 0])
        fill(&maps, leakLeft, [0.1, 0.6, 0.3])
        fill(&maps, leakRight, [0.4, 0.6, 0])
        fill(&maps, other, [0.1, 0, 0.9])
        var carried = backgroundMaps()
        fill(&carried, (x: 5..<15, y: 5..<15), [0.1, 0.9, 0])
        fill(&carried, other, [0, 0, 1])
        let before = argmax(maps)
        var step = ObjectConsistency()
        let changed = step.apply(to: &maps, count: 3, width: w, height: h, carried: carried,
                                 valid: [Bool](repeating: true, count: w * h))
        XCTAssertEqual(changed, 8 * 8)
        let after = argmax(maps)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                if leakLeft.x.contains(x) && leakLeft.y.contains(y) {
                    XCTAssertEqual(after[i], 2, "(\(x), \(y)): the leak's next label")
                    XCTAssertEqual(maps[w * h + i], 0)
                    XCTAssertEqual(maps[i] + maps[2 * w * h + i], 1, accuracy: 1e-6, "probabilities")
                } else if leakRight.x.contains(x) && leakRight.y.contains(y) {
                    XCTAssertEqual(after[i], 0, "(\(x), \(y)): background")
                } else {
                    XCTAssertEqual(after[i], before[i], "(\(x), \(y)) unchanged")
                }
            }
        }
    }

    /// Where the forward-backward check fails, the carried maps are no support: the same far region, now under a
    /// carried object that the flow does not vouch for, is still removed.
    func test_carried_maps_that_fail_the_forward_backward_check_are_no_support() {
        var maps = backgroundMaps()
        fill(&maps, (x: 7..<17, y: 5..<15), [0.2, 0.8, 0])
        fill(&maps, (x: 28..<36, y: 18..<26), [0.4, 0.6, 0])
        var carried = backgroundMaps()
        fill(&carried, (x: 5..<15, y: 5..<15), [0.1, 0.9, 0])
        fill(&carried, (x: 28..<36, y: 18..<26), [0, 1, 0])
        var valid = [Bool](repeating: true, count: w * h)
        for y in 18..<26 { for x in 28..<36 { valid[y * w + x] = false } }
        var trusted = maps, untrusted = maps
        var step = ObjectConsistency()
        XCTAssertEqual(step.apply(to: &trusted, count: 3, width: w, height: h, carried: carried,
                                  valid: [Bool](repeating: true, count: w * h)), 0, "supported where the check passes")
        XCTAssertEqual(step.apply(to: &untrusted, count: 3, width: w, height: h, carried: carried, valid: valid), 64)
    }

    /// An object whose carried mask is empty (hidden in the previous frame) keeps every region: appearance alone
    /// found it again. The other object's unsupported region is still removed.
    func test_an_object_reappearing_with_an_empty_carried_mask_is_kept() {
        var maps = backgroundMaps()
        fill(&maps, (x: 7..<17, y: 5..<15), [0.2, 0.8, 0])
        fill(&maps, (x: 25..<35, y: 1..<7), [0.1, 0, 0.9])
        fill(&maps, (x: 28..<36, y: 18..<26), [0.3, 0, 0.7])
        var carried = backgroundMaps()
        fill(&carried, (x: 25..<35, y: 1..<7), [0, 0, 1])
        var kept = maps
        var step = ObjectConsistency()
        let changed = step.apply(to: &kept, count: 3, width: w, height: h, carried: carried,
                                 valid: [Bool](repeating: true, count: w * h))
        XCTAssertEqual(changed, 64, "only object 2's far region")
        let after = argmax(kept)
        for y in 5..<15 { for x in 7..<17 { XCTAssertEqual(after[y * w + x], 1, "object 1 kept at (\(x), \(y))") } }
        for y in 18..<26 { for x in 28..<36 { XCTAssertEqual(after[y * w + x], 0, "(\(x), \(y))") } }
    }
}

/// The step inside flow-guided propagation: a second square of the object's colour shows up far from it, where the
/// flow fails its check (so the carried masks have no say and appearance alone labels it).
final class FlowGuidedObjectConsistencyTests: XCTestCase {
    func run(objectConsistency: Bool) throws -> (predicted: [[UInt8]], truth: [[UInt8]], decoy: (x: Range<Int>, y: Range<Int>),
                                                 propagation: FlowGuidedPropagation) {
        let scene = SquareScene()
        let (w, h) = (scene.width, scene.height)
        let square = LabelPropagationTests.Square(id: 1, colour: (220, 30, 30), x: 10, y: 12, dx: 3, dy: 1, size: 24)
        let decoy = (x: 90..<114, y: 60..<84)
        let first = scene.render(square, t: 0)
        let propagation = try FlowGuidedPropagation(
            firstFeatures: ColourPatchFeatures.features(rgb: first.rgb, width: w, height: h, stride: 8),
            firstMask: first.mask, frameWidth: w, frameHeight: h,
            configuration: .init(affinity: .init(stride: 8), fusion: .confidence, objectConsistency: objectConsistency))
        var predicted: [[UInt8]] = [], truth: [[UInt8]] = []
        for t in 1...5 {
            var frame = scene.render(square, t: t)
            let motion = scene.flows(dx: square.dx, dy: square.dy, inside: frame.mask, id: 1)
            var backward = motion.backward
            if t >= 2 {
                // The decoy: the object's colour, and a backward flow the forward flow does not send back.
                for y in decoy.y {
                    for x in decoy.x {
                        (frame.rgb[(y * w + x) * 3], frame.rgb[(y * w + x) * 3 + 1], frame.rgb[(y * w + x) * 3 + 2]) = square.colour
                        backward.u[y * w + x] = 6
                    }
                }
            }
            predicted.append(try propagation.propagate(
                ColourPatchFeatures.features(rgb: frame.rgb, width: w, height: h, stride: 8), rgb: frame.rgb,
                backward: backward, forward: motion.forward))
            truth.append(frame.mask)
        }
        return (predicted, truth, decoy, propagation)
    }

    func decoyShare(_ mask: [UInt8], _ decoy: (x: Range<Int>, y: Range<Int>), width: Int) -> Double {
        var inside = 0
        for y in decoy.y { for x in decoy.x where mask[y * width + x] == 1 { inside += 1 } }
        return Double(inside) / Double(decoy.x.count * decoy.y.count)
    }

    func test_a_look_alike_region_the_flow_does_not_explain_is_labelled_without_the_step_and_not_with_it() throws {
        let width = SquareScene().width
        let without = try run(objectConsistency: false)
        XCTAssertGreaterThan(decoyShare(without.predicted[1], without.decoy, width: width), 0.5,
                             "appearance alone takes the decoy for the object")
        let with = try run(objectConsistency: true)
        for (t, (predicted, truth)) in zip(with.predicted, with.truth).enumerated() {
            XCTAssertEqual(decoyShare(predicted, with.decoy, width: width), 0, "frame \(t + 1): the decoy")
            XCTAssertGreaterThan(iou(predicted, truth, id: 1), 0.9, "frame \(t + 1): the square")
        }
        // The last frame's maps, which the next frame's warp and the memory read, hold no trace of the decoy.
        let pixels = width * SquareScene().height
        for y in with.decoy.y {
            for x in with.decoy.x { XCTAssertLessThan(with.propagation.previous[pixels + y * width + x], 0.5) }
        }
    }
}
