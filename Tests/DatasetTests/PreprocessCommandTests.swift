import CommandLineTestSupport
import Foundation
import XCTest
@testable import Dataset

/// End to end: the `mcjepa-video preprocess` binary on the clips in Samples/, as users and schedulers run it.
final class PreprocessCommandTests: XCTestCase {
    static let samples = VideoPreprocessTests.samples

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private func preprocess(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        // The scheduler variables of the machine running the tests must not pick the shard for these runs.
        var overrides: [String: String?] = [:]
        for name in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX", "MCJEPA_SHARD_COUNT"] {
            overrides[name] = .some(nil)
        }
        for (name, value) in environment { overrides[name] = value }
        let result = try runProcess(try commandLineTool(), ["preprocess"] + arguments, environment: overrides)
        return Run(status: result.status, stdout: result.out, stderr: result.err)
    }

    /// Small and quick in debug builds: 4 pairs per video at 64x48, one video per shard.
    let options = ["--size", "64x48", "--stride", "3", "--max-pairs", "4", "--pairs-per-shard", "4"]

    private func files(in folder: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            result[name] = try readBytes(folder + "/" + name)
        }
        return result
    }

    func test_samples_become_shards_and_scheduler_workers_reproduce_them_byte_for_byte() throws {
        let root = try makeTemporaryFolder()
        let single = try preprocess([Self.samples, "-o", root + "/single", "--progress", "json"] + options)
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertTrue(single.stderr.contains("\"event\":\"progress\""), single.stderr)
        let expected = try files(in: root + "/single")
        XCTAssertEqual(expected.keys.sorted(), ["manifest.json"] + (0..<3).flatMap {
            ["shard-00000\($0).stats.json", "shard-00000\($0).tar"] })

        let members = TarReader.members(try XCTUnwrap(expected["shard-000000.tar"]))
        XCTAssertEqual(members.count, 12)
        XCTAssertTrue(members[0].name.hasPrefix("Samples-carphone-mp4-"), members[0].name)
        XCTAssertTrue(members[0].name.hasSuffix("_000000.f0.png"), members[0].name)
        XCTAssertEqual(Array(members[0].contents[16..<24]), [0, 0, 0, 64, 0, 0, 0, 48], "PNG IHDR 64x48")
        XCTAssertTrue(members[3].name.hasSuffix("_000003.f0.png"), members[3].name)

        // Slurm array tasks 4 and 5 (of an array starting at 4) and a --shard-index worker, into one folder.
        let split = root + "/split"
        let slurm = ["SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"]
        for (index, environment) in [(2, [String: String]()), (0, slurm.merging(["SLURM_ARRAY_TASK_ID": "4"]) { $1 }),
                                     (1, slurm.merging(["SLURM_ARRAY_TASK_ID": "5"]) { $1 })] {
            let flags = environment.isEmpty ? ["--shard-index", "\(index)", "--shard-count", "3"] : []
            let run = try preprocess([Self.samples, "-o", split, "--progress", "none"] + options + flags,
                                     environment: environment)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stdout.contains("1 of 3 shards written by worker \(index)/3"), run.stdout)
        }
        XCTAssertEqual(try files(in: split), expected)
    }

    func test_resume_after_a_lost_done_marker_rewrites_that_shard_only() throws {
        let output = try makeTemporaryFolder() + "/shards"
        XCTAssertEqual(try preprocess([Self.samples, "-o", output] + options).status, 0)
        let refused = try preprocess([Self.samples, "-o", output] + options)
        XCTAssertEqual(refused.status, 1, "existing shards without --resume: exit 1, as any existing output")
        XCTAssertTrue(refused.stderr.contains("--resume"), refused.stderr)

        let before = try files(in: output)
        try FileManager.default.removeItem(atPath: output + "/shard-000002.stats.json")
        try FileManager.default.removeItem(atPath: output + "/shard-000001.tar")
        let resumed = try preprocess([Self.samples, "-o", output, "--resume"] + options)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("2 of 3 shards written"), resumed.stdout)
        XCTAssertEqual(try files(in: output), before)
    }

    func test_a_broken_file_is_recorded_and_only_broken_inputs_exit_3() throws {
        let corpus = try makeTemporaryFolder() + "/corpus"
        try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
        try Data("this is not a video".utf8).write(to: URL(fileURLWithPath: corpus + "/broken.mp4"))
        try FileManager.default.copyItem(atPath: Self.samples + "/carphone.mp4", toPath: corpus + "/carphone.mp4")

        let output = try makeTemporaryFolder() + "/shards"
        let mixed = try preprocess([corpus, "-o", output] + options)
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("broken.mp4"), mixed.stderr)
        let stats = try JSONDecoder().decode(ShardStats.self, from: Data(try readBytes(output + "/shard-000000.stats.json")))
        XCTAssertEqual(stats.videos.map(\.source), ["corpus/broken.mp4"])
        XCTAssertTrue(stats.videos[0].error?.contains("broken.mp4") ?? false, "\(stats)")
        XCTAssertEqual(stats.pairs, 0)

        let onlyBroken = try preprocess([corpus + "/broken.mp4", "-o", try makeTemporaryFolder() + "/out"] + options)
        XCTAssertEqual(onlyBroken.status, 3, onlyBroken.stderr)
        let empty = try preprocess([try makeTemporaryFolder(), "-o", try makeTemporaryFolder() + "/out"])
        XCTAssertEqual(empty.status, 3, empty.stderr)
        XCTAssertTrue(empty.stderr.contains("no videos found"), empty.stderr)
    }

    func test_an_output_path_that_can_never_work_exits_3_with_a_plain_message() throws {
        let blocker = try makeTemporaryFolder() + "/file"
        try Data([0]).write(to: URL(fileURLWithPath: blocker))
        let run = try preprocess([Self.samples + "/carphone.mp4", "-o", blocker + "/shards"] + options)
        XCTAssertEqual(run.status, 3, "a scheduler must not retry it: \(run.stderr)")
        XCTAssertEqual(run.stderr, "mcjepa-video: \(blocker)/shards: cannot create the output folder: \(blocker) is a file\n")
    }

    func test_symlinked_videos_are_found_and_what_is_skipped_is_listed() throws {
        let links = try makeTemporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: links + "/clip.mp4", withDestinationPath: Self.samples + "/carphone.mp4")
        try FileManager.default.createSymbolicLink(atPath: links + "/gone.mp4", withDestinationPath: links + "/nowhere.mp4")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: links + "/notes.txt"))
        let output = try makeTemporaryFolder() + "/shards"
        let run = try preprocess([links, "-o", output, "--progress", "none"] + options)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("from 1 videos"), run.stdout)
        XCTAssertTrue(run.stderr.contains("skipped \(links)/gone.mp4: broken symbolic link"), run.stderr)
        XCTAssertTrue(run.stderr.contains("skipped 1 file(s): extension .txt is not in --extensions"), run.stderr)
    }

    /// Reference/load_shards.py reads the shards through the `webdataset` package (skipped where it is missing).
    func test_webdataset_loads_the_shards() throws {
        let check = try runProcess("/usr/bin/env", ["python3", "-c", "import webdataset, cv2, numpy"])
        try XCTSkipUnless(check.status == 0, "python3 with webdataset, opencv and numpy not installed")

        let output = try makeTemporaryFolder() + "/shards"
        XCTAssertEqual(try preprocess([Self.samples, "-o", output] + options).status, 0)
        let script = URL(fileURLWithPath: Self.samples).deletingLastPathComponent()
            .appendingPathComponent("Reference/load_shards.py").path
        let loader = try runProcess("/usr/bin/env", ["python3", script, output])
        let text = loader.out + loader.err
        XCTAssertEqual(loader.status, 0, text)
        XCTAssertTrue(text.contains("12 samples in 3 shards (stats say 12), 3 videos with pairs"), text)
    }

    func test_jpeg_quality_stores_jpg_members() throws {
        let output = try makeTemporaryFolder() + "/shards"
        let run = try preprocess([Self.samples + "/realshort.mp4", "-o", output, "--jpeg-quality", "80",
                                  "--max-side", "96", "--max-pairs", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let members = TarReader.members(try readBytes(output + "/shard-000000.tar"))
        XCTAssertEqual(members.map { String($0.name.split(separator: ".", maxSplits: 1)[1]) },
                       ["f0.jpg", "f1.jpg", "json", "f0.jpg", "f1.jpg", "json"])
        XCTAssertEqual(Array(members[0].contents.prefix(2)), [0xFF, 0xD8])
    }
}
