import Foundation
import VideoIO
import XCTest
@testable import Segmentation

/// Runs the built `mcjepa-video eval vos` on a tiny DAVIS folder made here: the command only wires
/// DAVISEvaluation (tested directly) to arguments, output and exit codes, which is what these check.
final class EvalVOSCommandTests: XCTestCase {
    func binary() throws -> URL {
        let candidates = [
            Bundle.main.bundleURL,
            Bundle(for: Self.self).bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug"),
        ].map { $0.appendingPathComponent("mcjepa-video") }
        return try XCTUnwrap(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                             "mcjepa-video is not built next to the tests (looked in \(candidates.map(\.path)))")
    }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// One sequence "box" of four 8x8 frames: a 4x4 object at columns 0-3 in frame 0, then at columns 2-5.
    /// Annotations are DAVIS-2016 style grayscale 0/255; the prediction folder holds the exact masks as palette
    /// PNGs (object 1).
    func makeTinyDAVIS() throws -> (root: URL, predictions: URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-davis-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let annotations = root.appendingPathComponent("Annotations/480p/box")
        let predictions = root.appendingPathComponent("pred/box")
        for folder in [annotations, predictions, root.appendingPathComponent("JPEGImages/480p/box")] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        for t in 0..<4 {
            let left = t == 0 ? 0 : 2
            let ids = (0..<64).map { i -> UInt8 in (i / 8 < 4 && (left..<left + 4).contains(i % 8)) ? 1 : 0 }
            let name = String(format: "%05d.png", t)
            try writeLabelPNG(LabelImage(width: 8, height: 8, labels: ids.map { $0 * 255 }),
                              path: annotations.appendingPathComponent(name).path)
            try DAVISMasks.write(ids, width: 8, height: 8, path: predictions.appendingPathComponent(name).path)
        }
        return (root, root.appendingPathComponent("pred"))
    }

    func test_eval_vos_scores_exact_predictions_as_one() throws {
        let tiny = try makeTinyDAVIS()
        let result = try run(["eval", "vos", tiny.root.path, "--pred", tiny.predictions.path, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(object["jAndF"] as? Double), 1, accuracy: 1e-12)
        let sequences = try XCTUnwrap(object["sequences"] as? [[String: Any]])
        XCTAssertEqual(sequences.first?["sequence"] as? String, "box")
    }

    func test_eval_vos_first_mask_baseline_prints_a_table() throws {
        let tiny = try makeTinyDAVIS()
        let result = try run(["eval", "vos", tiny.root.path, "--pred", "first-mask", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        // Frames 1 and 2 are scored: the first mask overlaps the moved object on 8 of 24 pixels.
        XCTAssertEqual(try XCTUnwrap(object["j"] as? Double), 1.0 / 3.0, accuracy: 1e-12)
        let table = try run(["eval", "vos", tiny.root.path, "--pred", "first-mask"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("box") && table.stdout.contains("0.333"), table.stdout)
    }

    func test_eval_vos_without_pred_is_a_usage_error_and_bad_folders_are_bad_input() throws {
        let tiny = try makeTinyDAVIS()
        let usage = try run(["eval", "vos", tiny.root.path])
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.stderr.contains("--pred"), usage.stderr)
        let missing = try run(["eval", "vos", tiny.root.appendingPathComponent("nope").path, "--pred", "first-mask"])
        XCTAssertEqual(missing.status, 3)
        XCTAssertTrue(missing.stderr.contains("not a DAVIS folder"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        try FileManager.default.removeItem(at: tiny.predictions.appendingPathComponent("box/00002.png"))
        let incomplete = try run(["eval", "vos", tiny.root.path, "--pred", tiny.predictions.path])
        XCTAssertEqual(incomplete.status, 3)
        XCTAssertTrue(incomplete.stderr.contains("00002.png: missing prediction"), incomplete.stderr)
    }
}
