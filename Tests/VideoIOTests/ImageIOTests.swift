import Foundation
import XCTest
@testable import VideoIO

final class ImageIOTests: TemporaryFolderTestCase {
    func test_png_round_trip_is_exact() throws {
        let image = RGBImage(width: 13, height: 7, rgb: noisyPattern(width: 13, height: 7, frame: 3))
        try writePNG(image, path: file("a.png"))
        XCTAssertEqual(try readImage(path: file("a.png")), image)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["a.png"], "no temporary left")
    }

    func test_palette_label_png_round_trip_keeps_indices_and_palette() throws {
        let labels: [UInt8] = (0..<(11 * 5)).map { UInt8($0 % 4) }
        let palette: [UInt8] = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]
        try writeLabelPNG(LabelImage(width: 11, height: 5, labels: labels, palette: palette), path: file("m.png"))
        let back = try readLabelImage(path: file("m.png"))
        XCTAssertEqual(back.labels, labels)
        XCTAssertEqual(Array(back.palette!.prefix(12)), palette)
        // As RGB the labels show their palette colours.
        let rgb = try readImage(path: file("m.png"))
        XCTAssertEqual(Array(rgb.rgb[3..<6]), [128, 0, 0])
    }

    func test_grayscale_label_png_reads_gray_values() throws {
        let labels: [UInt8] = (0..<(6 * 4)).map { $0 % 2 == 0 ? 0 : 255 }
        try writeLabelPNG(LabelImage(width: 6, height: 4, labels: labels), path: file("g.png"))
        let back = try readLabelImage(path: file("g.png"))
        XCTAssertEqual(back.labels, labels)
        XCTAssertNil(back.palette)
    }

    func test_colour_png_is_not_a_label_image() throws {
        try writePNG(RGBImage(width: 2, height: 2, rgb: [UInt8](repeating: 9, count: 12)), path: file("c.png"))
        XCTAssertThrowsError(try readLabelImage(path: file("c.png"))) { error in
            XCTAssertTrue("\(error)".hasPrefix(file("c.png") + ": not a label image"), "\(error)")
        }
    }

    func test_jpeg_written_by_ffmpeg_reads_close_to_its_source() throws {
        guard let ffmpeg = which("ffmpeg") else { throw XCTSkip("ffmpeg not on PATH") }
        let image = RGBImage(width: 32, height: 24, rgb: smoothPattern(width: 32, height: 24, frame: 0))
        try writePNG(image, path: file("s.png"))
        let made = try runProcess(ffmpeg, ["-v", "error", "-i", file("s.png"), "-q:v", "2", file("s.jpg")])
        XCTAssertEqual(made.status, 0, made.err)
        let jpeg = try readImage(path: file("s.jpg"))
        XCTAssertEqual([jpeg.width, jpeg.height], [32, 24])
        XCTAssertLessThan(meanAbsoluteDifference(jpeg.rgb, image.rgb), 6)
    }

    func test_missing_image_names_the_file() {
        XCTAssertThrowsError(try readImage(path: file("none.png"))) { error in
            XCTAssertEqual("\(error)", "\(file("none.png")): cannot open: No such file or directory")
        }
    }
}
