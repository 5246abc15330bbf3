import Foundation
import NN
import XCTest
@testable import MCJEPA

/// Synthetic pairs carry exact flow, also after the random crop and flip: frame 1 sampled at p + flow(p)
/// reproduces frame 0 at p, which a wrong sign, a swapped component or a wrong composition would break.
final class TrainingDataTests: XCTestCase {
    /// A smooth, non-symmetric photo (a wrong motion shows up as a large colour difference).
    func photo(width: Int, height: Int, phase: Float) -> FrameImage {
        var planar = [Float](repeating: 0, count: 3 * width * height)
        for y in 0..<height {
            for x in 0..<width {
                let fx = Float(x) / Float(width), fy = Float(y) / Float(height)
                planar[y * width + x] = 0.5 + 0.4 * sin(9 * fx + 4 * fy + phase)
                planar[width * height + y * width + x] = 0.5 + 0.4 * cos(7 * fy - 3 * fx)
                planar[2 * width * height + y * width + x] = fx * fy
            }
        }
        return FrameImage(width: width, height: height, planar: planar)
    }

    /// Median over interior pixels of |frame0(p) - frame1(p + flow(p))| (green channel).
    func medianReconstructionError(_ a: Tensor, _ b: Tensor, _ flow: Tensor) -> Float {
        let warped = warpForward(image: b, flow: flow)
        var errors: [Float] = []
        let (H, W) = (a.h, a.w), plane = H * W
        for y in 0..<H {
            for x in 0..<W where warped.mask.data[y * W + x] == 1 {
                errors.append(abs(a.data[plane + y * W + x] - warped.output.data[plane + y * W + x]))
            }
        }
        errors.sort()
        return errors[errors.count / 2]
    }

    func testSyntheticFlowIsExactThroughCropAndFlip() throws {
        let source = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0), photo(width: 100, height: 90, phase: 2)],
                                         height: 128, width: 128)
        var rng = TrainingRNG(seed: 5)
        var flips = 0
        for _ in 0..<4 {
            let sample = try source.sample(&rng)
            let flow = try XCTUnwrap(sample.flow)
            XCTAssertGreaterThan(flow.map(abs).max()!, 0.5, "the layers should move")
            let (a, b, f) = Augment.cropPair(sample, height: 64, width: 64, rng: &rng)
            let cropped = try XCTUnwrap(f)
            let error = medianReconstructionError(a, b, cropped)
            XCTAssertLessThan(error, 0.01, "frame 1 at p + flow does not reproduce frame 0")
            // The same check with the flow's u negated fails (unless the motion is vertical only).
            let wrong = cropped.copy()
            for i in 0..<(64 * 64) { wrong.data[i] = -wrong.data[i] }
            if medianReconstructionError(a, b, wrong) > 0.01 { flips += 1 }
        }
        XCTAssertGreaterThan(flips, 0, "the check cannot tell a wrong flow from the right one")
    }

    func testRNGStateRestoresTheSameSequence() {
        var rng = TrainingRNG(seed: 9)
        _ = rng.next()
        var copy = TrainingRNG(state: rng.state)
        XCTAssertEqual((0..<5).map { _ in rng.next() }, (0..<5).map { _ in copy.next() })
        XCTAssertNotEqual(TrainingRNG(seed: 1).state, TrainingRNG(seed: 2).state)
    }
}
