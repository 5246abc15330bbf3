import Foundation
import XCTest

/// A resumed run continues the run it resumes: `preprocess --resume` refuses other options by name (a dataset of
/// two frame sizes otherwise), and `train --resume` after a kill logs each step once and leaves no scratch files.
final class ResumeTests: ReliabilityTestCase {
    private let clip = "\(samplesFolder)/realshort.mp4"

    func test_preprocess_resume_refuses_changed_options_naming_the_difference() throws {
        let shards = file("shards")
        let first = try runProcess(tool, ["preprocess", clip, "-o", shards, "--max-side", "96", "--max-pairs", "2"])
        XCTAssertEqual(first.status, 0, first.err)
        let before = try FileManager.default.contentsOfDirectory(atPath: shards).sorted()
        try assertRefused(["preprocess", clip, "-o", shards, "--size", "64x64", "--max-pairs", "2", "--resume"], status: 2,
                          mentioning: ["manifest.json", "--size/--max-side 64x64", "max-side 96"])
        try assertRefused(["preprocess", clip, "-o", shards, "--max-side", "96", "--max-pairs", "3", "--resume"], status: 2,
                          mentioning: ["--max-pairs 3", "planned with 2"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: shards).sorted(), before, "nothing changed")
        let same = try runProcess(tool, ["preprocess", clip, "-o", shards, "--max-side", "96", "--max-pairs", "2", "--resume"])
        XCTAssertEqual(same.status, 0, same.err)
    }

    func test_train_resumed_after_a_kill_logs_each_step_once_and_leaves_no_scratch_files() throws {
        let shards = file("shards"), run = file("run")
        let prep = try runProcess(tool, ["preprocess", clip, "-o", shards, "--max-side", "96", "--max-pairs", "3"])
        XCTAssertEqual(prep.status, 0, prep.err)
        let arguments = ["train", shards, "--out", run, "--preset", "test", "--steps", "4", "--crop", "64x64",
                         "--content-size", "64", "--content-batch", "2", "--batch", "1", "--content-warmup", "0",
                         "--threads", "1", "--log-every", "1", "--ckpt-every", "2"]
        let first = try runProcess(tool, arguments + ["--stop-at", "2"])
        XCTAssertEqual(first.status, 0, first.err)
        // What a run killed (SIGKILL) during step 3 leaves: step 3 logged after the last checkpoint, a line cut
        // short, and the scratch files of decoded shard members.
        let log = "\(run)/log.jsonl"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: log))
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\":3,\"lr\":0.001}\n{\"step\":4,\"l".utf8))
        try handle.close()
        for leftover in ["member-999999999-A.png", ".scratch-999999999-1.png"] {
            try Data([1]).write(to: URL(fileURLWithPath: "\(run)/\(leftover)"))
        }
        let resumed = try runProcess(tool, arguments + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let steps = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line -> Int in
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            return try XCTUnwrap(record["step"] as? Int)
        }
        XCTAssertEqual(steps, [1, 2, 3, 4], "each step logged once")
        let names = try FileManager.default.contentsOfDirectory(atPath: run)
        XCTAssertEqual(names.filter { $0.hasPrefix("member-") || $0.hasPrefix(".") }, [], "no scratch or temporary files")
    }
}
