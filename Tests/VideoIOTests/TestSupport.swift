@_exported import CommandLineTestSupport
import Foundation
import XCTest
@testable import VideoIO

/// A fresh folder per test, removed afterwards.
class TemporaryFolderTestCase: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "videoio-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func file(_ name: String) -> String { "\(folder!)/\(name)" }
}

/// The repository's Samples/ folder, found from this source file's location.
let samplesFolder: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Samples").path
}()

/// A picture that differs in every pixel and from frame to frame, for exact lossless comparisons.
func noisyPattern(width: Int, height: Int, frame t: Int) -> [UInt8] {
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 3
            rgb[i] = UInt8((x * 7 + y * 3 + t * 5) & 255)
            rgb[i + 1] = UInt8((y * 11 + t * 3) & 255)
            rgb[i + 2] = UInt8((x * y + t * 13) & 255)
        }
    }
    return rgb
}

/// A smooth gradient with a bright square moving 2 pixels per frame and a frame-number brightness in the
/// blue channel: survives lossy coding closely enough to recognise which frame it is.
func smoothPattern(width: Int, height: Int, frame t: Int) -> [UInt8] {
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    let square = (x: (t * 2) % max(1, width - 8), y: height / 3)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 3
            let inSquare = x >= square.x && x < square.x + 8 && y >= square.y && y < square.y + 8
            rgb[i] = inSquare ? 250 : UInt8(30 + x * 150 / max(1, width - 1))
            rgb[i + 1] = inSquare ? 250 : UInt8(40 + y * 150 / max(1, height - 1))
            rgb[i + 2] = UInt8(20 + (t * 6) % 200)
        }
    }
    return rgb
}

/// Mean absolute difference of two equally sized byte arrays.
func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var total = 0
    for i in 0..<a.count { total += abs(Int(a[i]) - Int(b[i])) }
    return Double(total) / Double(max(1, a.count))
}

/// Writes `count` frames of `pattern` with the writer and returns the path.
@discardableResult
func writeVideo(_ path: String, width: Int, height: Int, count: Int, options: EncodeOptions,
                pattern: (Int, Int, Int) -> [UInt8] = smoothPattern) throws -> String {
    let writer = try VideoWriter(path: path, width: width, height: height, options: options)
    for t in 0..<count { try writer.write(rgb: pattern(width, height, t)) }
    try writer.finish()
    return path
}

/// All frames of a file, decoded synchronously.
func decodeAll(_ path: String, options: DecodeOptions = .init()) throws -> [VideoFrame] {
    let reader = try VideoReader(path: path, options: options)
    var frames: [VideoFrame] = []
    while let frame = try reader.nextFrame() { frames.append(frame) }
    return frames
}

/// The path of an executable on PATH, or nil.
func which(_ tool: String) -> String? {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    return folders.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Packed RGB24 grown to `toWidth` x `toHeight` by repeating the last column and row.
func padByRepeatingEdges(_ rgb: [UInt8], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: toWidth * toHeight * 3)
    for y in 0..<toHeight {
        let sy = min(y, height - 1)
        for x in 0..<toWidth {
            let s = (sy * width + min(x, width - 1)) * 3
            let d = (y * toWidth + x) * 3
            out[d] = rgb[s]
            out[d + 1] = rgb[s + 1]
            out[d + 2] = rgb[s + 2]
        }
    }
    return out
}
