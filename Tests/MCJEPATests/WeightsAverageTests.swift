import Foundation
import NN
import XCTest
@testable import MCJEPA

/// `WeightsAverage` and the `average` command: the mean of weights files of one model, refused for files of
/// different models and for unusable files, with nothing written then.
final class WeightsAverageTests: TemporaryFolderTestCase {
    func testTheAverageIsTheMeanOfEveryParameter() throws {
        let (first, a) = try savedTestModel(seed: 1)
        let (second, b) = try savedTestModel(seed: 2)
        let (third, c) = try savedTestModel(seed: 3)
        let (model, metadata) = try WeightsAverage.average(paths: [first, second, third])
        XCTAssertEqual(model.config, .test)
        XCTAssertEqual(metadata["averaged_from"], "[\"\(first)\",\"\(second)\",\"\(third)\"]")
        for spec in a.parameters.specs {
            let (x, y, z) = (a.parameters[spec.name].array, b.parameters[spec.name].array, c.parameters[spec.name].array)
            let expected = (0..<x.count).map { Float((Double(x[$0]) + Double(y[$0]) + Double(z[$0])) / 3) }
            XCTAssertEqual(model.parameters[spec.name].array, expected, spec.name)
        }
        XCTAssertNotEqual(a.parameters["encoder.levels.0.conv.weight"].array, b.parameters["encoder.levels.0.conv.weight"].array,
                          "the seeds give different models")
    }

    func testFilesOfDifferentModelsAreRefusedNamingTheFile() throws {
        let (first, _) = try savedTestModel(seed: 1)
        var config = ModelConfig.test
        config.upsamplerWidth = 8
        let other = MCJEPAModel(config: config)
        other.initializeRandomly(seed: 2)
        let otherPath = file("other.safetensors")
        try WeightsFile.save(other, to: otherPath)
        XCTAssertThrowsError(try WeightsAverage.average(paths: [first, otherPath])) { error in
            let message = (error as? WeightsError)?.description ?? "\(error)"
            XCTAssertTrue(message.hasPrefix("\(otherPath): holds config"), message)
        }
        XCTAssertThrowsError(try WeightsAverage.average(paths: [first])) { error in
            XCTAssertTrue("\(error)".contains("at least two weights files"), "\(error)")
        }
    }

    func testTheCommandWritesALoadableAverageAndNothingOnBadInput() throws {
        let tool = try commandLineTool()
        let (first, _) = try savedTestModel(seed: 1)
        let (second, _) = try savedTestModel(seed: 2)
        let out = file("soup/average.safetensors")
        let result = try runProcess(tool, ["average", first, second, "-o", out])
        XCTAssertEqual(result.status, 0, result.err)
        let expected = try WeightsAverage.average(paths: [first, second]).model
        let loaded = try WeightsFile.load(path: out)
        for spec in expected.parameters.specs {
            XCTAssertEqual(loaded.model.parameters[spec.name].array, expected.parameters[spec.name].array, spec.name)
        }

        let again = try runProcess(tool, ["average", first, second, "-o", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("\(out): already exists; pass -y/--overwrite"), again.err)

        let broken = file("broken.safetensors")
        try Data("not a weights file".utf8).write(to: URL(fileURLWithPath: broken))
        let bad = file("bad.safetensors")
        let refused = try runProcess(tool, ["average", first, broken, "-o", bad])
        XCTAssertEqual(refused.status, 3)
        XCTAssertTrue(refused.err.hasPrefix("mcjepa-video: \(broken): "), refused.err)
        XCTAssertEqual(refused.err.split(separator: "\n").count, 1, refused.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad), "nothing written")

        let single = try runProcess(tool, ["average", first, "-o", bad])
        XCTAssertEqual(single.status, 2, single.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad))
    }

    /// A saved test model whose last stored value is replaced by `value` (a hostile file: the writer refuses
    /// to write one, so the bytes are edited).
    private func modelHolding(_ value: Float, name: String) throws -> String {
        let (path, _) = try savedTestModel(seed: 4)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange((bytes.count - 4)..<bytes.count, with: $0) }
        let edited = file(name)
        try bytes.write(to: URL(fileURLWithPath: edited))
        return edited
    }

    func testNonFiniteInputsAreRefusedAndNoAverageIsWritten() throws {
        let tool = try commandLineTool()
        let (good, _) = try savedTestModel(seed: 1)
        for (value, name) in [(Float.nan, "nan.safetensors"), (.infinity, "inf.safetensors")] {
            let hostile = try modelHolding(value, name: name)
            XCTAssertThrowsError(try WeightsFile.load(path: hostile)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(hostile): tensor "), "\(error)")
                XCTAssertTrue("\(error)".contains("is not finite"), "\(error)")
            }
            XCTAssertThrowsError(try WeightsAverage.average(paths: [good, hostile]))
            let out = file("soup-\(name)")
            let refused = try runProcess(tool, ["average", good, hostile, "-o", out])
            XCTAssertEqual(refused.status, 3, refused.err)
            XCTAssertTrue(refused.err.contains("not finite"), refused.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
        }
    }

    func testAModelHoldingANaNIsNeverSaved() throws {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 5)
        model.parameters["decoder.context.out.bias"].data[0] = .nan
        let out = file("nan-model.safetensors")
        XCTAssertThrowsError(try WeightsFile.save(model, to: out)) { error in
            XCTAssertTrue("\(error)".contains("decoder.context.out.bias"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
