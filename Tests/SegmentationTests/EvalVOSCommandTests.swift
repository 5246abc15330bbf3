import CommandLineTestSupport
import Foundation
import VideoIO
import XCTest
@testable import Segmentation

/// Runs the built `mcjepa-video eval vos` on a tiny DAVIS folder made here: the command only wires
/// DAVISEvaluation (tested directly) to arguments, output and exit codes, which is what these check.
final class EvalVOSCommandTests: XCTestCase {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try runProcess(try commandLineTool(), arguments)
        return (result.status, result.out, result.err)
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
        XCTAssertTrue(table.stdout.contains("box") && table.stdout.contains("   33.3"), "J in percent: \(table.stdout)")
    }

    /// Without --pred the built-in model runs, so it needs the frames (this folder has none: exit 3 naming the
    /// first); a build without built-in weights asks for --model (exit 1). MCJEPATests runs it on real frames.
    func test_eval_vos_without_pred_runs_the_built_in_model_or_asks_for_one_and_bad_folders_are_bad_input() throws {
        let tiny = try makeTinyDAVIS()
        let model = try run(["eval", "vos", tiny.root.path])
        if builtInWeightsShipped {
            XCTAssertEqual(model.status, 3, model.stderr)
            XCTAssertTrue(model.stderr.contains("JPEGImages/480p/box/00000.jpg: missing frame"), model.stderr)
            XCTAssertEqual(model.stderr.split(separator: "\n").count, 1, "one line: no weights banner off a terminal")
        } else {
            XCTAssertEqual(model.status, 1)
            XCTAssertTrue(model.stderr.contains("pass --model PATH"), model.stderr)
        }
        let missing = try run(["eval", "vos", tiny.root.appendingPathComponent("nope").path, "--pred", "first-mask"])
        XCTAssertEqual(missing.status, 3)
        XCTAssertTrue(missing.stderr.contains("not a DAVIS folder"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        try FileManager.default.removeItem(at: tiny.predictions.appendingPathComponent("box/00002.png"))
        let incomplete = try run(["eval", "vos", tiny.root.path, "--pred", tiny.predictions.path])
        XCTAssertEqual(incomplete.status, 3)
        XCTAssertTrue(incomplete.stderr.contains("00002.png: missing prediction"), incomplete.stderr)
    }

    /// A red 32x32 square moving 4 px right per frame over a gray 96x64 picture, with frames as PNGs.
    func test_eval_vos_colour_propagation_follows_a_moving_square() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-davis-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let annotations = root.appendingPathComponent("Annotations/480p/square")
        let images = root.appendingPathComponent("JPEGImages/480p/square")
        for folder in [annotations, images] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        let (width, height) = (96, 64)
        for t in 0..<6 {
            var rgb = [UInt8](repeating: 128, count: width * height * 3), ids = [UInt8](repeating: 0, count: width * height)
            for y in 16..<48 {
                for x in (8 + 4 * t)..<(40 + 4 * t) {
                    ids[y * width + x] = 1
                    (rgb[(y * width + x) * 3], rgb[(y * width + x) * 3 + 1], rgb[(y * width + x) * 3 + 2]) = (220, 20, 20)
                }
            }
            let name = String(format: "%05d", t)
            try writePNG(RGBImage(width: width, height: height, rgb: rgb), path: images.appendingPathComponent("\(name).png").path)
            try DAVISMasks.write(ids, width: width, height: height, path: annotations.appendingPathComponent("\(name).png").path)
        }
        let result = try run(["eval", "vos", root.path, "--pred", "colour-propagation", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        // Copying the first mask scores J = (28/36 + 24/40 + 20/44 + 16/48) / 4 = 0.54 on frames 1-4; at stride 8
        // edges are found within a few pixels, so propagation stays far above that.
        XCTAssertGreaterThan(try XCTUnwrap(object["j"] as? Double), 0.85)
        try FileManager.default.removeItem(at: images.appendingPathComponent("00003.png"))
        let missing = try run(["eval", "vos", root.path, "--pred", "colour-propagation"])
        XCTAssertEqual(missing.status, 3)
        XCTAssertTrue(missing.stderr.contains("00003.jpg: missing frame"), missing.stderr)
    }
}
