import Foundation
import XCTest
@testable import VideoIO

/// `start` gives exactly the frames a pass from the beginning gives from that time on (same pts, same pixels),
/// on files where a plain seek to the keyframe before `start` goes wrong.
final class ExactSeekTests: TemporaryFolderTestCase {
    /// 4 s at 25 fps, a keyframe every 12 frames.
    let (width, height, count, rate) = (64, 48, 100, 25.0)

    /// The first `limit` frames a reader gives from `start` (and `duration`).
    func framesFrom(_ path: String, start: Double, duration: Double? = nil, limit: Int = 5) throws -> [VideoFrame] {
        let reader = try VideoReader(path: path, options: DecodeOptions(start: start, duration: duration))
        var frames: [VideoFrame] = []
        while frames.count < limit, let frame = try reader.nextFrame() { frames.append(frame) }
        return frames
    }

    /// Checks that reading from each of `starts` gives the frames of `sequential` shown at or after it.
    func assertStartsMatch(_ path: String, sequential: [VideoFrame], starts: [Double],
                           file: StaticString = #filePath, line: UInt = #line) throws {
        for start in starts {
            let wanted = Array(sequential.filter { $0.seconds >= start - 1e-9 }.prefix(5))
            let got = try framesFrom(path, start: start)
            XCTAssertEqual(got.map(\.pts), wanted.map(\.pts), "pts from start \(start)", file: file, line: line)
            XCTAssertEqual(got.map(\.index), Array(0..<wanted.count), "indices from start \(start)", file: file, line: line)
            XCTAssertTrue(zip(got, wanted).allSatisfy { $0.rgb == $1.rgb }, "pixels from start \(start)",
                          file: file, line: line)
        }
    }

    func test_start_in_an_MPEG_program_stream_gives_the_frames_a_pass_from_the_beginning_gives() throws {
        // The mpeg demuxer has no index: it finds a timestamp by a search that lands up to a GOP late.
        let clip = file("clip.mpg")
        try writeCodedVideo(clip, codec: "mpeg2video", width: width, height: height, count: count,
                            keyframeInterval: 12)
        let sequential = try decodeAll(clip)
        XCTAssertEqual(sequential.count, count)
        // Between frames, exactly on a frame, on a keyframe (frame 24), and near the end.
        try assertStartsMatch(clip, sequential: sequential, starts: [0.5, 0.98, 24 / rate, 1.5, 62 / rate, 3.9])
        let range = try decodeAll(clip, options: DecodeOptions(start: 1.98, duration: 0.4))
        XCTAssertEqual(range.map(\.pts), sequential[50..<60].map(\.pts))
    }

    func test_start_after_a_false_keyframe_gives_the_frames_a_pass_from_the_beginning_gives() throws {
        // Every 20th frame is marked a keyframe but is a predicted frame: decoding from there conceals missing
        // references, so the reader must notice and start from a real keyframe (frames 0 and 60).
        let clip = file("clip.mkv")
        try writeCodedVideo(clip, codec: "mpeg2video", width: width, height: height, count: count,
                            keyframeInterval: 60, falseKeyframeEvery: 20)
        let sequential = try decodeAll(clip)
        XCTAssertEqual(sequential.count, count)
        try assertStartsMatch(clip, sequential: sequential, starts: [0.9, 1.7, 2.5, 3.3])
    }
}
