import CommandLineTestSupport
import Foundation
import XCTest

/// End to end: `mcjepa-video run` on a shipped pipeline and a real clip, and on a broken pipeline file.
final class RunCommandTests: XCTestCase {
    private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardizedFileURL

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try runProcess(try commandLineTool(), arguments, in: repository)
        return (result.status, result.out, result.err)
    }

    private func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "run-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func test_preprocess_pipeline_writes_shards_for_a_sample_clip() throws {
        let out = try temporaryFolder() + "/shards"
        let result = try run(["run", "Pipelines/preprocess-ssl.yaml", "Samples/realshort.mp4", "--set", "out=\(out)"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files, ["manifest.json", "shard-000000.stats.json", "shard-000000.tar"])
    }

    func test_a_step_with_json_progress_gets_its_announcement_as_a_json_line() throws {
        let folder = try temporaryFolder()
        let pipeline = folder + "/json.yaml"
        try "steps:\n  - command: preprocess\n    options:\n      out: \(folder)/shards\n      size: 64x48\n      max-pairs: 2\n      progress: json\n"
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try run(["run", pipeline, "Samples/realshort.mp4"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stderr.split(separator: "\n")
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(objects.count, lines.count, "stderr holds only JSON lines: \(result.stderr)")
        XCTAssertEqual(objects.first?["event"] as? String, "note")
        XCTAssertTrue((objects.first?["message"] as? String)?.hasPrefix("run: preprocess") == true, result.stderr)

        // A step that fails reports its error as a JSON line too, with the step's exit code.
        let failed = try run(["run", pipeline, folder + "/missing.mp4"])
        XCTAssertEqual(failed.status, 3, failed.stderr)
        let failedLines = failed.stderr.split(separator: "\n")
        let failedObjects = failedLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(failedObjects.count, failedLines.count, "stderr holds only JSON lines: \(failed.stderr)")
        XCTAssertEqual(failedObjects.last?["event"] as? String, "error")
        XCTAssertTrue((failedObjects.last?["message"] as? String)?.contains("missing.mp4") == true, failed.stderr)
    }

    func test_dry_run_prints_the_expanded_command_and_writes_nothing() throws {
        let out = try temporaryFolder() + "/shards"
        let result = try run(["run", "Pipelines/preprocess-ssl.yaml", "a.mp4", "--set", "out=\(out)", "--dry-run"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("mcjepa-video preprocess a.mp4 --out \(out) --size 320x256"), result.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func test_training_recipe_chains_its_stages_and_every_step_parses() throws {
        let out = try temporaryFolder() + "/tiny"
        let result = try run(["run", "Pipelines/train-tiny.yaml", "--set", "photos=Samples", "--set", "videos=Samples/realshort.mp4",
                              "--set", "out=\(out)", "--dry-run"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 17, result.stdout)
        // Stages 6-14, 16 and 17 are the self-supervised ones, on the videos, and draw blob cut-outs from the
        // seventh on; the eighth adds the convex upsampler, the ninth an estimator per level, with a seed of its own,
        // the tenth and eleventh lower the synthetic pairs' supervision, each with another seed, the twelfth draws
        // the synthetic translations uniformly, the next two continue it, the fifteenth averages those two, and the
        // last two continue the average at larger crops.
        // The first step trains tiny with bilinear upsampling and a shared estimator, as the built-in weights began.
        XCTAssertTrue(lines[0].contains("--preset tiny --upsampler-width 0 --no-per-level-estimators"), lines[0])
        XCTAssertTrue(lines[5].contains("train Samples/realshort.mp4 "), lines[5])
        XCTAssertTrue(lines[6].contains("train Samples/realshort.mp4 ") && lines[6].contains("--synthetic-shape blob"), lines[6])
        XCTAssertTrue(lines[7].contains("--synthetic-shape blob") && lines[7].contains("--upsampler-width 32"), lines[7])
        XCTAssertTrue(lines[8].contains("--synthetic-shape blob") && lines[8].contains("--per-level-estimators")
                      && lines[8].contains("--seed 21"), lines[8])
        XCTAssertTrue(lines[9].contains("--synthetic-shape blob") && lines[9].contains("--supervised-weight 0.3")
                      && lines[9].contains("--seed 26"), lines[9])
        XCTAssertTrue(lines[10].contains("--supervised-weight 0.1") && lines[10].contains("--seed 28")
                      && lines[10].contains("--steps 2000") && lines[10].contains("--synthetic-shift-power 2"), lines[10])
        XCTAssertTrue(lines[11].contains("--supervised-weight 0.1") && lines[11].contains("--seed 32")
                      && lines[11].contains("--steps 1000") && lines[11].contains("--synthetic-shift-power 1"), lines[11])
        XCTAssertTrue(lines[12].contains("--supervised-weight 0.1") && lines[12].contains("--seed 33")
                      && lines[12].contains("--steps 1500"), lines[12])
        XCTAssertTrue(lines[13].contains("--supervised-weight 0.05") && lines[13].contains("--seed 35"), lines[13])
        XCTAssertTrue(lines.dropLast(12).allSatisfy { !$0.contains("Samples/realshort.mp4") })
        // Each stage up to 13 starts from the previous stage's weights; 14 starts where 13 did, from 12.
        for (stage, line) in lines.enumerated().dropFirst().prefix(12) {
            XCTAssertTrue(line.contains("--out \(out)/stage\(stage + 1) --init \(out)/stage\(stage)/model.safetensors"), line)
        }
        XCTAssertTrue(lines[13].contains("--out \(out)/stage14 --init \(out)/stage12/model.safetensors"), lines[13])
        XCTAssertEqual(lines[14], "mcjepa-video average \(out)/stage13/model.safetensors \(out)/stage14/model.safetensors"
                       + " --out \(out)/stage15/model.safetensors --overwrite")
        XCTAssertTrue(lines[15].contains("--out \(out)/stage16 --init \(out)/stage15/model.safetensors")
                      && lines[15].contains("--crop 320x448") && lines[15].contains("--seed 39")
                      && lines[15].contains("--steps 600"), lines[15])
        XCTAssertTrue(lines[16].contains("--out \(out)/stage17 --init \(out)/stage16/model.safetensors")
                      && lines[16].contains("--crop 384x512") && lines[16].contains("--seed 40"), lines[16])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func test_a_misspelt_option_is_reported_at_its_line_and_nothing_runs() throws {
        let folder = try temporaryFolder()
        let pipeline = folder + "/bad.yaml"
        try "steps:\n  - command: preprocess\n    options:\n      out: \(folder)/shards\n      sizee: 64x48\n"
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try run(["run", pipeline, "Samples/realshort.mp4"])
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.stderr, "mcjepa-video: \(pipeline):5:14: steps[0].options.sizee: preprocess: "
            + "Unknown option '--sizee'. Did you mean '--size'?\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/shards"))
    }

    func test_an_unknown_command_is_reported() throws {
        let folder = try temporaryFolder()
        let pipeline = folder + "/bad.yaml"
        try "steps:\n  - command: launch\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try run(["run", pipeline])
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stderr.hasPrefix("mcjepa-video: \(pipeline):2:5: steps[0].command: unknown command 'launch'"),
                      result.stderr)
    }
}
