import Foundation
import NN
import XCTest
@testable import MCJEPA

final class WeightsFileTests: TemporaryFolderTestCase {
    func testParameterNamesAndCountMatchTheReferenceTable() {
        // MODEL.md section 12: tiny with a shared estimator and bilinear upsampling has 1,875,636 parameters (encoder
        // 1,040,736, decoder 175,956, expander 658,944).
        let specs = ParameterStore.expectedSpecs(.tinySharedBilinear)
        func count(_ prefix: String) -> Int { specs.filter { $0.name.hasPrefix(prefix) }.reduce(0) { $0 + $1.count } }
        XCTAssertEqual(count(""), 1_875_636)
        XCTAssertEqual(count("encoder."), 1_040_736)
        XCTAssertEqual(count("decoder."), 175_956)
        XCTAssertEqual(count("expander."), 658_944)
        XCTAssertEqual(specs.first?.name, "encoder.levels.0.conv.weight")
        XCTAssertEqual(specs.first { $0.name == "decoder.estimator.convs.0.weight" }?.shape, [48, 115, 3, 3])
        XCTAssertEqual(specs.first { $0.name == "decoder.context.convs.0.weight" }?.shape, [32, 34, 3, 3])
        XCTAssertEqual(specs.last?.name, "expander.norms.1.bias")
    }

