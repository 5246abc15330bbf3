import Foundation
import VideoIO
import XCTest
@testable import Dataset

/// A synthetic clip: `scenes` shots, each a distinct pattern that drifts `speed` pixels per frame, so frames inside
/// a shot differ a little and frames across shots differ a lot.
final class SyntheticClip: FrameSource {
    let width: Int, height: Int
    let framesPerScene: [Int]
    let speed: Int
    /// Throw this after yielding `failAfter` frames (a file broken midway).
    var failAfter: Int?
    private var next = 0

    init(width: Int = 64, height: Int = 48, framesPerScene: [Int], speed: Int = 1, failAfter: Int? = nil) {
        self.width = width
        self.height = height
        self.framesPerScene = framesPerScene
        self.speed = speed
        self.failAfter = failAfter
    }

    var frameCount: Int { framesPerScene.reduce(0, +) }

    func nextFrame() throws -> VideoFrame? {
        if let failAfter, next >= failAfter { throw DatasetError.video(path: "synthetic", reason: "corrupt packet") }
        guard next < frameCount else { return nil }
        var scene = 0, start = 0
        while next >= start + framesPerScene[scene] { start += framesPerScene[scene]; scene += 1 }
        let image = Self.pattern(scene: scene, shift: (next - start) * speed, width: width, height: height)
        defer { next += 1 }
        return VideoFrame(width: width, height: height, rgb: image.rgb, index: next, pts: Int64(next * 512),
                          timeBase: Rational(1, 12800), seconds: Double(next) / 25)
    }

    /// Smooth patterns, so a 1-pixel drift changes a frame by a few percent while a change of shot changes most
    /// of it. Scene 0: a warm sine grating; scene 1: a dark blob on a bright background; others: colour ramps.
    static func pattern(scene: Int, shift: Int, width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let xs = Double(x + shift), yd = Double(y)
                let value: (Double, Double, Double)
                switch scene % 3 {
                case 0:
                    let v = 128 + 100 * sin(2 * .pi * xs / 64) * cos(2 * .pi * yd / 48)
                    value = (v, v * 0.9, v * 0.7)
                case 1:
                    let dx = xs - Double(width) / 2, dy = yd - Double(height) / 2
                    let v = 230 - 200 * exp(-(dx * dx + dy * dy) / (2 * 14 * 14))
                    value = (v, v, v * 0.95)
                default:
                    value = (xs * 3, yd * 4, 90)
                }
                let offset = (y * width + x) * 3
                pixels[offset] = UInt8(max(0, min(255, value.0)))
                pixels[offset + 1] = UInt8(max(0, min(255, value.1)))
                pixels[offset + 2] = UInt8(max(0, min(255, value.2)))
            }
        }
        return RGBImage(width: width, height: height, rgb: pixels)
    }
}

/// Binary PPM (P6): a real, trivially checkable image format for tests that don't need FFmpeg's PNG encoder.
struct PPMEncoder: ImageEncoder {
    var fileExtension: String { "ppm" }
    func makeAnother() throws -> ImageEncoder { self }
    func encode(_ image: RGBImage) throws -> [UInt8] {
        Array("P6\n\(image.width) \(image.height)\n255\n".utf8) + image.rgb
    }
}

/// A minimal ustar reader, independent of TarWriter, used to check what the writer produced.
struct TarMember: Equatable {
    var name: String
    var mode: Int
    var uid: Int
    var gid: Int
    var mtime: Int
    var typeflag: UInt8
    var magic: String
    var contents: [UInt8]
}

enum TarReader {
    static func members(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [TarMember] {
        var members: [TarMember] = []
        var offset = 0
        func field(_ start: Int, _ length: Int) -> String {
            let slice = bytes[(offset + start)..<(offset + start + length)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
        func number(_ start: Int, _ length: Int) -> Int {
            Int(field(start, length).trimmingCharacters(in: .whitespaces), radix: 8) ?? -1
        }
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            var sum = 0
            for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(byte) }
            XCTAssertEqual(sum, number(148, 8), "header checksum of member \(members.count)", file: file, line: line)
            let size = number(124, 12)
            let member = TarMember(
                name: field(0, 100), mode: number(100, 8), uid: number(108, 8), gid: number(116, 8),
                mtime: number(136, 12), typeflag: bytes[offset + 156], magic: field(257, 6),
                contents: Array(bytes[(offset + 512)..<(offset + 512 + size)]))
            members.append(member)
            offset += 512 + (size + 511) / 512 * 512
        }
        XCTAssertTrue(bytes[offset...].allSatisfy { $0 == 0 }, "archive ends with zero blocks", file: file, line: line)
        XCTAssertGreaterThanOrEqual(bytes.count - offset, 1024, "two end-of-archive blocks", file: file, line: line)
        return members
    }
}

extension XCTestCase {
    /// A new folder named after the test, removed when the test ends.
    func makeTemporaryFolder(_ name: String = #function) throws -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = NSTemporaryDirectory() + "DatasetTests-\(safe)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

func readBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}
