import Foundation
import XCTest
@testable import VideoIO

/// The real clips in Samples/ decode completely, with frame counts from decoding (ffprobe -count_frames agrees).
final class SampleClipTests: XCTestCase {
    func check(_ name: String, frames expected: Int, size: [Int], file: StaticString = #filePath,
               line: UInt = #line) throws {
        let path = "\(samplesFolder)/\(name)"
        let reader = try VideoReader(path: path)
        var count = 0
        var lastSeconds = -1.0
        while let frame = try reader.nextFrame() {
            XCTAssertEqual(frame.index, count, file: file, line: line)
            XCTAssertEqual([frame.width, frame.height], size, file: file, line: line)
            XCTAssertGreaterThan(frame.seconds, lastSeconds, "timestamps increase", file: file, line: line)
            lastSeconds = frame.seconds
            count += 1
        }
        XCTAssertEqual(count, expected, name, file: file, line: line)
        XCTAssertEqual(try countFrames(path: path).frames, expected, file: file, line: line)
    }

    func test_realshort_has_36_frames() throws {
        try check("realshort.mp4", frames: 36, size: [320, 240])
    }

    func test_carphone_has_120_frames_stretched_to_square_pixels() throws {
        // Stored 176x144 with sample aspect 128:117, shown 193 pixels wide.
        try check("carphone.mp4", frames: 120, size: [193, 144])
    }

    func test_motion_mov_decodes_242_of_the_243_frames_its_header_claims() throws {
        // The container lists 243 samples; the decoder (and ffprobe -count_frames) yields 242.
        try check("motion.mov", frames: 242, size: [568, 320])
        XCTAssertEqual(try probe(path: "\(samplesFolder)/motion.mov").metadataFrameCount, 243)
    }

    func test_two_threads_decode_and_convert_the_same_pixels_as_one() throws {
        let path = "\(samplesFolder)/motion.mov"
        for size in [DecodeOptions.OutputSize.native, .maxSide(301)] {
            let one = try decodeAll(path, options: DecodeOptions(threads: 1, size: size, duration: 0.4))
            let two = try decodeAll(path, options: DecodeOptions(threads: 2, size: size, duration: 0.4))
            XCTAssertEqual(one.count, 12)
            XCTAssertTrue(one.map(\.rgb) == two.map(\.rgb), "\(size)")
            XCTAssertEqual(two.first.map { [$0.width, $0.height] }, size == .native ? [568, 320] : [301, 170])
        }
    }

    func test_decoded_pixels_are_byte_identical_to_the_ffmpeg_cli() throws {
        guard let ffmpeg = which("ffmpeg") else { throw XCTSkip("ffmpeg not on PATH") }
        let raw = NSTemporaryDirectory() + "videoio-ffmpeg-\(UUID().uuidString).rgb"
        defer { try? FileManager.default.removeItem(atPath: raw) }
        for name in ["realshort.mp4", "carphone.mp4", "motion.mov"] {
            let path = "\(samplesFolder)/\(name)"
            // Stored size: the ffmpeg CLI does not stretch non-square pixels.
            let ours = try decodeAll(path, options: DecodeOptions(duration: 0.3, squarePixels: false)).flatMap(\.rgb)
            let result = try runProcess(ffmpeg, ["-v", "error", "-i", path, "-t", "0.3", "-pix_fmt", "rgb24",
                                                 "-f", "rawvideo", "-y", raw])
            XCTAssertEqual(result.status, 0, result.err)
            let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
            XCTAssertEqual(ours.count, theirs.count, name)
            XCTAssertTrue(ours == theirs, "\(name) differs from ffmpeg's rgb24")
        }
    }

    func test_probe_reports_streams_codec_and_rates_of_a_sample() throws {
        let info = try probe(path: "\(samplesFolder)/motion.mov")
        XCTAssertEqual(info.codecName, "h264")
        XCTAssertEqual(info.pixelFormat, "yuv420p")
        XCTAssertEqual(info.videoStreamIndex, 1, "the audio stream comes first in this file")
        XCTAssertEqual(info.streams.map(\.type), ["audio", "video"])
        XCTAssertEqual(info.averageFrameRate, Rational(30, 1))
        XCTAssertFalse(info.isVariableFrameRate)
        XCTAssertEqual(info.duration, 8.04, accuracy: 0.01)
    }
}
