import Dataset
import FlowIO
import Foundation
import VideoIO
import XCTest
@testable import MCJEPA
@testable import VideoPipeline

final class ShardFlowTests: XCTestCase {
    /// `preprocess --flow` stores the estimator's flow of the pair as .npy, and with `maskInconsistent` the
    /// forward-backward-checked flow, whose failing pixels come back unknown.
    func test_stored_flow_is_the_estimators_and_masked_where_the_check_fails() throws {
        let reader = try VideoReader(path: sample, options: DecodeOptions(size: .maxSide(64)))
        let frames = try (0..<3).map { _ in try XCTUnwrap(try reader.nextFrame()).image }
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 11)
        let estimator = FlowEstimator(model: model)
        var options = PreprocessOptions(output: "unused")
        options.storeFlow(of: estimator)
        let plain = try FlowFile.decode(try XCTUnwrap(options.pairFlow)(frames[0], frames[2]), format: .npy, name: "pair")
        XCTAssertEqual(plain, estimator.flow(from: frames[0], to: frames[2]))
        options.storeFlow(of: estimator, maskInconsistent: true)
        let masked = try FlowFile.decode(try XCTUnwrap(options.pairFlow)(frames[0], frames[2]), format: .npy, name: "pair")
        XCTAssertEqual(masked.valid, estimator.consistentFlow(from: frames[0], to: frames[2]).valid)
        XCTAssertLessThan(masked.valid.filter { $0 }.count, plain.valid.filter { $0 }.count, "a random network fails the check somewhere")
    }
}
