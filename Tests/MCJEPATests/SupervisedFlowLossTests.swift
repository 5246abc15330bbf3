import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The supervised-only training pass: the same gradient as the full flow pass when only the supervised term is
/// on, and a multi-scale term whose gradient matches finite differences.
final class SupervisedFlowLossTests: XCTestCase {
    private func pair(seed: UInt64) throws -> (Tensor, Tensor, Tensor) {
        let source = SyntheticPairSource(photos: [sineTexture(side: 160)], height: 64, width: 128, maxShift: 6)
        var rng = TrainingRNG(seed: seed)
        let sample = try source.sample(&rng)
        let flow = try XCTUnwrap(sample.flow)
        return (Tensor(shape: [1, 3, 64, 128], values: sample.first.planar), Tensor(shape: [1, 3, 64, 128], values: sample.second.planar),
                Tensor(shape: [1, 2, 64, 128], values: flow))
    }

    private func gradients(_ model: MCJEPAModel) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.parameters.specs.map { spec in
            let g = model.parameters.gradient(spec.name)
            return (spec.name, Array(UnsafeBufferPointer(start: g.data, count: g.count)))
        })
    }

    func testWithoutLevelsItMatchesTheFullFlowPassWithOnlyTheSupervisedTerm() throws {
        let (a, b, target) = try pair(seed: 4)
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 2)
        let loss = LossConfig.selfSupervisedFlowTermsOff
        XCTAssertFalse(loss.hasSelfSupervisedFlowTerms)
        model.parameters.zeroGradients()
        let full = model.flowLossesWithBackward(a, b, config: loss, gradientScale: 1.5, targetFlow: target, supervisedWeight: 1).report
        let expected = gradients(model)
        model.parameters.zeroGradients()
        let fast = model.supervisedFlowLossWithBackward(a, b, target: target, levelWeight: 0, gradientScale: 1.5)
        let actual = gradients(model)
        XCTAssertEqual(fast.terms["supervised_epe"]!, full.terms["supervised_epe"]!, accuracy: 1e-5)
        XCTAssertEqual(fast.total, full.total, accuracy: 1e-5)
        var largest: Float = 0
        for (name, values) in expected {
            let scale = max(1e-3, values.map(abs).max()!)
            for (x, y) in zip(values, actual[name]!) { largest = max(largest, abs(x - y) / scale) }
        }
        XCTAssertLessThan(largest, 1e-4, "largest relative gradient difference")
        XCTAssertGreaterThan(expected.values.map { $0.map(abs).max()! }.max()!, 0, "the supervised term has a gradient")
    }

    func testMultiScaleTermGradientMatchesFiniteDifferences() throws {
        let (a, b, target) = try pair(seed: 7)
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 5)
        func total() -> Float {
            model.parameters.zeroGradients()
            return model.supervisedFlowLossWithBackward(a, b, target: target, levelWeight: 2).total
        }
        model.parameters.zeroGradients()
        let report = model.supervisedFlowLossWithBackward(a, b, target: target, levelWeight: 2)
        for level in model.config.decodedLevels { XCTAssertNotNil(report.terms["level_epe_l\(level)"]) }
        let levels = model.config.decodedLevels.map { report.terms["level_epe_l\($0)"]! }
        XCTAssertEqual(report.total, report.terms["supervised_epe"]! + 2 * levels.reduce(0, +) / Float(levels.count), accuracy: 1e-4)
        let analytic = gradients(model)
        // Parameters of the coarsest level's path and of the estimator, where the level terms act directly.
        var checked = 0
        for name in ["decoder.estimator.out.weight", "decoder.estimator.out.bias", "decoder.reduce.l\(model.config.decodedLevels[0]).weight"] {
            let parameter = model.parameters[name]
            let grad = analytic[name]!
            let index = grad.indices.max { abs(grad[$0]) < abs(grad[$1]) }!
            let original = parameter.data[index], eps: Float = 1e-2
            parameter.data[index] = original + eps
            let plus = total()
            parameter.data[index] = original - eps
            let minus = total()
            parameter.data[index] = original
            let numeric = (plus - minus) / (2 * eps)
            XCTAssertEqual(numeric, grad[index], accuracy: 0.05 * abs(grad[index]) + 1e-3, "\(name)[\(index)]")
            checked += 1
        }
        XCTAssertEqual(checked, 3)
    }

    func testLevelEndPointErrorIsInFullResolutionPixels() {
        // A level-2 flow of (1, 0) level pixels against a constant full-resolution (4, 3) target: error |(4,0)-(4,3)| = 3.
        let flow = Tensor(shape: [1, 2, 2, 3], repeating: 0)
        for i in 0..<6 { flow.data[i] = 1 }
        let target = Tensor(shape: [1, 2, 8, 12], repeating: 0)
        for i in 0..<96 { target.data[i] = 4; target.data[96 + i] = 3 }
        let (value, grad) = levelEndPointError(flow, target: target, level: 2)
        XCTAssertEqual(value, 3, accuracy: 1e-5)
        // d/dv of 4 * |v_level * 4 - 3| per pixel, averaged over 6 pixels: -4 / 6 on v, 0 on u.
        XCTAssertEqual(grad.data[0], 0, accuracy: 1e-6)
        XCTAssertEqual(grad.data[6], -4.0 / 6, accuracy: 1e-5)
    }

    func testFlaggedEndPointErrorCountsOnlyTheFlaggedItems() {
        // Three items; only the first and the last have exact flow. The flagged error must equal the plain error
        // of those two items alone, and the middle item (whose zero "target" is not a flow) must get no gradient.
        let (h, w) = (3, 4), plane = h * w
        var rng = TrainingRNG(seed: 17)
        let flow = Tensor(shape: [3, 2, h, w], values: (0..<(6 * plane)).map { _ in rng.uniform(-5, 5) })
        let target = Tensor(shape: [3, 2, h, w], values: (0..<(6 * plane)).map { _ in rng.uniform(-5, 5) })
        let (masked, maskedGrad) = endPointError(flow, target, samples: [true, false, true])
        let (subset, subsetGrad) = endPointError(batchItems(flow, [0, 2]), batchItems(target, [0, 2]))
        XCTAssertEqual(masked, subset, accuracy: 1e-5)
        for i in 0..<(2 * plane) {
            XCTAssertEqual(maskedGrad.data[i], subsetGrad.data[i], accuracy: 1e-7)
            XCTAssertEqual(maskedGrad.data[2 * 2 * plane + i], subsetGrad.data[2 * plane + i], accuracy: 1e-7)
            XCTAssertEqual(maskedGrad.data[2 * plane + i], 0, "the unflagged item gets no gradient")
        }
        XCTAssertEqual(endPointError(flow, target, samples: [true, true, true]).value, endPointError(flow, target).value)
        XCTAssertEqual(endPointError(flow, target, samples: [false, false, false]).value, 0, "no flagged item: no error")
        // The level error passes the flags on.
        let (level, levelGrad) = levelEndPointError(flow, target: target, level: 0, samples: [false, true, false])
        XCTAssertEqual(level, endPointError(batchItems(flow, [1]), batchItems(target, [1])).value, accuracy: 1e-5)
        XCTAssertEqual(levelGrad.data[0], 0)
    }

    func testJitterKeepsTheGeometryAndStaysInRange() throws {
        let photo = FrameImage(width: 90, height: 80, planar: (0..<(3 * 90 * 80)).map { Float(($0 * 7919) % 256) / 255 })
        let plain = SyntheticPairSource(photos: [photo], height: 64, width: 64, maxShift: 20, maxLayers: 5)
        let jittered = SyntheticPairSource(photos: [photo], height: 64, width: 64, maxShift: 20, maxLayers: 5, jitter: true)
        var rng1 = TrainingRNG(seed: 11), rng2 = TrainingRNG(seed: 11)
        let p = try plain.sample(&rng1), j = try jittered.sample(&rng2)
        XCTAssertEqual(p.flow, j.flow, "jitter must not change the motion")
        XCTAssertNotEqual(p.first.planar, j.first.planar)
        XCTAssertTrue((j.first.planar + j.second.planar).allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testMotionBlurKeepsTheGeometryAndOnlySmearsMovingPixels() throws {
        let photo = FrameImage(width: 90, height: 80, planar: (0..<(3 * 90 * 80)).map { Float(($0 * 7919) % 256) / 255 })
        let sharp = SyntheticPairSource(photos: [photo], height: 64, width: 64, maxShift: 20, maxLayers: 5)
        let blurred = SyntheticPairSource(photos: [photo], height: 64, width: 64, maxShift: 20, maxLayers: 5, motionBlur: 1)
        var rng1 = TrainingRNG(seed: 5), rng2 = TrainingRNG(seed: 5)
        let s = try sharp.sample(&rng1), b = try blurred.sample(&rng2)
        XCTAssertEqual(s.flow, b.flow, "blur must not change the motion")
        XCTAssertNotEqual(s.first.planar, b.first.planar)
        XCTAssertNotEqual(s.second.planar, b.second.planar)
        XCTAssertTrue((b.first.planar + b.second.planar).allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testBlurAlongMotionStreaksAPointOverItsPath() {
        // A white dot at (10, 4) on black, everything moving 8 px to the right, a full-interval exposure: every pixel
        // samples 9 points 1 px apart centred on itself, so the 9 pixels within 4 px of the dot on its row see it once.
        let (h, w) = (9, 32), plane = h * w
        var frame = [Float](repeating: 0, count: 3 * plane)
        for c in 0..<3 { frame[c * plane + 4 * w + 10] = 1 }
        var motion = [Float](repeating: 0, count: 2 * plane)
        for p in 0..<plane { motion[p] = 8 }
        let streak = SyntheticPairSource.blurAlongMotion(frame, motion: motion, exposure: 1, height: h, width: w)
        for y in 0..<h {
            for x in 0..<w {
                let expected: Float = (y == 4 && abs(x - 10) <= 4) ? 1.0 / 9 : 0
                XCTAssertEqual(streak[plane + y * w + x], expected, accuracy: 1e-6, "(\(x), \(y))")
            }
        }
        XCTAssertEqual(SyntheticPairSource.blurAlongMotion(frame, motion: motion, exposure: 0, height: h, width: w), frame,
                       "a zero exposure leaves the frame sharp")
    }

    func testShiftPowerMakesSmallMotionsCommonAndKeepsTheLargest() throws {
        let photo = FrameImage(width: 90, height: 80, planar: (0..<(3 * 90 * 80)).map { Float(($0 * 7919) % 256) / 255 })
        func backgroundMotions(power: Float) throws -> [Float] {
            let source = SyntheticPairSource(photos: [photo], height: 64, width: 64, maxShift: 40, shiftPower: power, maxLayers: 2)
            var rng = TrainingRNG(seed: 3)
            // With one background layer only, the flow at the centre is its translation.
            return try (0..<200).map { _ in
                let flow = try XCTUnwrap(try source.sample(&rng).flow)
                return max(abs(flow[32 * 64 + 32]), abs(flow[64 * 64 + 32 * 64 + 32]))
            }
        }
        let uniform = try backgroundMotions(power: 1).sorted(), skewed = try backgroundMotions(power: 3).sorted()
        XCTAssertLessThan(skewed[100], 0.5 * uniform[100], "median motion")
        XCTAssertGreaterThan(skewed.last!, 20, "large motions remain")
        XCTAssertLessThanOrEqual(skewed.last!, 40 * 1.06 + 2, "bounded by max shift (plus rotation and scale)")
    }

    /// Unknown target pixels (NaN, a masked teacher's flow) neither count in the mean nor get a gradient; the
    /// known ones get the gradient of the mean over the known pixels only.
    func testEndPointErrorSkipsUnknownTargetPixels() {
        let flow = Tensor(shape: [1, 2, 1, 3], values: [3, 0, 1, 4, 5, 0])
        let target = Tensor(shape: [1, 2, 1, 3], values: [0, .nan, 0, 0, 0, 0])
        let (value, grad) = endPointError(flow, target)
        // Known pixels 0 (error (3, 4): 5) and 2 (error (1, 0): 1).
        XCTAssertEqual(value, 3, accuracy: 1e-6)
        for (i, expected) in [Float(0.3), 0, 0.5, 0.4, 0, 0].enumerated() {
            XCTAssertEqual(grad.data[i], expected, accuracy: 1e-6, "gradient \(i)")
        }
        let unknown = Tensor(shape: [1, 2, 1, 3], repeating: .nan)
        let none = endPointError(flow, unknown)
        XCTAssertEqual(none.value, 0)
        XCTAssertTrue((0..<6).allSatisfy { none.grad.data[$0] == 0 })
    }

    /// With a cap, a pixel counts min(error, cap) and one past the cap gets no gradient; pixels within it keep the
    /// gradient of the mean over every known pixel (the capped ones still count in the mean).
    func testCappedEndPointErrorTruncatesLargeErrors() {
        let flow = Tensor(shape: [1, 2, 1, 3], values: [3, 20, 1, 4, 0, 0])
        let target = Tensor(shape: [1, 2, 1, 3], values: [0, 0, 0, 0, 0, 0])
        // Errors: (3, 4) = 5, (20, 0) = 20, (1, 0) = 1; cap 8: 5 + 8 + 1 over 3 pixels.
        let (value, grad) = endPointError(flow, target, cap: 8)
        XCTAssertEqual(value, 14 / 3, accuracy: 1e-6)
        for (i, expected) in [Float](arrayLiteral: 0.6 / 3, 0, 1.0 / 3, 0.8 / 3, 0, 0).enumerated() {
            XCTAssertEqual(grad.data[i], expected, accuracy: 1e-6, "gradient \(i)")
        }
        // Cap 0 is off: the plain mean.
        XCTAssertEqual(endPointError(flow, target, cap: 0).value, 26 / 3, accuracy: 1e-5)
    }

    /// `epe_cap` is a loss setting (what `--loss epe_cap=N` sets), off by default; a negative cap is refused.
    func testEPECapIsALossSetting() throws {
        XCTAssertEqual(try LossConfig.fromJSON(#"{"epe_cap": 8}"#).get().epeCap, 8)
        XCTAssertEqual(LossConfig().epeCap, 0)
        guard case .failure = LossConfig.fromJSON(#"{"epe_cap": -1}"#) else { return XCTFail("a negative cap parsed") }
    }
}
