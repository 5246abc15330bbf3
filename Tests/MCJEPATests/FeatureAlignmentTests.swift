import Foundation
import NN
import FlowRefinement
import XCTest
@testable import MCJEPA

/// Level-1 features [1, c, h, w] of two frames of a smooth scene, frame 2's moved by (du, dv) level-1 pixels: frame 2
/// at p + d shows frame 1 at p.
private func translatedScene(channels c: Int, height h: Int, width w: Int, du: Float, dv: Float,
                             _ texture: (Int, Float, Float) -> Float) -> (Tensor, Tensor) {
    let f1 = Tensor(shape: [1, c, h, w]), f2 = Tensor(shape: [1, c, h, w])
    for ch in 0..<c {
        for y in 0..<h {
            for x in 0..<w {
                f1.data[(ch * h + y) * w + x] = texture(ch, Float(x), Float(y))
                f2.data[(ch * h + y) * w + x] = texture(ch, Float(x) - du, Float(y) - dv)
            }
        }
    }
    return (f1, f2)
}

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
        let (f1, f2) = translatedScene(channels: c, height: h, width: w, du: du, dv: dv, texture)
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

/// The alignment's backward pass (`FeatureAlignment.backward`) and its box mean's (`boxMeanValidBackward`).
final class FeatureAlignmentBackwardTests: XCTestCase {
    /// Autograd's gradients of <cotangent, aligned> through 1 and 3 iterations, where some steps clamp and some
    /// samples fall outside frame 2 (the exporter checks both).
    func testMatchesPyTorchGradients() throws {
        let fixture = try ParityFixture.alignment()
        let flow = try fixture.tensor("io.flow")
        let f1 = try fixture.tensor("io.features1"), f2 = try fixture.tensor("io.features2")
        for k in [1, 3] {
            let (aligned, record) = FeatureAlignment.align(flow, features1: f1, features2: f2, iterations: k, recording: true)
            try fixture.assertMatches(aligned, "io.aligned.k\(k)")
            let grads = FeatureAlignment.backward(record!, gradOutput: try fixture.tensor("grad.cotangent.k\(k)"))
            try assertClose(grads.gradFlow, fixture.tensor("grad.flow.k\(k)"), "grad.flow.k\(k)")
            try assertClose(grads.gradFeatures1, fixture.tensor("grad.features1.k\(k)"), "grad.features1.k\(k)")
            try assertClose(grads.gradFeatures2, fixture.tensor("grad.features2.k\(k)"), "grad.features2.k\(k)")
        }
    }

    /// Central differences of <cotangent, aligned> on a tiny smooth scene whose steps stay inside the clamp.
    func testMatchesFiniteDifferences() {
        let (c, h, w) = (3, 6, 8)
        func texture(_ ch: Int, _ x: Float, _ y: Float) -> Float {
            sin(0.7 * x + 1.1 * Float(ch)) + cos(0.6 * y - 0.9 * Float(ch)) + 0.3 * sin(0.5 * (x - y) + Float(ch))
        }
        let (f1, f2) = translatedScene(channels: c, height: h, width: w, du: 0.35, dv: -0.2, texture)
        let full = Tensor(shape: [1, 2, 2 * h, 2 * w], values: (0..<(8 * h * w)).map { i in
            (i < 4 * h * w ? 0.5 : -0.3) + 0.2 * sin(0.37 * Float(i)) })
        let cotangent = Tensor(shape: full.shape, values: (0..<full.count).map { cos(0.91 * Float($0)) })
        let iterations = 2
        let (_, record) = FeatureAlignment.align(full, features1: f1, features2: f2, iterations: iterations, recording: true)
        let grads = FeatureAlignment.backward(record!, gradOutput: cotangent)
        assertMatchesFiniteDifferences([("flow", full, grads.gradFlow), ("features1", f1, grads.gradFeatures1),
                                        ("features2", f2, grads.gradFeatures2)], eps: 1e-2) {
            let aligned = FeatureAlignment.align(full, features1: f1, features2: f2, iterations: iterations)
            return (0..<aligned.count).reduce(0.0) { $0 + Double(aligned.data[$1]) * Double(cotangent.data[$1]) }
        }
    }

