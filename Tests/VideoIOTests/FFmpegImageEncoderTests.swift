import XCTest
@testable import VideoIO

final class FFmpegImageEncoderTests: XCTestCase {
    let image = RGBImage(width: 40, height: 30, rgb: smoothPattern(width: 40, height: 30, frame: 0))

    func test_png_has_the_signature_and_the_image_size() throws {
        let encoder = try FFmpegImageEncoder(format: .png)
        let bytes = try encoder.encode(image)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: big-endian width and height right after the chunk's length and type.
        XCTAssertEqual(Array(bytes[16..<24]), [0, 0, 0, 40, 0, 0, 0, 30])
        XCTAssertEqual(encoder.fileExtension, "png")
    }

    func test_encoding_is_reproducible_and_follows_size_changes() throws {
        let encoder = try FFmpegImageEncoder(format: .png)
        let first = try encoder.encode(image)
        let other = try encoder.encode(RGBImage(width: 20, height: 10, rgb: noisyPattern(width: 20, height: 10, frame: 1)))
        XCTAssertEqual(Array(other[16..<24]), [0, 0, 0, 20, 0, 0, 0, 10])
        XCTAssertEqual(try encoder.encode(image), first)
        XCTAssertEqual(try FFmpegImageEncoder(format: .png).encode(image), first)
    }

    func test_jpeg_quality_trades_size() throws {
        let best = try FFmpegImageEncoder(format: .jpeg(quality: 100)).encode(image)
        let worst = try FFmpegImageEncoder(format: .jpeg(quality: 5)).encode(image)
        XCTAssertEqual(Array(best.prefix(2)), [0xFF, 0xD8])
        XCTAssertEqual(Array(best.suffix(2)), [0xFF, 0xD9])
        XCTAssertGreaterThan(best.count, worst.count)
        XCTAssertEqual(FFmpegImageEncoder.quantiser(quality: 100), 2)
        XCTAssertEqual(FFmpegImageEncoder.quantiser(quality: 1), 31)
        XCTAssertThrowsError(try FFmpegImageEncoder(format: .jpeg(quality: 0)))
    }
}
