import FlowIO
import Foundation
import NN
import VideoIO
import XCTest
@testable import MCJEPA

/// The built-in weights' outputs on a real frame pair, against values the code computed before the model
/// definition was restructured (issue 26): a refactor of the network must not change what the shipped weights
/// compute. Fixtures/builtin_regression.safetensors holds the decoder's flow (no alignment, no refinement) and the
/// network's flow (aligned on the level-1 features) of frames 0 -> 1 of Samples/realshort.mp4 at its full 320x240,
/// every 4th pixel of every 4th row, the flow of every decoded level,
/// and frame 0's content representation and embedding; builtin_regression_gradients.safetensors the training
/// passes' parameter gradients on crops of the same frames.
///
/// The fixtures are recordings, not a reference: when the network is meant to change (new weights), rewrite them with
/// `MCJEPA_WRITE_BUILTIN_REGRESSION=1 swift test --disable-swift-testing --filter BuiltInFlowRegressionTests`.
final class BuiltInFlowRegressionTests: XCTestCase {
    static let fixtureName = "builtin_regression"

    func testBuiltInWeightsComputeTheRecordedFlowAndContent() throws {
        let path = try XCTUnwrap(BuiltInWeights.path, "Sources/MCJEPA/Weights/mcjepa-tiny.safetensors is missing")
        let model = try WeightsFile.load(path: path).model
        let reader = try VideoReader(path: "\(samplesFolder)/realshort.mp4")
        let frames = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }
            .map { FrameImage(width: $0.width, height: $0.height, rgb8: $0.rgb) }
        let decoderOnly = FlowEstimator(model: model, alignmentIterations: 0), aligned = FlowEstimator(model: model)
        let features = frames.map { decoderOnly.features($0) }
        func everyFourth(_ field: FlowField) -> Tensor {
            let (width, height) = (field.width, field.height)
            let (subW, subH) = ((width + 3) / 4, (height + 3) / 4)
            var sampled = [Float](repeating: 0, count: 2 * subW * subH)
            for y in 0..<subH {
                for x in 0..<subW {
                    sampled[y * subW + x] = field.u[4 * y * width + 4 * x]
                    sampled[subW * subH + y * subW + x] = field.v[4 * y * width + 4 * x]
                }
            }
            return Tensor(shape: [2, subH, subW], values: sampled)
        }
        var actual: [String: Tensor] = [
            "flow_every_4th": everyFourth(decoderOnly.flow(from: features[0], to: features[1])),
            "aligned_flow_every_4th": everyFourth(aligned.flow(from: features[0], to: features[1]))]
        for (i, level) in model.flow(features[0].pyramid, features[1].pyramid).levels.enumerated() {
            actual["level_flow.\(i)"] = level
        }
        let content = model.content(features[0].pyramid)
        actual["representation"] = content.representation
        actual["embedding"] = content.embedding

        try compare(actual, fixture: Self.fixtureName, tolerance: 1e-5)
    }

    /// The training passes on the built-in network (per-level estimators, convex upsampler): forward with records,
    /// then backward for L = 1/2 |every output|^2 (each output's own values as its cotangent), on 64x64 crops of
    /// the same frames. Every parameter gradient is recorded as its sum and its sum of squares, relative to 1e-5.
    func testBuiltInWeightsTrainingGradientsAreTheRecordedOnes() throws {
        let path = try XCTUnwrap(BuiltInWeights.path, "Sources/MCJEPA/Weights/mcjepa-tiny.safetensors is missing")
        let model = try WeightsFile.load(path: path).model
        let reader = try VideoReader(path: "\(samplesFolder)/realshort.mp4")
        let crops = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }.map { frame -> Tensor in
            let image = FrameImage(width: frame.width, height: frame.height, rgb8: frame.rgb).tensor
            let crop = Tensor(shape: [1, 3, 64, 64])
            for c in 0..<3 {
                for y in 0..<64 {
                    for x in 0..<64 { crop.data[(c * 64 + y) * 64 + x] = image.data[(c * image.h + 100 + y) * image.w + 120 + x] }
                }
            }
            return crop
        }
        let t1 = model.encodeForTraining(crops[0]), t2 = model.encodeForTraining(crops[1])
        let fw = model.flowForTraining(t1.features, t2.features)
        let content = model.contentForTraining(t1.features)
        let fromFlow = model.backwardFlow(fw, gradLevels: fw.levels.map { $0.copy() }, gradFull: fw.full.copy())
        let dTop = model.backwardContent(content, gradRepresentation: content.representation.copy(),
                                         gradEmbedding: content.embedding.copy())
        var grad1 = fromFlow.feats1
        if let g = grad1[5] { accumulate(g, dTop) } else { grad1[5] = dTop }
        model.backwardEncoder(t1, gradFeatures: grad1)
        model.backwardEncoder(t2, gradFeatures: fromFlow.feats2)
        var actual: [String: Tensor] = ["full": fw.full]
        for spec in model.parameters.specs {
            let g = model.parameters.gradient(spec.name)
            var (sum, squares) = (0.0, 0.0)
            for i in 0..<g.count { sum += Double(g.data[i]); squares += Double(g.data[i]) * Double(g.data[i]) }
            actual["grad.\(spec.name)"] = Tensor(shape: [2], values: [Float(sum), Float(squares)])
        }
        try compare(actual, fixture: "builtin_regression_gradients", tolerance: 1e-5, relative: true)
    }

    /// `actual` against the recorded tensors (max |difference| <= tolerance, times max |recorded| when relative);
    /// with MCJEPA_WRITE_BUILTIN_REGRESSION=1, records `actual` instead.
    private func compare(_ actual: [String: Tensor], fixture: String, tolerance: Float, relative: Bool = false,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        if ProcessInfo.processInfo.environment["MCJEPA_WRITE_BUILTIN_REGRESSION"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/\(fixture).safetensors").path
            try Safetensors.write(actual, metadata: ["source": "Samples/realshort.mp4 frames 0 -> 1, built-in weights"],
                                  to: source)
            throw XCTSkip("wrote \(source)")
        }
        let fixturePath = try XCTUnwrap(Bundle.module.url(forResource: fixture, withExtension: "safetensors",
                                                          subdirectory: "Fixtures")).path
        let expected = try Safetensors.read(path: fixturePath).tensors
        XCTAssertEqual(Set(expected.keys), Set(actual.keys), file: file, line: line)
        for (name, want) in expected {
            let got = try XCTUnwrap(actual[name])
            XCTAssertEqual(got.shape, want.shape, name, file: file, line: line)
            guard got.shape == want.shape else { continue }
            var (worst, scale): (Float, Float) = (0, 0)
            for i in 0..<want.count {
                worst = max(worst, abs(got.data[i] - want.data[i]))
                scale = max(scale, abs(want.data[i]))
            }
            let allowed = relative ? tolerance * max(scale, 1e-12) : tolerance
            XCTAssertLessThanOrEqual(worst, allowed, "\(name) differs from the recording by \(worst)", file: file, line: line)
        }
    }
}
