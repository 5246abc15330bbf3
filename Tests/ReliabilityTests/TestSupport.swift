@_exported import CommandLineTestSupport
import Foundation
import XCTest

/// A fresh folder per test, removed afterwards.
class ReliabilityTestCase: XCTestCase {
    var folder: String!
    var tool: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "reliability-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        tool = try commandLineTool()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func file(_ name: String) -> String { "\(folder!)/\(name)" }

    /// The folder's entries, hidden ones included (a leftover `.NAME.tmp-PID` is a failure too).
    var leftovers: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

    /// Runs the tool and checks it refused with `status` and one line on stderr mentioning every word.
    @discardableResult
    func assertRefused(_ arguments: [String], status: Int32, mentioning words: [String],
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try runProcess(tool, arguments)
        XCTAssertEqual(result.status, status, "\(arguments): \(result.err)", file: file, line: line)
        let lines = result.err.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "one line expected for \(arguments): \(result.err)", file: file, line: line)
        for word in words {
            XCTAssertTrue(result.err.contains(word), "\(arguments): '\(result.err)' should mention \(word)", file: file, line: line)
        }
        return result.err
    }
}

/// The repository's Samples/ folder, found from this source file's location.
let samplesFolder: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Samples").path
}()
