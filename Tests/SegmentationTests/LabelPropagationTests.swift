import XCTest
@testable import Segmentation

/// Propagation on a rendered video: squares moving over a striped background, features are the colour patches
/// of each frame, and the first mask is the only label given.
final class LabelPropagationTests: XCTestCase {
    struct Square { var id: UInt8; var colour: (UInt8, UInt8, UInt8); var x: Int; var y: Int; var dx: Int; var dy: Int; var size: Int }

    let width = 128, height = 96

    /// Frame t as RGB and its true mask.
    func render(_ squares: [Square], t: Int) -> (rgb: [UInt8], mask: [UInt8]) { SquareScene().render(squares, t: t) }

    func test_propagation_follows_a_moving_square() throws {
        let squares = [Square(id: 1, colour: (220, 30, 30), x: 8, y: 10, dx: 5, dy: 2, size: 32)]
        let first = render(squares, t: 0)
        let propagation = try LabelPropagation(
            firstFeatures: ColourPatchFeatures.features(rgb: first.rgb, width: width, height: height, stride: 4),
            firstMask: first.mask, frameWidth: width, frameHeight: height,
            configuration: .init(stride: 4, radius: 6))
        var worst = 1.0, total = 0.0
        for t in 1...12 {
            let frame = render(squares, t: t)
            let predicted = try propagation.propagate(
                ColourPatchFeatures.features(rgb: frame.rgb, width: width, height: height, stride: 4))
            let j = iou(predicted, frame.mask, id: 1)
            worst = min(worst, j)
            total += j
        }
        // The square moved 60 px; copying the first mask would score 0 after 32 px.
        // Edges land within a cell (4 px) of the truth, so J dips when an edge falls mid-cell.
        XCTAssertGreaterThan(total / 12, 0.9)
        XCTAssertGreaterThan(worst, 0.85)
        XCTAssertLessThanOrEqual(propagation.recent.count, 7, "context holds at most 7 previous frames")
    }

    func test_two_objects_keep_their_palette_ids() throws {
        let squares = [Square(id: 3, colour: (220, 30, 30), x: 4, y: 6, dx: 2, dy: 0, size: 16),
                       Square(id: 7, colour: (30, 30, 220), x: 60, y: 36, dx: -2, dy: -1, size: 16)]
        let first = render(squares, t: 0)
        let propagation = try LabelPropagation(
            firstFeatures: ColourPatchFeatures.features(rgb: first.rgb, width: width, height: height, stride: 4),
            firstMask: first.mask, frameWidth: width, frameHeight: height,
            configuration: .init(stride: 4, radius: 6))
        XCTAssertEqual(propagation.objectIDs, [0, 3, 7])
        var last = first
        var predicted = first.mask
        for t in 1...8 {
            last = render(squares, t: t)
            predicted = try propagation.propagate(
                ColourPatchFeatures.features(rgb: last.rgb, width: width, height: height, stride: 4))
        }
        XCTAssertGreaterThan(iou(predicted, last.mask, id: 3), 0.85)
        XCTAssertGreaterThan(iou(predicted, last.mask, id: 7), 0.85)
        XCTAssertEqual(Set(predicted), [0, 3, 7])
    }

    func test_mismatched_sizes_are_errors_not_crashes() throws {
        let features = FeatureMap(channels: 2, height: 2, width: 2, values: [Float](repeating: 1, count: 8))
        XCTAssertThrowsError(try LabelPropagation(firstFeatures: features, firstMask: [0, 1], frameWidth: 4,
                                                  frameHeight: 4))
        XCTAssertThrowsError(try LabelPropagation(firstFeatures: features, firstMask: [UInt8](repeating: 0, count: 400),
                                                  frameWidth: 20, frameHeight: 20), "2x2 cells at stride 8 < 20 px")
        let propagation = try LabelPropagation(firstFeatures: features, firstMask: [UInt8](repeating: 1, count: 256),
                                               frameWidth: 16, frameHeight: 16)
        XCTAssertThrowsError(try propagation.propagate(FeatureMap(channels: 3, height: 2, width: 2,
                                                                  values: [Float](repeating: 1, count: 12))))
    }
}
