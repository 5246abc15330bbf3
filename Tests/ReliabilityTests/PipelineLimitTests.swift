import Foundation
import XCTest

/// Pipeline files are checked before anything runs: YAML aliases cannot multiply a small file into gigabytes
/// of arguments, lists are bounded, inputs and values cannot smuggle options, and argument parsing stays fast.
final class PipelineLimitTests: ReliabilityTestCase {
    private func pipeline(_ text: String) throws -> String {
        let path = file("pipeline.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func test_alias_amplification_is_refused_quickly() throws {
        // A 100 KB anchored string used 1,000 times (the list-length cap refuses 10,000 on its own): about
        // 105 KB of file, 100 MB expanded.
        let big = String(repeating: "a", count: 100_000)
        let aliases = Array(repeating: "*big", count: 1000).joined(separator: ", ")
        let path = try pipeline("""
            vars:
              filler: &big "\(big)"
            steps:
              - command: info
                inputs: [\(aliases)]
            """)
        let started = Date()
        try assertRefused(["run", path, "--dry-run"], status: 3, mentioning: [path, "aliases"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "refused before expanding")
    }

    func test_long_lists_are_refused() throws {
        let values = Array(repeating: "\"1\"", count: 5000).joined(separator: ", ")
        let path = try pipeline("""
            steps:
              - command: info
                inputs: ["a.mp4"]
                options:
                  threads: [\(values)]
            """)
        try assertRefused(["run", path, "--dry-run"], status: 3, mentioning: ["5000 entries", "1000"])
    }

    func test_inputs_and_values_cannot_smuggle_options() throws {
        // A folder a smuggled `-o DIR -y` would have deleted.
        let victim = file("victim")
        try FileManager.default.createDirectory(atPath: victim + "/keep", withIntermediateDirectories: true)
        let smuggled = try pipeline("""
            steps:
              - command: flow
                inputs: ["\(samplesFolder)/realshort.mp4", "-o", "\(victim)", "-y"]
            """)
        try assertRefused(["run", smuggled, "--dry-run"], status: 3, mentioning: ["'-o'", "option"])
        try assertRefused(["run", smuggled], status: 3, mentioning: ["'-o'", "option"])
        let value = try pipeline("""
            steps:
              - command: flow
                inputs: ["\(samplesFolder)/realshort.mp4"]
                options:
                  output: "-y"
            """)
        try assertRefused(["run", value], status: 3, mentioning: ["'-y'", "option"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: victim + "/keep"), "the folder is still there")
    }

    func test_the_argument_count_is_capped_before_parsing() throws {
        // swift-argument-parser's parsing is quadratic in the argument count: 10,000 arguments took 20 s.
        let arguments = ["info", "\(samplesFolder)/realshort.mp4"] + Array(repeating: ["--threads", "1"], count: 5000).joined()
        let started = Date()
        try assertRefused(Array(arguments), status: 2, mentioning: ["10002 arguments", "4096"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func test_overwrite_in_a_pipeline_cannot_delete_a_folder_of_other_things() throws {
        let victim = file("victim")
        try FileManager.default.createDirectory(atPath: victim + "/keep", withIntermediateDirectories: true)
        let path = try pipeline("""
            steps:
              - command: flow
                inputs: ["\(samplesFolder)/realshort.mp4"]
                options:
                  output: "\(victim)"
                  max-side: "64"
                  duration: "0.2"
                  no-refine: true
                  overwrite: true
            """)
        let result = try runProcess(tool, ["run", path])
        XCTAssertEqual(result.status, 1, result.err)
        XCTAssertTrue(result.err.contains("\(victim): holds keep"), result.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: victim + "/keep"), "the folder is still there")
    }
}
