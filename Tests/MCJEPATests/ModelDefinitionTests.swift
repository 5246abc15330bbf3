import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The modules declare their parameters as they are built: the declarations without allocating are the built
/// network's, and the seeded initialisation and FLOP counts are what the hand-written spec list, initialisation
/// rules and FLOP formula gave before the model definition was restructured (values recorded from that code).
final class ModelDefinitionTests: XCTestCase {
    /// The built-in weights' network: tiny with an estimator per level and a convex upsampler of width 32.
    var shipped: ModelConfig {
        var config = ModelConfig.tinySharedBilinear
        config.upsamplerWidth = 32
        config.perLevelEstimators = true
        return config
    }

    func testExpectedSpecsAreTheBuiltNetworksParameters() {
        var level2 = ModelConfig.test
        level2.decoderStopLevel = 2
        level2.upsamplerWidth = 8
        for config in [ModelConfig.test, .tinySharedBilinear, shipped, level2] {
            let model = MCJEPAModel(config: config)
            XCTAssertEqual(ParameterStore.expectedSpecs(config), model.parameters.specs)
            XCTAssertEqual(Set(model.parameters.tensors.keys), Set(model.parameters.specs.map(\.name)))
            for spec in model.parameters.specs { XCTAssertEqual(model.parameters[spec.name].shape, spec.shape, spec.name) }
        }
        // The convex upsampler is listed last (it was added last), whatever the order of construction.
        XCTAssertEqual(ParameterStore.expectedSpecs(shipped).suffix(4).map(\.name).first, "decoder.upsampler.conv.weight")
    }

    /// `train --preset tiny` trains the network of the built-in weights; `--upsampler-width 0
    /// --no-per-level-estimators` the one the training recipe started from.
    func testTheTinyPresetIsTheBuiltInWeightsNetwork() throws {
        XCTAssertEqual(ModelConfig.tiny, shipped)
        let path = try XCTUnwrap(BuiltInWeights.path, "Sources/MCJEPA/Weights/mcjepa-tiny.safetensors is missing")
        XCTAssertEqual(try WeightsFile.load(path: path).model.config, .tiny)
        XCTAssertEqual(ModelConfig.tiny.presetName, "tiny")
        XCTAssertTrue(ModelConfig.tiny.description.hasPrefix("tiny ("), ModelConfig.tiny.description)
        XCTAssertTrue(ModelConfig.tinySharedBilinear.description.hasPrefix("tiny ("), ModelConfig.tinySharedBilinear.description)
        XCTAssertNil(ModelConfig.tinySharedBilinear.presetName)
    }

    func testSeededInitialisationIsTheRecordedOne() {
        // FNV-1a of each parameter's float bits, combined by FNV-1a in spec order; seed 7.
        func checksum(_ config: ModelConfig) -> UInt64 {
            let model = MCJEPAModel(config: config)
            model.initializeRandomly(seed: 7)
            var combined: UInt64 = 1469598103934665603
            for spec in model.parameters.specs {
                let t = model.parameters[spec.name]
                var h: UInt64 = 1469598103934665603
                for i in 0..<t.count { h = (h ^ UInt64(t.data[i].bitPattern)) &* 1099511628211 }
                combined = (combined ^ h) &* 1099511628211
            }
            return combined
        }
        XCTAssertEqual(checksum(.tinySharedBilinear), 15483335656688034094)
        XCTAssertEqual(checksum(.test), 8699842154369481068)
        XCTAssertEqual(checksum(shipped), 4300601219422167793)
    }

    func testFLOPsAreTheRecordedCounts() {
        XCTAssertEqual(ModelFLOPs.encoder(.tinySharedBilinear, height: 384, width: 640), 568227840)
        XCTAssertEqual(ModelFLOPs.decoder(.tinySharedBilinear, height: 384, width: 640), 1538720640)
        XCTAssertEqual(ModelFLOPs.decoder(shipped, height: 384, width: 640), 1835107200)
        XCTAssertEqual(ModelFLOPs.encoder(.paper, height: 384, width: 640), 11935918080)
        XCTAssertEqual(ModelFLOPs.decoder(.paper, height: 384, width: 640), 36886602240)
    }
}
