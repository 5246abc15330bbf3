import FlowIO
import FlowRefinement
import Foundation
import NN
import XCTest
@testable import MCJEPA

final class InferenceTests: XCTestCase {
    func testPadderSplitsTheDeficitLikeRAFT() {
        let p = InputPadder(height: 360, width: 640)
        XCTAssertEqual([p.top, p.bottom, p.left, p.right], [12, 12, 0, 0])
        let q = InputPadder(height: 37, width: 50)
        XCTAssertEqual([q.top, q.bottom, q.left, q.right], [13, 14, 7, 7])
        XCTAssertEqual([q.paddedHeight, q.paddedWidth], [64, 64])
    }

    func testPadReplicatesEdgesAndUnpadRestores() {
        let (h, w) = (5, 3)
        let x = Tensor(shape: [1, 2, h, w], values: (0..<(2 * h * w)).map { Float($0) })
        let padder = InputPadder(height: h, width: w, multiple: 8)
        let padded = padder.pad(x)
        XCTAssertEqual(padded.shape, [1, 2, 8, 8])
        // top = 1, left = 2: padded (0, 0) replicates x (0, 0); padded (7, 7) replicates x (h-1, w-1).
        XCTAssertEqual(padded.data[0], x.data[0])
        XCTAssertEqual(padded.data[63], x.data[h * w - 1])
        XCTAssertEqual(padded.data[64 + 1 * 8 + 2], x.data[h * w])
        XCTAssertEqual(padder.unpad(padded).array, x.array)
    }

