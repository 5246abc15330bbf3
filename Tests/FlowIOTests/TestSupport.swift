import Foundation
import XCTest
@testable import FlowIO

/// A fresh temporary folder per test, removed afterwards.
func makeTemporaryFolder(_ testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("flowio-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A deterministic flow with varied, non-trivial values (multiples of 1/64 so the KITTI PNG round trip is
/// exact) and a few unknown pixels.
func sampleFlow(width: Int = 7, height: Int = 5, unknown: [Int] = [3, 17]) -> FlowField {
    var u = [Float](), v = [Float]()
    for y in 0..<height {
        for x in 0..<width {
            u.append(Float(x * 37 - y * 11) / 64 - 1.5)
            v.append(Float(y * 53 + x * 5) / 64 * -1 + 2.25)
        }
    }
    var valid = [Bool](repeating: true, count: width * height)
    for i in unknown { valid[i] = false; u[i] = 0; v[i] = 0 }
    return FlowField(width: width, height: height, u: u, v: v, valid: valid)
}

/// Asserts that an expression throws a FlowIOError whose message names `file` and contains `cause`.
func assertFlowError<T>(_ expression: @autoclosure () throws -> T, file fileName: String, cause: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try expression()
        XCTFail("expected an error containing '\(cause)'", file: file, line: line)
    } catch let error as FlowIOError {
        XCTAssertTrue(error.description.contains(fileName), "'\(error)' does not name \(fileName)", file: file, line: line)
        XCTAssertTrue(error.description.contains(cause), "'\(error)' does not say '\(cause)'", file: file, line: line)
        XCTAssertFalse(error.description.contains("\n"), "error is not one line", file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
}

/// Whether this checkout ships built-in MC-JEPA weights (the `eval` commands then run them without --pred).
let builtInWeightsShipped = FileManager.default.fileExists(atPath: URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("../../Sources/MCJEPA/Weights/mcjepa-tiny.safetensors")
    .standardizedFileURL.path)

let pngSignature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320), bit by bit: for building damaged files in tests.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
}

/// The offset of the first chunk of `type` (its length field) in a PNG file, walking the chunks.
func chunkOffset(_ type: String, in png: [UInt8]) -> Int? {
    var at = 8
    while at + 8 <= png.count {
        let length = Int(png[at]) << 24 | Int(png[at + 1]) << 16 | Int(png[at + 2]) << 8 | Int(png[at + 3])
        if String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self) == type { return at }
        at += 12 + length
    }
    return nil
}
