import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The recurrent refinement at the stop level (`refinement_iterations`): its backward against finite differences,
/// the decoder with it against PyTorch, its zero start, and its config in weights files.
final class RecurrentRefinementTests: TemporaryFolderTestCase {
    private static var refinedTest: ModelConfig {
        var config = ModelConfig.test
        config.refinementIterations = 4
        config.refinementWidth = 8
        return config
    }

    /// dL/d(every weight, the start flow, the hidden features, both frames' features) of L = sum(refined * upstream),
    /// through two iterations that share the weights, on a batch of two, against central differences.
    func testBackwardMatchesFiniteDifferences() {
        var config = ModelConfig.test
        config.refinementIterations = 2
        config.refinementWidth = 4
        let store = ParameterStore(config: config)
        let refinement = RecurrentRefinement.stopLevel(store)
        var rng = SplitMix64(seed: 3)
        func fill(_ t: Tensor, _ scale: Float) { for i in 0..<t.count { t.data[i] = rng.uniform(-scale, scale) } }
        func random(_ shape: [Int], _ scale: Float) -> Tensor {
            let t = Tensor(shape: shape)
            fill(t, scale)
            return t
        }
        // Weights large enough that each iteration moves the flow by about a pixel (the second warp samples other
        // cells than the first).
        for spec in store.specs { fill(store[spec.name], spec.name.contains(".out.") ? 0.3 : 0.6) }
        let (n, h, w) = (2, 5, 6)
        let flow = random([n, 2, h, w], 1.5), hidden = random([n, config.estimatorWidths.last!, h, w], 1)
        let f1 = random([n, 6, h, w], 1), f2 = random([n, 6, h, w], 1)
        let upstream = random([n, 2, h, w], 1)

        let (refined, record) = refinement.forward(flow: flow, context: hidden, f1: f1, f2: f2, recording: true)
        XCTAssertGreaterThan(zip(refined.array, flow.array).map { abs($0 - $1) }.max()!, 0.5, "the iterations move the flow")
        let g = refinement.backward(record!, gradFlow: upstream, store: store)
        func loss() -> Double {
            let y = refinement.forward(flow: flow, context: hidden, f1: f1, f2: f2, recording: false).0
            return zip(y.array, upstream.array).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var checked: [(String, Tensor, Tensor)] = [("flow", flow, g.flow), ("hidden", hidden, g.context),
                                                   ("f1", f1, g.f1), ("f2", f2, g.f2)]
        checked += store.specs.map { ($0.name, store[$0.name], store.gradient($0.name)) }
        // Piecewise linear (bilinear warps, leaky ReLUs): a kink on one side is allowed for.
        assertMatchesFiniteDifferences(checked, eps: 1e-3, loss: loss)
    }

    /// The decoder (convex upsampling, 3 iterations) against model.py: every level's flow and the full-size flow, then
    /// the gradients of every decoder parameter and of both frames' features.
    func testDecoderMatchesPyTorch() throws {
        let fixture = try ParityFixture.refinement()
        let config = try ModelConfig.fromJSON(try XCTUnwrap(fixture.metadata["config"])).get()
        XCTAssertEqual(config.refinementIterations, 3)
        let model = MCJEPAModel(config: config)
        for spec in model.parameters.specs where spec.name.hasPrefix("decoder.") {
            model.parameters[spec.name].assign(try fixture.tensor(spec.name))
        }
        let levels = config.decodedLevels
        func pyramid(_ frame: Int) throws -> [Tensor] {
            let stop = try fixture.tensor("io.feats\(frame).l\(config.decoderStopLevel)")
            return try (1...ModelConfig.levelCount).map { level in
                // The decoder reads nothing finer than its stop level: zeros of the right size stand in.
                guard level >= config.decoderStopLevel else {
                    let scale = 1 << (config.decoderStopLevel - level)
                    return Tensor(shape: [1, config.widths[level - 1], stop.h * scale, stop.w * scale])
                }
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
        for level in levels {
            try fixture.assertMatches(try XCTUnwrap(grads.feats1[level - 1]), "grad.feats1.l\(level)")
            try fixture.assertMatches(try XCTUnwrap(grads.feats2[level - 1]), "grad.feats2.l\(level)")
        }
    }

    /// Warm-started from a file without the head, a network with it computes exactly the file's flow (its `out` conv
    /// starts at zero); once that conv is not zero, the head changes the flow.
    func testAWarmStartedHeadStartsAtTheFilesFlow() throws {
        let base = MCJEPAModel(config: .test)
        base.initializeRandomly(seed: 5)
        let refined = MCJEPAModel(config: Self.refinedTest)
        refined.initializeRandomly(seed: 9)
        let fresh = try refined.warmStart(from: base, path: "base.safetensors")
        XCTAssertEqual(fresh, refined.parameters.specs.map(\.name).filter { $0.hasPrefix("decoder.refinement.") })
        XCTAssertEqual(fresh.count, 8)
        let frame1 = sineTexture(side: 64), frame2 = sineTexture(side: 64)
        let img1 = Tensor(shape: [1, 3, 64, 64], values: frame1.planar)
        let img2 = Tensor(shape: [1, 3, 64, 64], values: Array(frame2.planar[3...]) + frame2.planar[..<3])
        func flow(_ model: MCJEPAModel) -> [Float] { model.flow(model.encode(img1), model.encode(img2)).full.array }
        XCTAssertEqual(flow(refined), flow(base))
        refined.parameters["decoder.refinement.out.bias"].fill(0.25)
        XCTAssertNotEqual(flow(refined), flow(base))
    }

    /// A file of a network with the head carries `refinement_iterations` and `refinement_width` and loads back as the
    /// same network; a file without them is a network without the head.
    func testTheConfigRoundTripsThroughAWeightsFile() throws {
        let model = MCJEPAModel(config: Self.refinedTest)
        model.initializeRandomly(seed: 2)
        model.parameters["decoder.refinement.out.weight"].fill(0.01)
        let path = file("refined.safetensors")
        try WeightsFile.save(model, to: path, metadata: [:])
        let loaded = try WeightsFile.load(path: path).model
        XCTAssertEqual(loaded.config, Self.refinedTest)
        for spec in model.parameters.specs {
            XCTAssertEqual(loaded.parameters[spec.name].array, model.parameters[spec.name].array, spec.name)
        }
        XCTAssertTrue(Self.refinedTest.json.contains("\"refinement_iterations\":4"))
        XCTAssertTrue(Self.refinedTest.json.contains("\"refinement_width\":8"))
        XCTAssertFalse(ModelConfig.test.json.contains("refinement"))
        XCTAssertEqual(try ModelConfig.fromJSON(ModelConfig.test.json).get(), .test)
        XCTAssertTrue(Self.refinedTest.description.contains("refinement 4 iterations of width 8"),
                      Self.refinedTest.description)
    }

    /// Four iterations at width 64 on `tiny` at 640x384 (level 3: 80x48 cells): per iteration, the correlation of 32
    /// channels and the four convs (115 -> 64 1x1, 64 depthwise 3x3, 64 -> 64 1x1, 64 -> 2 3x3), bias-free counts.
    func testFLOPsCountEveryIteration() {
        var refined = ModelConfig.tiny
        refined.refinementIterations = 4
        refined.refinementWidth = 64
        let perIteration = 2 * 3840 * (81 * 32 + 64 * 115 + 64 * 9 + 64 * 64 + 2 * 64 * 9)
        XCTAssertEqual(ModelFLOPs.decoder(refined, height: 384, width: 640) - ModelFLOPs.decoder(.tiny, height: 384, width: 640),
                       Double(4 * perIteration))
    }

    func testInconsistentRefinementFieldsAreRejected() {
        var config = ModelConfig.test
        config.refinementIterations = 2
        XCTAssertEqual(config.validationError(), "refinement_width 0 is not in 1...1024 (refinement_iterations is 2)")
        config.refinementIterations = 0
        config.refinementWidth = 8
        XCTAssertEqual(config.validationError(), "refinement_width without refinement_iterations")
        config.refinementIterations = -1
        XCTAssertNotNil(config.validationError())
        var object = ModelConfig.test.jsonObject
        object["refinement_iterations"] = 3
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        guard case .failure(let error) = ModelConfig.fromJSON(text) else { return XCTFail("accepted \(text)") }
        XCTAssertTrue(error.reason.contains("refinement_width"), error.reason)
    }
}