    private func frame(width: Int, height: Int, shift: Int) -> FrameImage {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let v = UInt8(truncatingIfNeeded: (x + shift) * 37 ^ y * 11)
                rgb[3 * (y * width + x)] = v
                rgb[3 * (y * width + x) + 1] = v &+ 40
                rgb[3 * (y * width + x) + 2] = 255 - v
            }
        }
        return FrameImage(width: width, height: height, rgb8: rgb)
    }

    func testOddSizedFramesGiveAFullSizeFieldEqualToTheCroppedPaddedFlow() {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 3)
        let estimator = FlowEstimator(model: model)
        let (a, b) = (frame(width: 50, height: 37, shift: 0), frame(width: 50, height: 37, shift: 2))
        let field = estimator.flow(a, b)
        XCTAssertEqual([field.width, field.height], [50, 37])
        // The same computation by hand: pad, encode, flow, align on the level-1 features, crop at the padder's offsets.
        let padder = InputPadder(height: 37, width: 50)
        let (features1, features2) = (model.encode(padder.pad(a.tensor)), model.encode(padder.pad(b.tensor)))
        let full = FeatureAlignment.align(model.flow(features1, features2).full, features1: features1[0],
                                          features2: features2[0], iterations: FeatureAlignment.defaultIterations)
        XCTAssertEqual(full.shape, [1, 2, 64, 64])
        for (y, x) in [(0, 0), (36, 49), (18, 25)] {
            XCTAssertEqual(field.u[y * 50 + x], full.data[(y + padder.top) * 64 + x + padder.left])
            XCTAssertEqual(field.v[y * 50 + x], full.data[4096 + (y + padder.top) * 64 + x + padder.left])
        }
        XCTAssertGreaterThan(field.maxMagnitude, 0)
    }

    func testMaxSideShrinksTheInferenceButReturnsAFullSizeField() {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 3)
        let estimator = FlowEstimator(model: model, maxSide: 64)
        let (a, b) = (frame(width: 150, height: 90, shift: 0), frame(width: 150, height: 90, shift: 3))
        let fa = estimator.features(a)
        XCTAssertEqual([fa.inferenceWidth, fa.inferenceHeight], [64, 38])
        let field = estimator.flow(from: fa, to: estimator.features(b))
        XCTAssertEqual([field.width, field.height], [150, 90])
        // Values are rescaled to full-size pixels: the small field resized with factor 150/64 in x.
        let small = FlowEstimator(model: model).flow(
            FrameImage(width: 64, height: 38, planar: resizeBilinearForward(a.tensor, height: 38, width: 64).array),
            FrameImage(width: 64, height: 38, planar: resizeBilinearForward(b.tensor, height: 38, width: 64).array))
        XCTAssertEqual(field, small.resized(width: 150, height: 90))
    }

    func testFeaturesAreReusableAcrossPairsAndDirections() {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 5)
        let estimator = FlowEstimator(model: model)
        let frames = (0..<3).map { frame(width: 64, height: 64, shift: $0) }
        let features = frames.map(estimator.features)
        XCTAssertEqual(estimator.flow(from: features[0], to: features[1]), estimator.flow(frames[0], frames[1]))
        XCTAssertEqual(estimator.flow(from: features[1], to: features[2]), estimator.flow(frames[1], frames[2]))
        XCTAssertEqual(estimator.flow(from: features[1], to: features[0]), estimator.flow(frames[1], frames[0]))
        XCTAssertNotEqual(estimator.flow(from: features[0], to: features[1]), estimator.flow(from: features[1], to: features[0]))
    }

    private func mirrored(_ image: FrameImage) -> FrameImage {
        let (w, h) = (image.width, image.height)
        var planar = image.planar
        for row in 0..<(3 * h) { for x in 0..<w { planar[row * w + x] = image.planar[row * w + w - 1 - x] } }
        return FrameImage(width: w, height: h, planar: planar)
    }

    private func mirrored(_ field: FlowField) -> FlowField {
        let (w, h) = (field.width, field.height)
        var u = field.u, v = field.v
        for y in 0..<h { for x in 0..<w { u[y * w + x] = -field.u[y * w + w - 1 - x]; v[y * w + x] = field.v[y * w + w - 1 - x] } }
        return FlowField(width: w, height: h, u: u, v: v)
    }

    func testFlipAverageIsTheMeanWithTheMirroredPairsFlowAndExactlyMirrorSymmetric() throws {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 7)
        let plain = FlowEstimator(model: model), averaged = FlowEstimator(model: model, flipAverage: true)
        // An odd width: the mirrored frame is padded after mirroring, with the padder's uneven split.
        let (a, b) = (frame(width: 45, height: 40, shift: 0), frame(width: 45, height: 40, shift: 3))
        let field = averaged.flow(a, b)
        let forward = plain.flow(a, b), back = mirrored(plain.flow(mirrored(a), mirrored(b)))
        for i in [0, 44, 900, 45 * 40 - 1] {
            XCTAssertEqual(field.u[i], 0.5 * (forward.u[i] + back.u[i]), accuracy: 1e-6)
            XCTAssertEqual(field.v[i], 0.5 * (forward.v[i] + back.v[i]), accuracy: 1e-6)
        }
        XCTAssertNotEqual(forward, back, "an untrained network is not mirror symmetric, so the average changes the flow")
        let ofMirroredPair = averaged.flow(mirrored(a), mirrored(b))
        XCTAssertEqual(ofMirroredPair, mirrored(field), "mirroring the frames mirrors the averaged flow, bit for bit")
        XCTAssertNil(plain.features(a).mirroredPyramid, "the plain estimator encodes each frame once")
    }

    func testRefiningEstimatorRefinesThePlainFlowOnTheFramesLuma() {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 5)
        let refinement = CoarseToFineRefinement(refinement: VariationalRefinement(threads: 2))
        // A refining estimator refines the decoder's flow: the feature alignment is off by default there.
        let plain = FlowEstimator(model: model, alignmentIterations: 0)
        let refining = FlowEstimator(model: model, refinement: refinement)
        let (a, b) = (frame(width: 70, height: 52, shift: 0), frame(width: 70, height: 52, shift: 2))
        let expected = refinement.refine(plain.flow(a, b), from: GrayImage(width: 70, height: 52, planarRGB: a.planar),
                                         to: GrayImage(width: 70, height: 52, planarRGB: b.planar))
        XCTAssertEqual(refining.flow(a, b), expected)
        XCTAssertNotEqual(expected, plain.flow(a, b))
        XCTAssertNil(plain.features(a).luma, "only a refining estimator keeps the frame's luma")
        XCTAssertNotNil(refining.features(a).luma)
    }

    func testNormalisationUsesImageNetStatistics() {
        let x = Tensor(shape: [1, 3, 1, 1], values: [0.485, 0.456 + 0.224, 0.406 - 0.225])
        XCTAssertEqual(ImageNormalization.normalized(x).array.map { ($0 * 1e5).rounded() / 1e5 }, [0, 1, -1])
    }
}
