import Foundation

// What every test target's end-to-end tests share: finding the built `mcjepa-video` and running a program to
// completion. A plain library target (no XCTest), linked only into test targets.

/// The `mcjepa-video` executable built for these tests. `swift test` builds every product next to the test
/// bundle; the package's `.build/debug` is the fallback when the tests run from elsewhere.
public func commandLineTool() throws -> String {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let folders = [
        Bundle.main.bundleURL,
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        repository.appendingPathComponent(".build/debug"),
    ]
    let candidates = folders.map { $0.appendingPathComponent("mcjepa-video").path }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw CommandLineToolNotBuilt(lookedAt: candidates)
    }
    return found
}

public struct CommandLineToolNotBuilt: Error, CustomStringConvertible {
    public let lookedAt: [String]
    public var description: String { "mcjepa-video is not built next to the tests (looked at \(lookedAt)); run swift build" }
}

/// Runs a program to completion: its exit status, standard output and standard error. `environment` entries
/// replace the inherited ones (a nil value removes one).
public func runProcess(_ executable: String, _ arguments: [String], in directory: URL? = nil,
                       environment: [String: String?] = [:]) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    if !environment.isEmpty {
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value }
        process.environment = merged
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting so a full pipe cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
