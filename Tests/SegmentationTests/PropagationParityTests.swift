import XCTest
@testable import Segmentation

/// LabelPropagation against the PyTorch reference of DINO's label_propagation
/// (Reference/label_propagation_reference.py, which generates PropagationParityFixture.swift). On a mismatch,
/// regenerate with: python3 Reference/label_propagation_reference.py > Tests/SegmentationTests/PropagationParityFixture.swift
final class PropagationParityTests: XCTestCase {
    typealias Fixture = PropagationParityFixture

    func map(_ t: Int) -> FeatureMap {
        FeatureMap(channels: Fixture.channels, height: Fixture.gridHeight, width: Fixture.gridWidth,
                   values: Fixture.features[t])
    }

    func test_soft_labels_and_masks_match_the_pytorch_reference() throws {
        let propagation = try LabelPropagation(
            firstFeatures: map(0), firstMask: Fixture.firstMask,
            frameWidth: Fixture.gridWidth * Fixture.stride, frameHeight: Fixture.gridHeight * Fixture.stride,
            configuration: .init(stride: Fixture.stride, contextFrames: Fixture.contextFrames,
                                 temperature: Fixture.temperature, radius: Fixture.radius, topK: Fixture.topK))
        XCTAssertEqual(propagation.objectIDs, [0, 2, 5])
        for t in 1..<Fixture.features.count {
            let mask = try propagation.propagate(map(t))
            let soft = try XCTUnwrap(propagation.recent.last).labels
            let expected = Fixture.softLabels[t - 1]
            XCTAssertEqual(soft.count, expected.count)
            let worst = zip(soft, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-5, "frame \(t): soft labels differ by up to \(worst)")
            XCTAssertEqual(mask, Fixture.masks[t - 1], "frame \(t): mask")
        }
        XCTAssertEqual(propagation.recent.count, Fixture.contextFrames)
    }
}