    func testConfigJSONRoundTripsAndReadsTheReferenceSpelling() throws {
        let reference = #"{"widths": [16, 16, 32, 64, 128, 256], "blocks": [1, 1, 2, 1], "decoder_stop_level": 3, "reduced_channels": 32, "estimator_widths": [48, 48, 32, 32, 32], "estimator_norm": true, "context_widths": [32, 32, 32, 32, 32, 32], "context_dilations": [1, 2, 4, 8, 16, 1], "expander_widths": [512, 512, 512]}"#
        XCTAssertEqual(try ModelConfig.fromJSON(reference).get(), .tinySharedBilinear)
        for preset in [ModelConfig.paper, .tiny, .test] { XCTAssertEqual(try ModelConfig.fromJSON(preset.json).get(), preset) }
        guard case .failure(let error) = ModelConfig.fromJSON(#"{"widths": [1, 2]}"#) else { return XCTFail("accepted a partial config") }
        XCTAssertTrue(error.reason.contains("blocks") || error.reason.contains("estimator_norm"), error.reason)
        // The convex upsampler's width is written only when nonzero (bilinear files stay as they were).
        XCTAssertFalse(ModelConfig.tinySharedBilinear.json.contains("upsampler_width"))
        var convex = ModelConfig.tinySharedBilinear
        convex.upsamplerWidth = 32
        XCTAssertTrue(convex.json.contains(#""upsampler_width":32"#), convex.json)
        XCTAssertEqual(try ModelConfig.fromJSON(convex.json).get(), convex)
        XCTAssertEqual(try ModelConfig.fromJSON(reference.replacingOccurrences(of: "}", with: #", "upsampler_width": 32}"#)).get(), convex)
        guard case .failure(let negative) = ModelConfig.fromJSON(convex.json.replacingOccurrences(of: #""upsampler_width":32"#, with: #""upsampler_width":-3"#))
        else { return XCTFail("accepted a negative upsampler width") }
        XCTAssertTrue(negative.reason.contains("negative"), negative.reason)
        let specs = ParameterStore.expectedSpecs(convex)
        XCTAssertEqual(specs.suffix(4).map(\.name), ["decoder.upsampler.conv.weight", "decoder.upsampler.conv.bias",
                                                      "decoder.upsampler.mask.weight", "decoder.upsampler.mask.bias"])
        XCTAssertEqual(specs.first { $0.name == "decoder.upsampler.conv.weight" }?.shape, [32, 66, 3, 3])
        XCTAssertEqual(specs.first { $0.name == "decoder.upsampler.mask.weight" }?.shape, [576, 32, 1, 1])
    }

    /// The trials' zero-motion correlation and context features are gone: a file that has them is refused by name.
    func testTheRemovedTrialFeaturesAreRefusedByName() throws {
        for key in ["zero_motion_correlation", "context_features"] {
            let json = ModelConfig.tiny.json.replacingOccurrences(of: "{", with: "{\"\(key)\":true,")
            guard case .failure(let error) = ModelConfig.fromJSON(json) else { return XCTFail("accepted \(key)") }
            XCTAssertTrue(error.reason.contains(key), error.reason)
        }
    }

    func testPerLevelEstimatorsAreNamedByLevelAndWrittenOnlyWhenOn() throws {
        XCTAssertFalse(ModelConfig.tinySharedBilinear.json.contains("per_level_estimators"))
        var perLevel = ModelConfig.tinySharedBilinear
        perLevel.perLevelEstimators = true
        XCTAssertTrue(perLevel.json.contains(#""per_level_estimators":true"#), perLevel.json)
        XCTAssertEqual(try ModelConfig.fromJSON(perLevel.json).get(), perLevel)
        guard case .failure(let notBool) = ModelConfig.fromJSON(perLevel.json.replacingOccurrences(of: #""per_level_estimators":true"#, with: #""per_level_estimators":"yes""#))
        else { return XCTFail("accepted a string for per_level_estimators") }
        XCTAssertTrue(notBool.reason.contains("per_level_estimators"), notBool.reason)
        // Four decoded levels (6..3), each with the shared estimator's tensors under its own name; nothing else moves.
        let shared = ParameterStore.expectedSpecs(.tinySharedBilinear), split = ParameterStore.expectedSpecs(perLevel)
        let estimator = shared.filter { $0.name.hasPrefix("decoder.estimator.") }
        XCTAssertEqual(split.filter { $0.name.hasPrefix("decoder.estimator.") }, [])
        for level in 3...6 {
            let prefix = "decoder.estimators.l\(level)."
            XCTAssertEqual(split.filter { $0.name.hasPrefix(prefix) }.map { ParameterSpec(name: "decoder.estimator." + $0.name.dropFirst(prefix.count), shape: $0.shape) },
                           estimator)
        }
        XCTAssertEqual(split.filter { !$0.name.hasPrefix("decoder.estimators.") }, shared.filter { !$0.name.hasPrefix("decoder.estimator.") })
        XCTAssertEqual(MCJEPAModel(config: perLevel).parameters.parameterCount,
                       MCJEPAModel(config: .tinySharedBilinear).parameters.parameterCount + 3 * estimator.reduce(0) { $0 + $1.count })
        XCTAssertTrue(perLevel.description.contains("an estimator per level"), perLevel.description)
    }

    func testSavedWeightsLoadBackIdentically() throws {
        let (path, model) = try savedTestModel(seed: 7)
        let loaded = try WeightsFile.load(path: path)
        XCTAssertEqual(loaded.model.config, .test)
        XCTAssertEqual(loaded.metadata["format"], "mcjepa-v1")
        XCTAssertEqual(loaded.metadata["step"], "0")
        XCTAssertTrue(loaded.banner.contains("64132 parameters"), loaded.banner)
        for spec in model.parameters.specs {
            XCTAssertEqual(loaded.model.parameters[spec.name].array, model.parameters[spec.name].array, spec.name)
        }
        XCTAssertNotEqual(model.parameters["encoder.levels.0.conv.weight"].array.max(), 0, "random init wrote nothing")
    }

    /// Rewrites a saved model with `edit` applied to its tensors and returns the load error.
    private func loadError(_ edit: (inout [String: Tensor]) -> Void, metadata: [String: String]? = nil) throws -> String {
        let (path, _) = try savedTestModel()
        var (tensors, meta) = try Safetensors.read(path: path)
        edit(&tensors)
        let edited = file("edited.safetensors")
        try Safetensors.write(tensors, metadata: metadata ?? meta, to: edited)
        do {
            _ = try WeightsFile.load(path: edited)
            XCTFail("loaded a broken file")
            return ""
        } catch let error as WeightsError {
            XCTAssertEqual(error.path, edited)
            XCTAssertFalse(error.description.contains("\n"), "one line")
            return error.description
        }
    }

    func testMissingTensorIsNamed() throws {
        let message = try loadError { $0["decoder.context.out.bias"] = nil }
        XCTAssertTrue(message.contains("missing 1 tensor(s): decoder.context.out.bias"), message)
    }

    func testWrongShapeIsNamed() throws {
        let message = try loadError { $0["decoder.reduce.l4.weight"] = Tensor(shape: [8, 16, 3, 3]) }
        XCTAssertTrue(message.contains("decoder.reduce.l4.weight is [8, 16, 3, 3], expected [8, 16, 1, 1]"), message)
    }

    func testUnexpectedTensorIsNamed() throws {
        let message = try loadError { $0["decoder.reduce.l2.weight"] = Tensor(shape: [8, 8, 1, 1]) }
        XCTAssertTrue(message.contains("unexpected 1 tensor(s): decoder.reduce.l2.weight"), message)
    }

    func testConfigOfAnotherModelIsReportedAsMisShaped() throws {
        let message = try loadError({ _ in }, metadata: ["config": ModelConfig.tiny.json])
        XCTAssertTrue(message.contains("wrong shape: encoder.levels.0.conv.weight is [8, 3, 4, 4], expected [16, 3, 4, 4]"), message)
    }

    func testWrongDtypeIsNamed() throws {
        let (path, _) = try savedTestModel()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Relabel one tensor's F32 as I32 (same byte size, so the container stays valid).
        let header = String(decoding: bytes[8..<min(bytes.count, 8 + 20_000)], as: UTF8.self)
        let key = "\"decoder.context.out.bias\":{\"dtype\":\"F32\""
        let range = try XCTUnwrap(header.range(of: key))
        let offset = 8 + header.utf8.distance(from: header.startIndex, to: range.upperBound) - 4
        bytes.replaceSubrange(offset..<(offset + 3), with: Array("I32".utf8))
        let edited = file("dtype.safetensors")
        try bytes.write(to: URL(fileURLWithPath: edited))
        XCTAssertThrowsError(try WeightsFile.load(path: edited)) { error in
            XCTAssertTrue("\(error)".contains("decoder.context.out.bias is I32, expected F32"), "\(error)")
        }
    }

    func testTruncatedAndHostileFilesAreRefusedWithoutCrashing() throws {
        let (path, _) = try savedTestModel()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = file("truncated.safetensors")
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try WeightsFile.load(path: truncated)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(truncated): "), "\(error)")
            XCTAssertTrue("\(error)".contains("outside"), "\(error)")
        }
        // Header length far beyond the file.
        var hostile = bytes
        hostile.replaceSubrange(0..<8, with: [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])
        let beyond = file("beyond.safetensors")
        try hostile.write(to: URL(fileURLWithPath: beyond))
        XCTAssertThrowsError(try WeightsFile.load(path: beyond)) { error in
            XCTAssertTrue("\(error)".contains("header length"), "\(error)")
        }
        let tiny = file("short.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        XCTAssertThrowsError(try WeightsFile.load(path: tiny))
        XCTAssertThrowsError(try WeightsFile.load(path: file("does-not-exist.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }

    func testFileWithoutConfigMetadataIsMatchedToItsPreset() throws {
        let (path, _) = try savedTestModel()
        let (tensors, _) = try Safetensors.read(path: path)
        let bare = file("bare.safetensors")
        try Safetensors.write(tensors, to: bare)
        XCTAssertEqual(try WeightsFile.load(path: bare).model.config, .test)
    }
}
