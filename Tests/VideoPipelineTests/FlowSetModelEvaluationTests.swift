import FlowIO
import Foundation
import VideoIO
import XCTest
@testable import MCJEPA
@testable import VideoPipeline

final class FlowSetModelEvaluationTests: XCTestCase {
    /// `eval flow` runs the model through the pipeline (`FlowPairs` on the pair's two images): its scores are those
    /// of the one-line library call on the same images, and a pair whose image cannot be read is named.
    func test_the_model_is_scored_on_the_flow_the_pipeline_computes_for_each_pair() async throws {
        let set = URL(fileURLWithPath: NSTemporaryDirectory() + "evalset-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: set) }
        let reader = try VideoReader(path: sample, options: DecodeOptions(size: .maxSide(64)))
        let frames = try (0..<3).map { _ in try XCTUnwrap(try reader.nextFrame()) }
        for (pair, (first, second)) in ["a": (0, 1), "b": (0, 2)] {
            let folder = set.appendingPathComponent(pair)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try writePNG(frames[first].image, path: folder.appendingPathComponent("img1.png").path)
            try writePNG(frames[second].image, path: folder.appendingPathComponent("img2.png").path)
            let (w, h) = (frames[0].width, frames[0].height)
            try FlowFile.write(FlowField(width: w, height: h, u: [Float](repeating: 1, count: w * h), v: [Float](repeating: 0, count: w * h)),
                               to: folder.appendingPathComponent("flow.flo"))
        }
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 7)
        let estimator = FlowEstimator(model: model)

        let (report, seconds) = try await FlowSetEvaluation.evaluate(set: set, estimator: estimator, name: "test model")
        XCTAssertEqual(report.prediction, "test model")
        XCTAssertEqual(report.pairs.map(\.pair), ["a", "b"])
        XCTAssertGreaterThan(seconds, 0)
        for result in report.pairs {
            let folder = set.appendingPathComponent(result.pair)
            let direct = try estimator.flow(fromImage: folder.appendingPathComponent("img1.png").path,
                                            toImage: folder.appendingPathComponent("img2.png").path)
            let expected = try XCTUnwrap(try FlowMetrics.scores(prediction: direct, groundTruth: try FlowFile.read(folder.appendingPathComponent("flow.flo"))))
            XCTAssertEqual(result.scores, expected, result.pair)
        }
        XCTAssertNotEqual(report.pairs[0].scores.epe, report.pairs[1].scores.epe)

        try Data("not a png".utf8).write(to: set.appendingPathComponent("b/img2.png"))
        do {
            _ = try await FlowSetEvaluation.evaluate(set: set, estimator: estimator, name: "test model")
            XCTFail("an unreadable image must be refused")
        } catch let error as VideoIOError {
            XCTAssertTrue(error.description.contains(set.appendingPathComponent("b/img2.png").path), error.description)
        }
    }
}
