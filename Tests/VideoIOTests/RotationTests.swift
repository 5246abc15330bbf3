import Foundation
import XCTest
@testable import VideoIO

/// Display-matrix rotation: reported by probe, applied by the reader so frames come out upright.
final class RotationTests: TemporaryFolderTestCase {
    /// An upright 48x32 picture with a distinct colour in each quadrant.
    let upright: RGBImage = {
        let (w, h) = (48, 32)
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        let colours: [[UInt8]] = [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]]
        for y in 0..<h {
            for x in 0..<w {
                let quadrant = (y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1)
                rgb.replaceSubrange((y * w + x) * 3..<(y * w + x) * 3 + 3, with: colours[quadrant])
            }
        }
        return RGBImage(width: w, height: h, rgb: rgb)
    }()

    /// The picture as a camera would store it when players must turn it `clockwise` degrees to show it upright.
    func stored(clockwise: Int) -> RGBImage {
        let back = (360 - clockwise) % 360
        let rgb = upright.rgb.withUnsafeBufferPointer {
            rotate($0, width: upright.width, height: upright.height, stride: upright.width * 3, clockwise: back)
        }
        return back % 180 == 0 ? RGBImage(width: upright.width, height: upright.height, rgb: rgb)
            : RGBImage(width: upright.height, height: upright.width, rgb: rgb)
    }

    func test_rotated_videos_report_their_rotation_and_decode_upright() throws {
        for rotation in [90, 180, 270] {
            let picture = stored(clockwise: rotation)
            let path = file("rot\(rotation).mp4")
            let writer = try VideoWriter(path: path, width: picture.width, height: picture.height,
                                         options: EncodeOptions(codec: .h264(crf: 10, preset: "ultrafast"),
                                                                rotation: rotation))
            for _ in 0..<2 { try writer.write(picture) }
            try writer.finish()

            let info = try probe(path: path)
            XCTAssertEqual(info.rotation, rotation)
            XCTAssertEqual([info.width, info.height], [picture.width, picture.height])
            XCTAssertEqual([info.displayWidth, info.displayHeight], [upright.width, upright.height])
            let frames = try decodeAll(path)
            XCTAssertEqual(frames.count, 2)
            for frame in frames {
                XCTAssertEqual([frame.width, frame.height], [upright.width, upright.height], "rotation \(rotation)")
                XCTAssertLessThan(meanAbsoluteDifference(frame.rgb, upright.rgb), 6, "rotation \(rotation)")
            }
        }
    }

    func test_rotation_matches_what_ffprobe_reads_from_the_display_matrix() throws {
        guard let ffprobe = which("ffprobe") else { throw XCTSkip("ffprobe not on PATH") }
        let picture = stored(clockwise: 90)
        let path = file("rot.mp4")
        let writer = try VideoWriter(path: path, width: picture.width, height: picture.height,
                                     options: EncodeOptions(codec: .h264(preset: "ultrafast"), rotation: 90))
        try writer.write(picture)
        try writer.finish()
        let result = try runProcess(ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                              "stream_side_data=rotation", "-of", "csv=p=0", path])
        // ffprobe prints the matrix's counter-clockwise angle: -90 means "turn 90 degrees clockwise".
        XCTAssertEqual(result.out.trimmingCharacters(in: .whitespacesAndNewlines), "-90")

        // The ffmpeg CLI turns the picture upright the same way (autorotate).
        guard let ffmpeg = which("ffmpeg") else { return }
        let raw = file("ffmpeg.rgb")
        let converted = try runProcess(ffmpeg, ["-v", "error", "-i", path, "-pix_fmt", "rgb24", "-f", "rawvideo",
                                                "-y", raw])
        XCTAssertEqual(converted.status, 0, converted.err)
        let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        let ours = try decodeAll(path)
        XCTAssertEqual(theirs.count, upright.width * upright.height * 3)
        XCTAssertLessThan(meanAbsoluteDifference(ours[0].rgb, theirs), 3)
    }

    func test_rotate_turns_clockwise() {
        // [A B] turned clockwise: A on top of B.
        let rgb: [UInt8] = [1, 1, 1, 2, 2, 2]
        let turned = rgb.withUnsafeBufferPointer { rotate($0, width: 2, height: 1, stride: 6, clockwise: 90) }
        XCTAssertEqual(turned, [1, 1, 1, 2, 2, 2])
        let back = rgb.withUnsafeBufferPointer { rotate($0, width: 2, height: 1, stride: 6, clockwise: 270) }
        XCTAssertEqual(back, [2, 2, 2, 1, 1, 1])
        let half = rgb.withUnsafeBufferPointer { rotate($0, width: 2, height: 1, stride: 6, clockwise: 180) }
        XCTAssertEqual(half, [2, 2, 2, 1, 1, 1])
    }

    func test_max_side_and_exact_sizes_apply_to_the_upright_picture() throws {
        let picture = stored(clockwise: 90)
        let path = file("rot.mp4")
        let writer = try VideoWriter(path: path, width: picture.width, height: picture.height,
                                     options: EncodeOptions(codec: .h264(preset: "ultrafast"), rotation: 90))
        try writer.write(picture)
        try writer.finish()
        let small = try decodeAll(path, options: DecodeOptions(maxSide: 24))
        XCTAssertEqual(small.map { [$0.width, $0.height] }, [[24, 16]])
        let exact = try decodeAll(path, options: DecodeOptions(size: .exact(width: 30, height: 10)))
        XCTAssertEqual(exact.map { [$0.width, $0.height] }, [[30, 10]])
        let notEnlarged = try decodeAll(path, options: DecodeOptions(maxSide: 1000))
        XCTAssertEqual(notEnlarged.map { [$0.width, $0.height] }, [[48, 32]])
    }
}
