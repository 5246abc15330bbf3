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
