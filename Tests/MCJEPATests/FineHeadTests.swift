import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The fine head at level 2 (`fine_iterations`): its backward against finite differences, the decoder with it against
/// PyTorch, its exact zero start on a warm start (the built-in weights included), and its config.
final class FineHeadTests: TemporaryFolderTestCase {
    private static var fineTest: ModelConfig {
        var config = ModelConfig.test
        config.upsamplerWidth = 8
        config.fineIterations = 2
        config.fineWidth = 4
        return config
    }

    /// dL/d(every weight, the stop level's flow, both frames' level-2 features) of L = sum(full * upstream), through
    /// two iterations that share the weights, the start's upsampling and the correction's, on a batch of two,
    /// against central differences (or a one-sided one at a kink: `assertMatchesFiniteDifferences`).
    func testBackwardMatchesFiniteDifferences() {
        let config = Self.fineTest
        let store = ParameterStore(config: config)
        let head = FineHead(store)
        var rng = SplitMix64(seed: 4)
        func fill(_ t: Tensor, _ scale: Float) { for i in 0..<t.count { t.data[i] = rng.uniform(-scale, scale) } }
        func random(_ shape: [Int], _ scale: Float) -> Tensor {
            let t = Tensor(shape: shape)
            fill(t, scale)
            return t
        }
        for spec in store.specs where spec.name.hasPrefix("decoder.fine.") {
            fill(store[spec.name], spec.name.contains(".out.") ? 0.3 : 0.6)
        }
        let (n, h, w) = (2, 2, 2)  // the stop level (3); level 2 is 4x4, full size 16x16
        let channels = config.widths[ModelConfig.fineLevel - 1]
        let coarse = random([n, 2, h, w], 0.8), coarseFull = random([n, 2, 8 * h, 8 * w], 0.5)
        let f1 = random([n, channels, 2 * h, 2 * w], 1), f2 = random([n, channels, 2 * h, 2 * w], 1)
        let upstream = random([n, 2, 8 * h, 8 * w], 1)

        let (full, record) = head.forward(coarse: coarse, coarseFull: coarseFull, f1: f1, f2: f2, recording: true)
        let withoutHead = head.forward(coarse: coarse, coarseFull: coarseFull, f1: f1, f2: f2, recording: false).0
        XCTAssertEqual(full.array, withoutHead.array, "recording changes nothing")
        XCTAssertGreaterThan(zip(full.array, coarseFull.array).map { abs($0 - $1) }.max()!, 1, "the head moves the flow")
        let g = head.backward(record!, gradFull: upstream, store: store)!
        func loss() -> Double {
            let y = head.forward(coarse: coarse, coarseFull: coarseFull, f1: f1, f2: f2, recording: false).0
            return zip(y.array, upstream.array).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var checked: [(String, Tensor, Tensor)] = [("coarse", coarse, g.coarse), ("f1", f1, g.f1), ("f2", f2, g.f2)]
        checked += store.specs.filter { $0.name.hasPrefix("decoder.fine.") }
            .map { ($0.name, store[$0.name], store.gradient($0.name)) }
        // The correction reaches full size multiplied by 4 (flow in level-2 pixels): at eps 1e-3 the float rounding of
        // the forward already moves the differences by about 0.01.
        assertMatchesFiniteDifferences(checked, eps: 3e-3, loss: loss)
    }

    /// The decoder (convex upsampling, 2 fine iterations) against model.py: every level's flow and the full-size flow,
    /// then the gradients of every decoder parameter and of both frames' features, level 2 included.
    func testDecoderMatchesPyTorch() throws {
        let fixture = try ParityFixture.fine()
        let config = try ModelConfig.fromJSON(try XCTUnwrap(fixture.metadata["config"])).get()
        XCTAssertEqual(config.fineIterations, 2)
        let model = MCJEPAModel(config: config)
        for spec in model.parameters.specs where spec.name.hasPrefix("decoder.") {
            model.parameters[spec.name].assign(try fixture.tensor(spec.name))
        }
        let levels = config.decodedLevels, fine = ModelConfig.fineLevel
        func pyramid(_ frame: Int) throws -> [Tensor] {
            let finest = try fixture.tensor("io.feats\(frame).l\(fine)")
            return try (1...ModelConfig.levelCount).map { level in
                // The decoder reads nothing finer than level 2: zeros of the right size stand in.
                guard level >= fine else { return Tensor(shape: [1, config.widths[level - 1], finest.h * 2, finest.w * 2]) }
                return try fixture.tensor("io.feats\(frame).l\(level)")
            }
        }
        let feats1 = try pyramid(1), feats2 = try pyramid(2)
        let trace = model.flowForTraining(feats1, feats2)
        XCTAssertEqual(trace.full.array, model.flow(feats1, feats2).full.array)
        for (i, level) in levels.enumerated() { try fixture.assertMatches(trace.levels[i], "io.flow.l\(level)") }
        try fixture.assertMatches(trace.full, "io.flow.full")

        let grads = model.backwardFlow(trace, gradLevels: try levels.map { try fixture.tensor("ct.flow.l\($0)") },
                                       gradFull: try fixture.tensor("ct.full"))
        try fixture.assertParameterGradientsMatch(model, prefix: "decoder.")
        for level in [fine] + levels {
            try fixture.assertMatches(try XCTUnwrap(grads.feats1[level - 1]), "grad.feats1.l\(level)")
            try fixture.assertMatches(try XCTUnwrap(grads.feats2[level - 1]), "grad.feats2.l\(level)")
        }
    }

    /// Warm-started from the built-in weights, which have no fine head, a network with one computes their flow bit for
    /// bit (its `out` conv starts at zero); once that conv is not zero, the head changes the flow.
    func testAWarmStartedHeadComputesTheBuiltInFlowExactly() throws {
        let path = try XCTUnwrap(BuiltInWeights.path, "Sources/MCJEPA/Weights/mcjepa-tiny.safetensors is missing")
        let builtIn = try WeightsFile.load(path: path)
        XCTAssertEqual(builtIn.model.config.fineIterations, 0)
        let (model, fresh) = try MCJEPAModel.forTraining(
            preset: .tiny, choices: DecoderChoices(fineIterations: 3, fineWidth: 8), initial: builtIn, seed: 9)
        XCTAssertEqual(model.config.fineIterations, 3)
        XCTAssertEqual(fresh, model.parameters.specs.map(\.name).filter { $0.hasPrefix("decoder.fine.") })
        XCTAssertEqual(fresh.count, 8)
        XCTAssertEqual(model.parameters.specs.suffix(8).map(\.name), fresh, "the head's parameters come last")
        let frame1 = sineTexture(side: 64), frame2 = sineTexture(side: 64)
        let img1 = Tensor(shape: [1, 3, 64, 64], values: frame1.planar)
        let img2 = Tensor(shape: [1, 3, 64, 64], values: Array(frame2.planar[3...]) + frame2.planar[..<3])
        func flow(_ network: MCJEPAModel) -> [Float] { network.flow(network.encode(img1), network.encode(img2)).full.array }
        let reference = flow(builtIn.model)
        XCTAssertEqual(flow(model), reference)
        model.parameters["decoder.fine.out.bias"].fill(0.25)
        XCTAssertNotEqual(flow(model), reference)
    }

    /// A file with the head carries `fine_iterations` and `fine_width` and loads back as the same network; a file
    /// without them is a network without the head.
    func testTheConfigRoundTripsThroughAWeightsFile() throws {
        let model = MCJEPAModel(config: Self.fineTest)
        model.initializeRandomly(seed: 2)
        model.parameters["decoder.fine.out.weight"].fill(0.01)
        let path = file("fine.safetensors")
        try WeightsFile.save(model, to: path, metadata: [:])
        let loaded = try WeightsFile.load(path: path).model
        XCTAssertEqual(loaded.config, Self.fineTest)
        for spec in model.parameters.specs {
            XCTAssertEqual(loaded.parameters[spec.name].array, model.parameters[spec.name].array, spec.name)
        }
        XCTAssertTrue(Self.fineTest.json.contains("\"fine_iterations\":2"))
        XCTAssertTrue(Self.fineTest.json.contains("\"fine_width\":4"))
        XCTAssertFalse(ModelConfig.test.json.contains("fine"))
        XCTAssertTrue(Self.fineTest.description.contains("fine head 2 iterations of width 4"), Self.fineTest.description)
    }

    /// Three iterations at width 32 on `tiny` at 640x384 (level 2: 160x96 cells): per iteration, the correlation of 16
    /// channels and the four convs (99 -> 32 1x1, 32 depthwise 3x3, 32 -> 32 1x1, 32 -> 2 3x3), bias-free counts.
    func testFLOPsCountEveryIteration() {
        var fine = ModelConfig.tiny
        fine.fineIterations = 3
        fine.fineWidth = 32
        let perIteration = 2 * 15360 * (81 * 16 + 32 * 99 + 32 * 9 + 32 * 32 + 2 * 32 * 9)
        XCTAssertEqual(ModelFLOPs.decoder(fine, height: 384, width: 640) - ModelFLOPs.decoder(.tiny, height: 384, width: 640),
                       Double(3 * perIteration))
    }

    func testInconsistentFineFieldsAreRejected() {
        var config = ModelConfig.test
        config.fineIterations = 2
        XCTAssertEqual(config.validationError(), "fine_width 0 is not in 1...1024 (fine_iterations is 2)")
        config.fineWidth = 8
        XCTAssertNil(config.validationError())
        config.decoderStopLevel = 2
        XCTAssertEqual(config.validationError(),
                       "fine_iterations needs a decoder that stops above level 2 (decoder_stop_level is 2)")
        config = .test
        config.fineWidth = 8
        XCTAssertEqual(config.validationError(), "fine_width without fine_iterations")
        var object = ModelConfig.test.jsonObject
        object["fine_iterations"] = 3
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        guard case .failure(let error) = ModelConfig.fromJSON(text) else { return XCTFail("accepted \(text)") }
        XCTAssertTrue(error.reason.contains("fine_width"), error.reason)
        XCTAssertThrowsError(try MCJEPAModel.forTraining(
            preset: .test, choices: DecoderChoices(stopLevel: 2, fineIterations: 2), seed: 0)) { error in
            XCTAssertTrue("\(error)".contains("fine_iterations needs a decoder that stops above level 2"), "\(error)")
        }
    }
}
