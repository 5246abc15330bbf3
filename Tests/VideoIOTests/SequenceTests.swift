import Foundation
import XCTest
@testable import VideoIO

/// frames(), framePairs(stride:) and start/duration seeking, on a 60-frame clip at 30 fps whose every frame is
/// recognisable.
final class SequenceTests: TemporaryFolderTestCase {
    let (width, height, count) = (48, 32, 60)
    var clip: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        // A keyframe every 10 frames, so seeking lands between keyframes and must drop frames.
        var options = EncodeOptions(codec: .h264(crf: 12, preset: "ultrafast"), frameRate: Rational(30, 1))
        options.keyframeInterval = 10
        clip = try writeVideo(file("clip.mp4"), width: width, height: height, count: count, options: options)
    }

    /// Which written frame a decoded picture is: the closest pattern.
    func frameNumber(of frame: VideoFrame) -> Int {
        (0..<count).min {
            meanAbsoluteDifference(frame.rgb, smoothPattern(width: width, height: height, frame: $0))
                < meanAbsoluteDifference(frame.rgb, smoothPattern(width: width, height: height, frame: $1))
        }!
    }

    func test_frames_yields_every_frame_in_order() async throws {
        var indices: [Int] = []
        var contents: [Int] = []
        for try await frame in try VideoReader(path: clip).frames() {
            indices.append(frame.index)
            if frame.index % 7 == 0 { contents.append(frameNumber(of: frame)) }
        }
        XCTAssertEqual(indices, Array(0..<count))
        XCTAssertEqual(contents, Array(Swift.stride(from: 0, to: count, by: 7)))
    }

    func test_framePairs_with_stride_1_are_the_consecutive_pairs() async throws {
        var pairs: [[Int]] = []
        for try await pair in try VideoReader(path: clip).framePairs() {
            pairs.append([pair.first.index, pair.second.index])
        }
        XCTAssertEqual(pairs, (0..<count - 1).map { [$0, $0 + 1] })
    }

    func test_framePairs_with_stride_3_pair_frame_i_with_frame_i_plus_3() async throws {
        var pairs: [[Int]] = []
        for try await pair in try VideoReader(path: clip).framePairs(stride: 3) {
            pairs.append([pair.first.index, pair.second.index])
            XCTAssertEqual(pair.second.seconds - pair.first.seconds, 0.1, accuracy: 1e-9)
        }
        XCTAssertEqual(pairs, (0..<count - 3).map { [$0, $0 + 3] })
    }

    func test_framePairs_of_a_clip_shorter_than_the_stride_is_empty() async throws {
        var pairs = 0
        for try await _ in try VideoReader(path: clip, options: DecodeOptions(duration: 0.1)).framePairs(stride: 3) {
            pairs += 1
        }
        XCTAssertEqual(pairs, 0, "3 frames cannot make a pair 3 apart")
    }

    func test_start_and_duration_seek_to_the_exact_frame() throws {
        let frames = try decodeAll(clip, options: DecodeOptions(start: 1.0, duration: 0.5))
        XCTAssertEqual(frames.count, 15)
        XCTAssertEqual(frames.map(\.index), Array(0..<15), "index counts from the start point")
        XCTAssertEqual(frames.first!.seconds, 1.0, accuracy: 1e-9)
        XCTAssertEqual(frames.last!.seconds, 44.0 / 30, accuracy: 1e-9)
        XCTAssertEqual(frameNumber(of: frames.first!), 30)
        XCTAssertEqual(frameNumber(of: frames.last!), 44)
    }

    func test_start_between_frames_begins_at_the_next_frame_and_past_the_end_gives_nothing() throws {
        let frames = try decodeAll(clip, options: DecodeOptions(start: 0.71))
        XCTAssertEqual(frames.count, count - 22)
        XCTAssertEqual(frameNumber(of: frames.first!), 22)
        XCTAssertEqual(try decodeAll(clip, options: DecodeOptions(start: 5)).count, 0)
    }

    func test_planarFloat_is_channel_major_in_unit_range() throws {
        let frame = VideoFrame(width: 2, height: 1, rgb: [255, 0, 51, 0, 102, 255])
        let expected: [Float] = [1, 0, 0, 0.4, 0.2, 1]
        for (value, wanted) in zip(frame.planarFloat(), expected) { XCTAssertEqual(value, wanted, accuracy: 1e-6) }
    }
}
