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
