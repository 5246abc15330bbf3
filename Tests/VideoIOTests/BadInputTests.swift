import Foundation
import XCTest
@testable import VideoIO

/// Files that are not usable videos fail with one-line errors naming the file; nothing crashes or hangs.
final class BadInputTests: TemporaryFolderTestCase {
    /// Asserts that probing, reading and counting `path` all throw a one-line VideoIOError naming it, and
    /// returns the probe error's description.
    @discardableResult
    func assertRejected(_ path: String, containing words: String, file: StaticString = #filePath,
                        line: UInt = #line) -> String {
        var description = ""
        let attempts: [(String, () throws -> Void)] = [
            ("probe", { _ = try probe(path: path) }),
            ("reader", { let r = try VideoReader(path: path); while try r.nextFrame() != nil {}
                         throw VideoIOError(path: path, operation: "no video frames", message: "decoded nothing") }),
            ("count", { if try countFrames(path: path).frames == 0 {
                         throw VideoIOError(path: path, operation: "no video frames", message: "decoded nothing") } }),
        ]
        for (name, attempt) in attempts {
            XCTAssertThrowsError(try attempt(), name, file: file, line: line) { error in
                guard let error = error as? VideoIOError else {
                    return XCTFail("\(name): not a VideoIOError: \(error)", file: file, line: line)
                }
                XCTAssertEqual(error.path, path, file: file, line: line)
                XCTAssertTrue(error.description.hasPrefix("\(path): "), error.description, file: file, line: line)
                XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
                if name == "probe" { description = error.description }
            }
        }
        XCTAssertTrue(description.contains(words), "\(description) lacks \"\(words)\"", file: file, line: line)
        return description
    }

    func test_missing_file() {
        assertRejected(file("nothing-here.mp4"), containing: "cannot open: No such file or directory")
    }

    func test_directory() {
        assertRejected(folder, containing: "cannot open: is a directory")
    }

    func test_random_bytes() throws {
        // Fixed seeds, so that a failure reproduces. Random bytes usually fail to open, but now and then FFmpeg's
        // probe finds a plausible header in them and they fail at decoding instead: either is a clean rejection.
        for seed: UInt64 in 1...6 {
            var state = seed
            let bytes = (0..<100_000).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            let path = file("noise-\(seed).mp4")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            assertRejected(path, containing: "\(path): cannot")
        }
    }

    func test_empty_file() throws {
        let path = file("empty.mp4")
        FileManager.default.createFile(atPath: path, contents: Data())
        assertRejected(path, containing: "cannot open")
    }

    func test_truncated_mp4_without_its_index() throws {
        let whole = try writeVideo(file("whole.mp4"), width: 64, height: 48, count: 30,
                                   options: EncodeOptions(codec: .h264(preset: "ultrafast")))
        let data = try Data(contentsOf: URL(fileURLWithPath: whole))
        let path = file("truncated.mp4")
        // The writer puts the index (moov) at the end, so half the file has none.
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        assertRejected(path, containing: "cannot open")
    }

