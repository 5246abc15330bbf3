import Foundation
import XCTest
@testable import VideoIO

/// Frames written with VideoWriter and read back with VideoReader.
final class RoundTripTests: TemporaryFolderTestCase {
    func test_ffv1_round_trip_returns_exactly_the_pixels_written_at_an_odd_size() throws {
        let (w, h, n) = (37, 23, 12)
        let path = try writeVideo(file("exact.mkv"), width: w, height: h, count: n,
                                  options: EncodeOptions(codec: .ffv1, frameRate: Rational(25, 1)),
                                  pattern: noisyPattern)
        let frames = try decodeAll(path)
        XCTAssertEqual(frames.count, n)
        for (t, frame) in frames.enumerated() {
            XCTAssertEqual(frame.index, t)
            XCTAssertEqual(frame.width, w)
            XCTAssertEqual(frame.height, h)
            XCTAssertEqual(frame.seconds, Double(t) / 25, accuracy: 1e-3)
            XCTAssertTrue(frame.rgb == noisyPattern(width: w, height: h, frame: t), "frame \(t) differs")
        }
    }

    func test_h264_pads_odd_sizes_to_even_and_keeps_pixels_close() throws {
        let (w, h, n) = (65, 49, 10)
        let path = try writeVideo(file("odd.mp4"), width: w, height: h, count: n,
                                  options: EncodeOptions(codec: .h264(crf: 12, preset: "fast")))
        let info = try probe(path: path)
        XCTAssertEqual(info.codecName, "h264")
        XCTAssertEqual(info.pixelFormat, "yuv420p")
        XCTAssertEqual([info.width, info.height], [w + 1, h + 1])
        let frames = try decodeAll(path)
        XCTAssertEqual(frames.count, n)
        for (t, frame) in frames.enumerated() {
            XCTAssertEqual([frame.width, frame.height], [w + 1, h + 1])
            let expected = padByRepeatingEdges(smoothPattern(width: w, height: h, frame: t), width: w, height: h,
                                               toWidth: w + 1, toHeight: h + 1)
            XCTAssertLessThan(meanAbsoluteDifference(frame.rgb, expected), 2.5, "frame \(t)")
            // The padding column repeats the last real one.
            let (lastColumn, padColumn) = (frame.pixel(x: w - 1, y: h / 2), frame.pixel(x: w, y: h / 2))
            XCTAssertEqual(Double(lastColumn.r), Double(padColumn.r), accuracy: 8)
            XCTAssertEqual(frame.seconds, Double(t) / 30, accuracy: 1e-9, "30 fps by default")
        }
    }

    func test_h264_at_constant_rate_has_exact_timestamps_and_duration() throws {
        let path = try writeVideo(file("cfr.mp4"), width: 32, height: 24, count: 15,
                                  options: EncodeOptions(codec: .h264(), frameRate: Rational(15, 1)))
        let info = try probe(path: path)
        XCTAssertEqual(info.averageFrameRate, Rational(15, 1))
        XCTAssertFalse(info.isVariableFrameRate)
        XCTAssertEqual(info.duration, 1.0, accuracy: 1e-6, "15 frames of 1/15 s, the last one included")
        XCTAssertEqual(info.metadataFrameCount, 15)
        let frames = try decodeAll(path)
        XCTAssertEqual(frames.map(\.seconds), (0..<15).map { Double($0) / 15 })
        XCTAssertFalse(try countFrames(path: path).isVariableFrameRate)
    }

    func test_variable_frame_rate_timestamps_survive_the_round_trip() throws {
        let path = file("vfr.mp4")
        let timeBase = Rational(1, 90000)
        let gaps: [Int64] = [3000, 3000, 6000, 1500, 1500, 9000, 3000, 4500, 3000]
        var pts: [Int64] = [0]
        for gap in gaps { pts.append(pts.last! + gap) }
        let writer = try VideoWriter(path: path, width: 40, height: 30,
                                     options: EncodeOptions(codec: .h264(), frameRate: Rational(30, 1),
                                                            timeBase: timeBase))
        for (t, p) in pts.enumerated() {
            try writer.write(VideoFrame(width: 40, height: 30, rgb: smoothPattern(width: 40, height: 30, frame: t),
                                        pts: p, timeBase: timeBase))
        }
        try writer.finish()

        let frames = try decodeAll(path)
        XCTAssertEqual(frames.count, pts.count)
        let decoded = frames.map { av_rescale(pts: $0.pts, from: $0.timeBase, to: timeBase) }
        XCTAssertEqual(decoded, pts)
        XCTAssertEqual(frames.last!.seconds, Double(pts.last!) / 90000, accuracy: 1e-6)
        XCTAssertTrue(try probe(path: path).isVariableFrameRate)
        let count = try countFrames(path: path)
        XCTAssertEqual(count.frames, pts.count)
        XCTAssertTrue(count.isVariableFrameRate)
    }

    func test_writer_matching_an_input_keeps_its_timestamps() throws {
        let source = "\(samplesFolder)/realshort.mp4"
        let reader = try VideoReader(path: source, options: DecodeOptions(duration: 0.5))
        let path = file("copy.mp4")
        let writer = try VideoWriter(path: path, width: reader.info.displayWidth, height: reader.info.displayHeight,
                                     options: .matching(reader.info, codec: .h264(preset: "ultrafast")))
        var original: [Int64] = []
        while let frame = try reader.nextFrame() {
            original.append(frame.pts)
            try writer.write(frame)
        }
        try writer.finish()
        XCTAssertEqual(original.count, 16, "30.02 fps: frame 15 is shown at 0.4997 s, before the end")
        let copy = try decodeAll(path)
        XCTAssertEqual(copy.map(\.pts), original.map { $0 - original[0] })
        XCTAssertEqual(copy.first?.timeBase, Rational(1, 90000))
    }