    /// <boxMean(x), y> = <x, boxMeanBackward(y)> for random x, y, with windows wider than the image too.
    func testBoxMeanBackwardIsItsAdjoint() {
        for (h, w, window) in [(7, 9, 5), (4, 6, 11), (12, 5, 3)] {
            let x = Tensor(shape: [2, 3, h, w], values: (0..<(6 * h * w)).map { sin(1.7 * Float($0)) })
            let y = Tensor(shape: x.shape, values: (0..<(6 * h * w)).map { cos(0.3 * Float($0) + 0.5) })
            let gradX = Tensor(shape: x.shape, repeating: 1)
            boxMeanValidBackward(window: window, gradOutput: y, gradInput: gradX)
            let boxed = boxMeanValidForward(x, window: window)
            var left = 0.0, right = 0.0
            for i in 0..<x.count {
                left += Double(boxed.data[i]) * Double(y.data[i])
                right += Double(x.data[i]) * Double(gradX.data[i] - 1)  // it accumulates onto the ones
            }
            XCTAssertEqual(left, right, accuracy: 1e-4 * max(1, abs(left)), "\(h)x\(w), window \(window)")
        }
    }

    /// Relative to the expected tensor's largest magnitude, as the other gradient parity tests.
    private func assertClose(_ actual: Tensor, _ expected: Tensor, _ name: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, name, file: file, line: line)
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in 0..<min(actual.count, expected.count) {
            maxDiff = max(maxDiff, abs(actual.data[i] - expected.data[i]))
            maxAbs = max(maxAbs, abs(expected.data[i]))
        }
        XCTAssertGreaterThan(maxAbs, 0, "\(name) is zero in the fixture", file: file, line: line)
        XCTAssertLessThanOrEqual(maxDiff, 1e-3 * maxAbs, "\(name): max difference \(maxDiff), max |value| \(maxAbs)",
                                 file: file, line: line)
    }
}

/// Training through the alignment (`flowLossesWithBackward(alignmentIterations:)`, `train --train-through-alignment`)
/// against autograd through Reference/mcjepa/losses.py's `flow_losses(align_iterations=3)` plus the aligned forward
/// flow's end-point error.
final class FeatureAlignmentTrainingTests: XCTestCase {
    func testLossesAndParameterGradientsMatchPyTorch() throws {
        let model = try ParityFixture.parityModel()
        let fixture = try ParityFixture.alignmentTraining(), parity = try ParityFixture.parity()
        let config = try LossConfig.fromJSON(try XCTUnwrap(fixture.metadata["loss_config"])).get()
        let iterations = try XCTUnwrap(Int(fixture.metadata["alignment_iterations"] ?? ""))
        let img1 = try parity.tensor("io.img1"), img2 = try parity.tensor("io.img2")
        model.parameters.zeroGradients()
        let (report, outputs) = model.flowLossesWithBackward(img1, img2, config: config, targetFlow: try fixture.tensor("io.target"),
                                                             supervisedWeight: 1, alignmentIterations: iterations)
        try fixture.assertMatches(outputs.forward.full, "io.flow_fw.full")
        try fixture.assertMatches(outputs.backward.full, "io.flow_bw.full")
        // A pixel this close to the occlusion threshold may flip under float32 rounding; none is in this fixture.
        let margin = Float(fixture.metadata["mask_margin_min"] ?? "1") ?? 1
        let expectedMask = try fixture.tensor("io.mask_fw.full")
        let flips = (0..<expectedMask.count).filter { expectedMask.data[$0] != outputs.forwardMaskFull.data[$0] }.count
        XCTAssertLessThanOrEqual(flips, margin < 1e-3 ? 1 : 0, "io.mask_fw.full: \(flips) pixels differ")
        var terms = report.terms
        terms["total"] = report.total
        for name in fixture.tensors.keys.filter({ $0.hasPrefix("loss.") }).sorted() {
            let key = String(name.dropFirst("loss.".count)), expected = try fixture.tensor(name).data[0]
            let actual = try XCTUnwrap(terms[key], "Swift computes no term \(key)")
            XCTAssertEqual(actual, expected, accuracy: 2e-4 * max(1, abs(expected)), "\(name): Swift \(actual), PyTorch \(expected)")
        }
        try fixture.assertParameterGradientsMatch(model)
    }