    func test_truncated_mp4_with_its_index_first_ends_or_fails_cleanly() throws {
        guard let ffmpeg = which("ffmpeg") else { throw XCTSkip("ffmpeg not on PATH") }
        let whole = try writeVideo(file("whole.mp4"), width: 64, height: 48, count: 30,
                                   options: EncodeOptions(codec: .h264(preset: "ultrafast")))
        let faststart = file("faststart.mp4")
        let moved = try runProcess(ffmpeg, ["-v", "error", "-i", whole, "-c", "copy", "-movflags", "+faststart",
                                            faststart])
        XCTAssertEqual(moved.status, 0, moved.err)
        let data = try Data(contentsOf: URL(fileURLWithPath: faststart))
        let path = file("cut.mp4")
        try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: path))
        // The index promises frames the file no longer has: either fewer frames or a read error, never a hang.
        do {
            let frames = try decodeAll(path)
            XCTAssertLessThan(frames.count, 30)
        } catch let error as VideoIOError {
            XCTAssertTrue(error.description.hasPrefix("\(path): "), error.description)
        }
    }

    func test_zero_frame_videos() throws {
        // FFmpeg's MP4 demuxer drops a track without samples, so it sees no video stream at all; an empty
        // Matroska file ends before its track list is complete.
        for (name, codec, words) in [
            ("zero.mp4", EncodeOptions.Codec.h264(preset: "ultrafast"), "no video stream: the file has no video stream"),
            ("zero.mkv", .ffv1, "cannot open: the file ends before its streams are described"),
        ] {
            let writer = try VideoWriter(path: file(name), width: 32, height: 32, options: EncodeOptions(codec: codec))
            try writer.finish()
            assertRejected(file(name), containing: words)
        }
    }

    func test_damage_in_the_middle_of_a_video_is_skipped_not_fatal() throws {
        var options = EncodeOptions(codec: .h264(preset: "ultrafast"))
        options.keyframeInterval = 10
        let whole = try writeVideo(file("whole.mp4"), width: 64, height: 48, count: 30, options: options,
                                   pattern: noisyPattern)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: whole)))
        let mdat = (0..<bytes.count - 4).first { Array(bytes[$0..<$0 + 4]) == Array("mdat".utf8) }!
        let moov = (mdat..<bytes.count - 4).first { Array(bytes[$0..<$0 + 4]) == Array("moov".utf8) }!
        let middle = (mdat + moov) / 2
        for i in middle..<middle + 300 { bytes[i] = 0xff }
        let path = file("damaged.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for threads in [1, 2] {
            let frames = try decodeAll(path, options: DecodeOptions(threads: threads))
            XCTAssertGreaterThan(frames.count, 15, "frames around the damage still decode")
            XCTAssertLessThanOrEqual(frames.count, 30)
        }
    }

    func test_video_whose_frames_are_all_corrupt_has_no_video_frames() throws {
        let whole = try writeVideo(file("whole.mp4"), width: 64, height: 48, count: 5,
                                   options: EncodeOptions(codec: .h264(preset: "ultrafast")))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: whole)))
        // Zero the media data (the 'mdat' box payload): the index still lists 5 frames, none decodes.
        let mdat = Array("mdat".utf8)
        let start = (0..<bytes.count - 4).first { Array(bytes[$0..<$0 + 4]) == mdat }! + 4
        let moov = (start..<bytes.count - 4).first { Array(bytes[$0..<$0 + 4]) == Array("moov".utf8) }! - 4
        for i in start..<moov { bytes[i] = 0 }
        let path = file("zeroed.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertRejected(path, containing: "no video frames")
    }

    func test_audio_only_file() throws {
        guard let ffmpeg = which("ffmpeg") else { throw XCTSkip("ffmpeg not on PATH") }
        let path = file("tone.m4a")
        let made = try runProcess(ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5",
                                           "-c:a", "aac", path])
        XCTAssertEqual(made.status, 0, made.err)
        assertRejected(path, containing: "no video stream")
    }

    func test_text_files() throws {
        let path = file("notes.mp4")
        try Data("not a video\n".utf8).write(to: URL(fileURLWithPath: path))
        assertRejected(path, containing: "cannot open")
        // FFmpeg's tty demuxer would show a .txt file as ANSI art.
        let text = file("notes.txt")
        try Data(String(repeating: "just some notes\n", count: 50).utf8).write(to: URL(fileURLWithPath: text))
        assertRejected(text, containing: "cannot open: a text file, not a video")
    }

    func test_writer_into_a_missing_folder_fails_naming_the_file() {
        let path = file("no/such/folder/out.mp4")
        XCTAssertThrowsError(try VideoWriter(path: path, width: 8, height: 8)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): cannot create"), "\(error)")
        }
        XCTAssertThrowsError(try VideoWriter(path: file("out.unknownext"), width: 8, height: 8)) { error in
            XCTAssertTrue("\(error)".contains("no container format"), "\(error)")
        }
    }
}
