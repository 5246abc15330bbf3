import FlowIO
import XCTest
@testable import Segmentation

final class ObjectConsistencyTests: XCTestCase {
    let (w, h) = (100, 60)

    typealias Rect = (x: Range<Int>, y: Range<Int>)

    /// Sets planar maps (background, object 1, object 2) to `values` inside `rect`.
    func fill(_ maps: inout [Float], _ rect: Rect, _ values: [Float]) {
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

    func inside(_ rect: Rect, _ i: Int) -> Bool { rect.x.contains(i % w) && rect.y.contains(i / w) }

    func apply(_ maps: inout [Float], carried: [Float], valid: [Bool]? = nil) -> Int {
        var step = ObjectConsistency()
        return step.apply(to: &maps, count: 3, width: w, height: h, carried: carried,
                          valid: valid ?? [Bool](repeating: true, count: w * h))
    }

    /// Object 1 moved 2 px right (its carried mask overlaps where it is now) and also appears 46 px past its
    /// carried mask, where the carried maps say background: that region goes to its next labels (object 2 on its
    /// left half, background on the right); the moved object and object 2 (supported) stay.
    func test_a_leak_far_from_the_carried_mask_is_removed_and_the_moved_object_kept() {
        XCTAssertEqual(ObjectConsistency.reach, 32, "the layout below assumes it")
        var maps = backgroundMaps()
        let object: Rect = (7..<17, 5..<15), leakLeft: Rect = (60..<68, 40..<56), leakRight: Rect = (68..<76, 40..<56)
        let other: Rect = (40..<50, 1..<7)
        fill(&maps, object, [0.2, 0.8, 0])
        fill(&maps, leakLeft, [0.1, 0.6, 0.3])
        fill(&maps, leakRight, [0.4, 0.6, 0])
        fill(&maps, other, [0.1, 0, 0.9])
        var carried = backgroundMaps()
        fill(&carried, (5..<15, 5..<15), [0.1, 0.9, 0])
        fill(&carried, other, [0, 0, 1])
        let before = argmax(maps)
        XCTAssertEqual(apply(&maps, carried: carried), 16 * 16)
        let after = argmax(maps)
        for i in 0..<(w * h) {
            if inside(leakLeft, i) {
                XCTAssertEqual(after[i], 2, "\(i): the leak's next label")
                XCTAssertEqual(maps[w * h + i], 0)
                XCTAssertEqual(maps[i] + maps[2 * w * h + i], 1, accuracy: 1e-6, "probabilities")
            } else if inside(leakRight, i) {
                XCTAssertEqual(after[i], 0, "\(i): background")
            } else {
                XCTAssertEqual(after[i], before[i], "\(i) unchanged")
            }
        }
    }

    /// A leak that grows out of the object is cut back to `reach` past the object's support; a piece of the object
    /// that the flow does not explain (a part re-appearing beside an occluder), disconnected but near, stays.
    func test_a_leak_touching_the_object_is_cut_back_and_a_near_unsupported_piece_kept() {
        var maps = backgroundMaps()
        let object: Rect = (7..<17, 5..<15), strip: Rect = (17..<90, 8..<12), piece: Rect = (20..<30, 20..<30)
        fill(&maps, object, [0.2, 0.8, 0])
        fill(&maps, strip, [0.3, 0.7, 0])
        fill(&maps, piece, [0.3, 0.7, 0])
        var carried = backgroundMaps()
        fill(&carried, object, [0.1, 0.9, 0])
        let before = argmax(maps)
        // Supported up to x = 16: the strip keeps x <= 48, loses 49..<90.
        XCTAssertEqual(apply(&maps, carried: carried), 41 * 4)
        let after = argmax(maps)
        for i in 0..<(w * h) {
            if inside(strip, i) {
                XCTAssertEqual(after[i], i % w <= 48 ? 1 : 0, "strip at (\(i % w), \(i / w))")
            } else {
                XCTAssertEqual(after[i], before[i], "(\(i % w), \(i / w)) unchanged")
            }
        }
        for i in 0..<(w * h) where inside(piece, i) { XCTAssertEqual(after[i], 1, "the near piece") }
    }

    /// Where the forward-backward check fails, the carried maps are no support: the same far region, now under a
    /// carried object that the flow does not vouch for, is still removed.
    func test_carried_maps_that_fail_the_forward_backward_check_are_no_support() {
        var maps = backgroundMaps()
        let far: Rect = (60..<76, 40..<56)
        fill(&maps, (7..<17, 5..<15), [0.2, 0.8, 0])
        fill(&maps, far, [0.4, 0.6, 0])
        var carried = backgroundMaps()
        fill(&carried, (5..<15, 5..<15), [0.1, 0.9, 0])
        fill(&carried, far, [0, 1, 0])
        var valid = [Bool](repeating: true, count: w * h)
        for i in 0..<(w * h) where inside(far, i) { valid[i] = false }
        var trusted = maps, untrusted = maps
        XCTAssertEqual(apply(&trusted, carried: carried), 0, "supported where the check passes")
        XCTAssertEqual(apply(&untrusted, carried: carried, valid: valid), 16 * 16)
    }

    /// An object whose carried mask is empty (hidden in the previous frame) keeps every pixel: appearance alone
    /// found it again. The other object's far region is still removed.
    func test_an_object_reappearing_with_an_empty_carried_mask_is_kept() {
        var maps = backgroundMaps()
        fill(&maps, (7..<17, 5..<15), [0.2, 0.8, 0])
        fill(&maps, (40..<50, 1..<7), [0.1, 0, 0.9])
        fill(&maps, (60..<76, 40..<56), [0.3, 0, 0.7])
        var carried = backgroundMaps()
        fill(&carried, (40..<50, 1..<7), [0, 0, 1])
        XCTAssertEqual(apply(&maps, carried: carried), 16 * 16, "only object 2's far region")
        let after = argmax(maps)
        for y in 5..<15 { for x in 7..<17 { XCTAssertEqual(after[y * w + x], 1, "object 1 kept at (\(x), \(y))") } }
        for y in 40..<56 { for x in 60..<76 { XCTAssertEqual(after[y * w + x], 0, "(\(x), \(y))") } }
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
