import Foundation
import XCTest
@testable import FlowIO

/// A tiny evaluation set in a temporary folder: pair "a" (.flo ground truth, 2x1) and pair "b" (KITTI PNG
/// ground truth, 2x2, one unknown pixel).
struct TinyFlowSet {
    let set: URL
    let predictions: URL
    let truthA = FlowField(width: 2, height: 1, u: [3, 0], v: [4, 1])
    let truthB = FlowField(width: 2, height: 2, u: [1, 2, 50, 0], v: [0, 0, 0, 0], valid: [true, true, true, false])

    init(_ testCase: XCTestCase) throws {
        let root = try makeTemporaryFolder(testCase)
        set = root.appendingPathComponent("SET")
        predictions = root.appendingPathComponent("pred")
        for pair in ["a", "b"] {
            try FileManager.default.createDirectory(at: set.appendingPathComponent(pair), withIntermediateDirectories: true)
            // The images are not read when predictions are given; their presence mirrors the real layout.
            for image in ["img1.png", "img2.png"] {
                try Data().write(to: set.appendingPathComponent(pair).appendingPathComponent(image))
            }
        }
        try FlowFile.write(truthA, to: set.appendingPathComponent("a/flow.flo"))
        try FlowFile.write(truthB, to: set.appendingPathComponent("b/flow.png"))
        try FileManager.default.createDirectory(at: predictions.appendingPathComponent("b"), withIntermediateDirectories: true)
        // Pair a predicted exactly; pair b predicted as PAIR/flow.npy, off by (0, 4) on one pixel.
        try FlowFile.write(truthA, to: predictions.appendingPathComponent("a.flo"))
        try FlowFile.write(FlowField(width: 2, height: 2, u: [1, 2, 50, 9], v: [0, 4, 0, 9]),
                           to: predictions.appendingPathComponent("b/flow.npy"))
    }
}

final class FlowSetEvaluationTests: XCTestCase {
    func test_scores_each_pair_and_the_mean_over_pairs() throws {
        let tiny = try TinyFlowSet(self)
        let report = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .folder(tiny.predictions))
        XCTAssertEqual(report.pairs.map(\.pair), ["a", "b"])
        XCTAssertEqual(report.pairs[0].scores.epe, 0)
        // Pair b: errors 0, 4, 0 over its three known pixels; 4 px is > 3 and > 5% of |gt| = 2: an outlier.
        XCTAssertEqual(report.pairs[1].scores.epe, 4.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(report.pairs[1].scores.flAll, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(report.pairs[1].scores.validPixels, 3)
        XCTAssertEqual(report.mean.epe, (0 + 4.0 / 3) / 2, accuracy: 1e-6)
        XCTAssertEqual(report.mean.px5, 1)
    }

    func test_zero_baseline_scores_the_ground_truth_magnitudes() throws {
        let tiny = try TinyFlowSet(self)
        let report = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .zero)
        XCTAssertEqual(report.pairs[0].scores.epe, 3)          // (5 + 1) / 2
        XCTAssertEqual(report.pairs[1].scores.epe, 53.0 / 3, accuracy: 1e-5)
    }

    func test_missing_prediction_names_the_pair() throws {
        let tiny = try TinyFlowSet(self)
        try FileManager.default.removeItem(at: tiny.predictions.appendingPathComponent("b/flow.npy"))
        assertFlowError(try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .folder(tiny.predictions)),
                        file: "b.flo", cause: "no prediction for pair 'b'")
    }

    func test_prediction_of_the_wrong_size_is_rejected() throws {
        let tiny = try TinyFlowSet(self)
        try FlowFile.write(.zero(width: 3, height: 1), to: tiny.predictions.appendingPathComponent("a.flo"))
        assertFlowError(try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .folder(tiny.predictions)),
                        file: "a.flo", cause: "prediction is 3x1 but the ground truth")
    }

    func test_set_without_pairs_or_pair_without_ground_truth_is_rejected() throws {
        let tiny = try TinyFlowSet(self)
        try FileManager.default.createDirectory(at: tiny.set.appendingPathComponent("c"), withIntermediateDirectories: true)
        assertFlowError(try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .zero), file: "c", cause: "no ground truth")
        let empty = try makeTemporaryFolder(self)
        assertFlowError(try FlowSetEvaluation.evaluate(set: empty, predictions: .zero), file: empty.path, cause: "no pairs found")
    }

    func test_json_report_has_per_pair_and_mean_fields() throws {
        let tiny = try TinyFlowSet(self)
        let report = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .zero)
        let object = try JSONSerialization.jsonObject(with: Data(FlowSetEvaluation.json(report).utf8)) as? [String: Any]
        let mean = try XCTUnwrap(object?["mean"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(mean["epe"] as? Double), report.mean.epe, accuracy: 1e-12)
        XCTAssertNotNil(mean["fl_all"])
        XCTAssertNotNil(mean["valid_pixels"])
        XCTAssertEqual(try XCTUnwrap(mean["epe_slow"] as? Double), try XCTUnwrap(report.mean.epeSlow), accuracy: 1e-12)
        XCTAssertEqual((object?["pairs"] as? [Any])?.count, 2)
    }

    func test_table_lists_pairs_and_mean_in_percent() throws {
        let tiny = try TinyFlowSet(self)
        let table = FlowSetEvaluation.table(try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .folder(tiny.predictions)))
        let lines = table.split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[2].hasPrefix("b "))
        XCTAssertTrue(lines[2].contains("1.333"))
        XCTAssertTrue(lines[2].contains("33.33"), "Fl-all in percent: \(lines[2])")
        // EPE per speed band: b's speeds 1 and 2 (errors 0 and 4) and 50 (error 0); nothing at 10-40 px.
        XCTAssertTrue(lines[0].hasSuffix("s0-10   s10-40     s40+"), String(lines[0]))
        XCTAssertTrue(lines[2].hasSuffix("2.00        -     0.00"), String(lines[2]))
        XCTAssertTrue(lines[3].hasPrefix("mean"))
    }
}
