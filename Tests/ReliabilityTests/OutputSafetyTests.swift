import AtomicOutput
import Foundation
import XCTest

/// Outputs are never clobbered, never left half-written and never reported as written when they were not:
/// the no-clobber check happens at the final rename, interrupts and failures leave no output, and write errors
/// (a full disk) give a non-zero exit.
final class OutputSafetyTests: ReliabilityTestCase {
    private let clip = "\(samplesFolder)/realshort.mp4"
    private let builtInWeights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/MCJEPA/Weights/mcjepa-tiny.safetensors").path

    /// Starts the tool without waiting for it.
    private func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, err)
    }

    /// Waits (up to 60 s) until the folder holds a hidden temporary output, i.e. the command is mid-run.
    private func waitForTemporary(file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if leftovers.contains(where: { AtomicOutput.isTemporary($0) }) { return }
            usleep(10_000)
        }
        XCTFail("no temporary output appeared", file: file, line: line)
    }

    func test_rename_refuses_a_target_that_appeared_and_leaves_it_untouched() throws {
        for makeTarget in [{ (path: String) in try Data("theirs".utf8).write(to: URL(fileURLWithPath: path)) },
                           { (path: String) in try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }] {
            let target = file("target-\(UUID().uuidString)")
            let temporary = AtomicOutput.temporaryPath(for: target)
            try Data("ours".utf8).write(to: URL(fileURLWithPath: temporary))
            try makeTarget(target)
            XCTAssertThrowsError(try AtomicOutput.commit(temporary, to: target, replace: false)) { error in
                XCTAssertEqual((error as? AtomicOutputError)?.kind, .exists, "\(error)")
                XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
            }
            AtomicOutput.discard(temporary)
            XCTAssertFalse(FileManager.default.fileExists(atPath: temporary))
        }
        XCTAssertEqual(try String(contentsOfFile: leftovers.map(file).first { !FileManager.default.fileExists(atPath: $0 + "/.") }!,
                                  encoding: .utf8), "theirs")
    }

    func test_flow_outputs_created_while_it_runs_are_not_overwritten_and_nothing_is_left() throws {
        let out = file("out"), video = file("out.mp4")
        let (process, err) = try start(["flow", clip, "-o", out, "--video", video, "--max-side", "64", "--no-refine",
                                        "--progress", "none"])
        waitForTemporary()
        try Data("someone else's".utf8).write(to: URL(fileURLWithPath: video))
        process.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 1, message)
        XCTAssertTrue(message.contains("\(video): ") && message.contains("already exists"), message)
        XCTAssertEqual(try String(contentsOfFile: video, encoding: .utf8), "someone else's", "not overwritten")
        // A failed run leaves no final output: the flow folder, renamed first, is taken back.
        XCTAssertEqual(leftovers, ["out.mp4"])
    }

    func test_an_interrupt_removes_the_partial_outputs() throws {
        for sig in [SIGINT, SIGTERM] {
            let out = file("out"), video = file("out.mp4")
            let (process, err) = try start(["flow", clip, "-o", out, "--video", video, "--max-side", "64", "--no-refine",
                                            "--progress", "none"])
            waitForTemporary()
            usleep(300_000) // into the loop, with the hidden video started
            kill(process.processIdentifier, sig)
            process.waitUntilExit()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(process.terminationStatus, 128 + sig, message)
            XCTAssertEqual(leftovers, [], "nothing left, hidden or not: \(message)")
        }
    }

    func test_write_errors_give_a_non_zero_exit() throws {
        let full = try runProcess("/bin/sh", ["-c", "exec \"$0\" info \"$1\" > /dev/full", tool, clip])
        XCTAssertEqual(full.status, 1, full.err)
        XCTAssertTrue(full.err.contains("standard output: cannot write"), full.err)

        // A full disk for `average`: a file-size limit makes the write fail (EFBIG) as ENOSPC would; SIGXFSZ is
        // ignored, as the shell passes it on, so the write returns the error instead of killing the process.
        let out = file("soup.safetensors")
        let limited = try runProcess("/bin/sh", ["-c", "trap '' XFSZ; ulimit -f 64; exec \"$0\" average \"$1\" \"$1\" -o \"$2\"",
                                                 tool, builtInWeights, out])
        XCTAssertEqual(limited.status, 1, limited.err)
        XCTAssertTrue(limited.err.hasPrefix("mcjepa-video: \(out): cannot write"), limited.err)
        XCTAssertEqual(limited.err.split(separator: "\n").count, 1, limited.err)
        XCTAssertEqual(leftovers, [], "no partial file")
    }

    func test_the_default_output_folder_is_named_after_the_input_and_a_pattern_after_its_folder() {
        XCTAssertEqual(StagedOutputFolder.defaultPath(besides: "/data/clip.mp4", suffix: "flow"), "/data/clip.flow")
        XCTAssertEqual(StagedOutputFolder.defaultPath(besides: "/data/frames/", suffix: "flow"), "/data/frames.flow")
        XCTAssertEqual(StagedOutputFolder.defaultPath(besides: "/data/frames/%06d.png", suffix: "masks"), "/data/frames.masks")
    }

    func test_overwrite_replaces_an_earlier_output_but_never_a_folder_of_other_things() throws {
        let home = file("home")
        try FileManager.default.createDirectory(atPath: home + "/Documents", withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: home + "/notes.txt"))
        let refused = try runProcess(tool, ["flow", clip, "-o", home, "-y", "--max-side", "64", "--no-refine", "--duration", "0.2",
                                            "--progress", "none"])
        XCTAssertEqual(refused.status, 1, refused.err)
        XCTAssertTrue(refused.err.contains("which this command does not write"), refused.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/Documents"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/notes.txt"))

        let out = file("flow")
        for _ in 0..<2 {
            let result = try runProcess(tool, ["flow", clip, "-o", out, "-y", "--max-side", "64", "--no-refine", "--duration", "0.2",
                                               "--progress", "none"])
            XCTAssertEqual(result.status, 0, result.err)
        }
        XCTAssertEqual(leftovers, ["flow", "home"])
    }
}