    /// The trainer's supervised-only pass (`supervisedFlowLossWithBackward`), its multi-scale term on.
    func testSupervisedOnlyPassMatchesPyTorch() throws {
        let model = try ParityFixture.parityModel()
        let fixture = try ParityFixture.alignmentTraining(), parity = try ParityFixture.parity()
        let iterations = try XCTUnwrap(Int(fixture.metadata["alignment_iterations"] ?? ""))
        let levelWeight = try XCTUnwrap(Float(fixture.metadata["supervised_level_weight"] ?? ""))
        model.parameters.zeroGradients()
        let report = model.supervisedFlowLossWithBackward(try parity.tensor("io.img1"), try parity.tensor("io.img2"),
                                                          target: try fixture.tensor("io.target"), levelWeight: levelWeight,
                                                          alignmentIterations: iterations)
        var terms = report.terms
        terms["total"] = report.total
        for name in fixture.tensors.keys.filter({ $0.hasPrefix("supervised.loss.") }).sorted() {
            let key = String(name.dropFirst("supervised.loss.".count)), expected = try fixture.tensor(name).data[0]
            let actual = try XCTUnwrap(terms[key], "Swift computes no term \(key)")
            XCTAssertEqual(actual, expected, accuracy: 2e-4 * max(1, abs(expected)), "\(name): Swift \(actual), PyTorch \(expected)")
        }
        for spec in model.parameters.specs {
            let expected = try fixture.tensor("supervised.grad.\(spec.name)"), actual = model.parameters.gradient(spec.name)
            var maxDiff: Float = 0, maxAbs: Float = 0
            for i in 0..<expected.count {
                maxDiff = max(maxDiff, abs(actual.data[i] - expected.data[i]))
                maxAbs = max(maxAbs, abs(expected.data[i]))
            }
            XCTAssertLessThanOrEqual(maxDiff, 1e-3 * maxAbs + 1e-6, "supervised.grad.\(spec.name): max difference \(maxDiff), max |grad| \(maxAbs)")
        }
    }

    /// With 0 iterations nothing changes: the same report and the same gradients, bit for bit, as without the argument.
    func testZeroIterationsAreTheDecoderFlowsTraining() throws {
        let model = try ParityFixture.parityModel(), parity = try ParityFixture.parity()
        let img1 = try parity.tensor("io.img1"), img2 = try parity.tensor("io.img2")
        func gradients(_ pass: () -> LossReport) -> (LossReport, [[Float]]) {
            model.parameters.zeroGradients()
            let report = pass()
            return (report, model.parameters.specs.map { model.parameters.gradient($0.name).array })
        }
        let (plain, plainGradients) = gradients { model.flowLossesWithBackward(img1, img2, config: LossConfig()).report }
        let (zero, zeroGradients) = gradients {
            model.flowLossesWithBackward(img1, img2, config: LossConfig(), alignmentIterations: 0).report
        }
        let (aligned, _) = gradients {
            model.flowLossesWithBackward(img1, img2, config: LossConfig(), alignmentIterations: 3).report
        }
        XCTAssertEqual(zero.terms, plain.terms)
        XCTAssertEqual(zero.total, plain.total)
        XCTAssertTrue(zeroGradients == plainGradients, "0 alignment iterations changed a gradient")
        XCTAssertNotEqual(aligned.terms["photo"], plain.terms["photo"], "the alignment changed nothing the losses see")
    }
}