    func test_writer_consumes_an_async_frame_sequence() async throws {
        let source = try writeVideo(file("source.mkv"), width: 20, height: 14, count: 8,
                                    options: EncodeOptions(codec: .ffv1, frameRate: Rational(10, 1)),
                                    pattern: noisyPattern)
        let reader = try VideoReader(path: source)
        let writer = try VideoWriter(path: file("copy.mkv"), width: 20, height: 14,
                                     options: .matching(reader.info, codec: .ffv1))
        try await writer.write(contentsOf: reader.frames())
        try writer.finish()
        let copy = try decodeAll(file("copy.mkv"))
        XCTAssertEqual(copy.count, 8)
        XCTAssertEqual(copy.map(\.rgb), (0..<8).map { noisyPattern(width: 20, height: 14, frame: $0) })
        XCTAssertEqual(copy.map { Int(($0.seconds * 1000).rounded()) }, (0..<8).map { $0 * 100 })
    }

    func test_writer_dropped_before_finish_leaves_no_file() throws {
        var writer: VideoWriter? = try VideoWriter(path: file("half.mp4"), width: 32, height: 32,
                                                   options: EncodeOptions(codec: .h264(preset: "ultrafast")))
        for t in 0..<3 { try writer!.write(rgb: smoothPattern(width: 32, height: 32, frame: t)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("half.mp4")))
        writer = nil
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [],
                       "neither the final file nor its temporary file remains")
    }

    func test_png_sequence_appears_on_finish_numbered_from_one() throws {
        let writer = try VideoWriter(path: file("seq/%04d.png"), width: 9, height: 7,
                                     options: EncodeOptions(codec: .png))
        for t in 0..<3 { try writer.write(rgb: noisyPattern(width: 9, height: 7, frame: t)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("seq/0001.png")))
        try writer.finish()
        let names = try FileManager.default.contentsOfDirectory(atPath: file("seq")).sorted()
        XCTAssertEqual(names, ["0001.png", "0002.png", "0003.png"])
        for t in 0..<3 {
            XCTAssertEqual(try readImage(path: file("seq/000\(t + 1).png")).rgb, noisyPattern(width: 9, height: 7, frame: t))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["seq"], "temporary folder gone")
    }

    func test_an_image_pattern_is_timed_as_a_folder_of_frames_is() throws {
        let writer = try VideoWriter(path: file("seq/%04d.png"), width: 9, height: 7, options: EncodeOptions(codec: .png))
        for t in 0..<6 { try writer.write(rgb: noisyPattern(width: 9, height: 7, frame: t)) }
        try writer.finish()
        // FFmpeg's image2 demuxer would count 25 frames a second; a folder of frames counts 30.
        let rate = Double(FrameInput.imageFrameRate)
        let seconds = try decodeAll(file("seq/%04d.png")).map(\.seconds)
        XCTAssertEqual(seconds.count, 6)
        for (index, time) in seconds.enumerated() { XCTAssertEqual(time, Double(index) / rate, accuracy: 1e-6) }
        let fromPattern = try decodeAll(file("seq/%04d.png"), options: DecodeOptions(start: 3 / rate))
        let fromFolder = try FrameInput(inputs: [file("seq")]).open(DecodeOptions(start: 3 / rate))
        XCTAssertEqual(fromPattern.map(\.rgb), (3..<6).map { noisyPattern(width: 9, height: 7, frame: $0) })
        XCTAssertEqual(try fromFolder.next()?.rgb, fromPattern.first?.rgb, "--start picks the same frame of either")
    }

    func test_writer_rejects_frames_of_the_wrong_size_and_repeated_timestamps() throws {
        let writer = try VideoWriter(path: file("x.mkv"), width: 8, height: 8, options: EncodeOptions(codec: .ffv1))
        XCTAssertThrowsError(try writer.write(rgb: [UInt8](repeating: 0, count: 8 * 7 * 3)))
        let frame = VideoFrame(width: 8, height: 8, rgb: [UInt8](repeating: 0, count: 8 * 8 * 3), pts: 5)
        try writer.write(frame)
        XCTAssertThrowsError(try writer.write(frame)) { error in
            XCTAssertTrue("\(error)".contains("timestamps must increase"), "\(error)")
        }
    }

    func test_non_square_pixels_are_stretched_to_the_display_width() throws {
        let path = try writeVideo(file("sar.mp4"), width: 40, height: 24, count: 3,
                                  options: EncodeOptions(codec: .h264(preset: "ultrafast"),
                                                         sampleAspectRatio: Rational(3, 2)))
        let info = try probe(path: path)
        XCTAssertEqual(info.sampleAspectRatio, Rational(3, 2))
        XCTAssertEqual([info.displayWidth, info.displayHeight], [60, 24])
        XCTAssertEqual(try decodeAll(path).map { [$0.width, $0.height] }, Array(repeating: [60, 24], count: 3))
        let stored = try decodeAll(path, options: DecodeOptions(squarePixels: false))
        XCTAssertEqual(stored.first.map { [$0.width, $0.height] }, [40, 24])
    }
}

func av_rescale(pts: Int64, from: Rational, to: Rational) -> Int64 {
    Int64((Double(pts) * from.doubleValue / to.doubleValue).rounded())
}
