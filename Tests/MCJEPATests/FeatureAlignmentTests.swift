import Foundation
import NN
import FlowRefinement
import XCTest
@testable import MCJEPA

/// The feature alignment (`FeatureAlignment`): PyTorch parity, its box mean, and what it must do on a scene whose
/// motion is known.
final class FeatureAlignmentTests: XCTestCase {
    /// After 1 and 3 iterations, on two items where some first steps hit the clamp (the exporter checks that).
    func testMatchesPyTorch() throws {
        let fixture = try ParityFixture.alignment()
        let flow = try fixture.tensor("io.flow")
        let f1 = try fixture.tensor("io.features1"), f2 = try fixture.tensor("io.features2")
        for k in [1, 3] {
            let aligned = FeatureAlignment.align(flow, features1: f1, features2: f2, iterations: k)
            try fixture.assertMatches(aligned, "io.aligned.k\(k)")
        }
    }

    /// The estimator aligns by default only when no refiner follows; an explicit count wins either way.
    func testEstimatorAlignsByDefaultOnlyWithoutARefiner() {
        let model = MCJEPAModel(config: .test)
        let refiner = RefinementMethod.fastSearch.refiner(threads: 1)
        XCTAssertEqual(FlowEstimator(model: model).alignmentIterations, FeatureAlignment.defaultIterations)
        XCTAssertEqual(FlowEstimator(model: model, refinement: refiner).alignmentIterations, 0)
        XCTAssertEqual(FlowEstimator(model: model, alignmentIterations: 2, refinement: refiner).alignmentIterations, 2)
        XCTAssertEqual(FlowEstimator(model: model, alignmentIterations: 0).alignmentIterations, 0)
    }

    func testZeroIterationsReturnTheDecoderFlow() {
        let flow = Tensor(shape: [1, 2, 8, 8], repeating: 0.25)
        let features = Tensor(shape: [1, 3, 4, 4], repeating: 1)
        XCTAssertTrue(FeatureAlignment.align(flow, features1: features, features2: features, iterations: 0) === flow)
    }

    /// The box mean (NN's `boxMeanValidForward`) against a direct loop over each window's valid pixels.
    func testBoxMeanCountsOnlyValidPixels() {
        let (h, w, window) = (7, 9, 5)
        let x = Tensor(shape: [1, 2, h, w], values: (0..<(2 * h * w)).map { Float(($0 * 37) % 11) - 5 })
        let boxed = boxMeanValidForward(x, window: window)
        for plane in 0..<2 {
            for y in 0..<h {
                for xo in 0..<w {
                    var sum: Float = 0, count: Float = 0
                    for yy in max(0, y - 2)...min(h - 1, y + 2) {
                        for xx in max(0, xo - 2)...min(w - 1, xo + 2) { sum += x.data[plane * h * w + yy * w + xx]; count += 1 }
                    }
                    XCTAssertEqual(boxed.data[plane * h * w + y * w + xo], sum / count, accuracy: 1e-5)
                }
            }
        }
    }

    /// Smooth features moved by a uniform (1.3, -0.6) level-1 pixels, a decoder flow 0.8 px off everywhere: the
    /// alignment must bring the interior's error well below where it started (it cannot be exact: frame 2 is
    /// resampled bilinearly and the window sees the image border).
    func testCorrectsAnOffsetFlowOnATranslatedScene() {
        let (c, h, w) = (4, 32, 40)
        let (du, dv): (Float, Float) = (1.3, -0.6)
        func texture(_ ch: Int, _ x: Float, _ y: Float) -> Float {
            sin(0.45 * x + 1.3 * Float(ch)) + cos(0.37 * y - 0.8 * Float(ch)) + 0.5 * sin(0.21 * (x + y) + Float(ch))
        }
        let f1 = Tensor(shape: [1, c, h, w]), f2 = Tensor(shape: [1, c, h, w])
        for ch in 0..<c {
            for y in 0..<h {
                for x in 0..<w {
                    f1.data[(ch * h + y) * w + x] = texture(ch, Float(x), Float(y))
                    // frame 2 at p + d shows frame 1 at p
                    f2.data[(ch * h + y) * w + x] = texture(ch, Float(x) - du, Float(y) - dv)
                }
            }
        }
        let full = Tensor(shape: [1, 2, 2 * h, 2 * w])
        let (truthU, truthV) = (2 * du, 2 * dv), offset: Float = 0.8
        for i in 0..<(4 * h * w) { full.data[i] = truthU + offset; full.data[4 * h * w + i] = truthV - offset }
        let aligned = FeatureAlignment.align(full, features1: f1, features2: f2, iterations: 3)
        var error: Float = 0, count: Float = 0
        for y in 12..<(2 * h - 12) {
            for x in 12..<(2 * w - 12) {
                let i = y * 2 * w + x
                error += hypot(aligned.data[i] - truthU, aligned.data[4 * h * w + i] - truthV)
                count += 1
            }
        }
        let start = hypot(offset, offset)
        XCTAssertLessThan(error / count, 0.1 * start, "mean interior error \(error / count) px from \(start) px")
    }
}
