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
}
