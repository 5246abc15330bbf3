import CommandLineTestSupport
import FlowIO
import Foundation
import XCTest

/// Runs the built `mcjepa-video eval flow` once per exit path: the command only wires FlowSetEvaluation
/// (tested directly) to arguments, output and exit codes, which is what these check.
final class EvalFlowCommandTests: XCTestCase {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try runProcess(try commandLineTool(), arguments)
        return (result.status, result.out, result.err)
    }

    func test_eval_flow_scores_a_prediction_folder_as_json() throws {
        let tiny = try TinyFlowSet(self)
        let result = try run(["eval", "flow", tiny.set.path, "--pred", tiny.predictions.path, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let mean = try XCTUnwrap(object?["mean"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(mean["epe"] as? Double), 2.0 / 3, accuracy: 1e-6)
    }

    func test_eval_flow_with_baseline_prints_ratios_and_pairs_won() throws {
        let tiny = try TinyFlowSet(self)
        let zeroFolder = tiny.set.deletingLastPathComponent().appendingPathComponent("zero-pred")
        try FileManager.default.createDirectory(at: zeroFolder, withIntermediateDirectories: true)
        try FlowFile.write(.zero(width: 2, height: 1), to: zeroFolder.appendingPathComponent("a.flo"))
        try FlowFile.write(.zero(width: 2, height: 2), to: zeroFolder.appendingPathComponent("b.flo"))
        let result = try run(["eval", "flow", tiny.set.path, "--pred", tiny.predictions.path,
                              "--baseline", zeroFolder.path, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["pairs_won"] as? Int, 2)
        XCTAssertEqual((object["pairs"] as? [[String: Any]])?.count, 2)

        let missing = try run(["eval", "flow", tiny.set.path, "--pred", tiny.predictions.path,
                               "--baseline", zeroFolder.path + "-nope"])
        XCTAssertEqual(missing.status, 3)
        XCTAssertTrue(missing.stderr.contains("zero-pred-nope"), missing.stderr)
    }

    func test_eval_flow_zero_baseline_prints_a_table() throws {
        let tiny = try TinyFlowSet(self)
        let result = try run(["eval", "flow", tiny.set.path, "--pred", "zero"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("mean"), result.stdout)
        XCTAssertTrue(result.stdout.contains("10.333"), "mean of 3 and 17.667: \(result.stdout)")
    }

    /// Without --pred the built-in model runs, so it reads the pairs' images (this set's are not images: exit 3
    /// naming the file); a build without built-in weights asks for --model (exit 1). MCJEPATests scores real
    /// images with a given model.
    func test_eval_flow_without_pred_runs_the_built_in_model_or_asks_for_one() throws {
        let tiny = try TinyFlowSet(self)
        let result = try run(["eval", "flow", tiny.set.path])
        if builtInWeightsShipped {
            XCTAssertEqual(result.status, 3, result.stderr)
            XCTAssertTrue(result.stderr.contains("/SET/a/img1.png: cannot open"), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line: no weights banner off a terminal")
        } else {
            XCTAssertEqual(result.status, 1)
            XCTAssertTrue(result.stderr.contains("pass --model PATH"), result.stderr)
        }
    }

    func test_eval_flow_with_a_bad_file_exits_3_with_one_line() throws {
        let tiny = try TinyFlowSet(self)
        try Data("garbage".utf8).write(to: tiny.predictions.appendingPathComponent("a.flo"))
        let result = try run(["eval", "flow", tiny.set.path, "--pred", tiny.predictions.path])
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("a.flo"), result.stderr)
    }
}
