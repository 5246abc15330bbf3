import ArgumentParser
import Foundation
import VideoPipeline

/// Exit codes users and schedulers can act on (see README): 0 ok, 1 failure, 2 usage, 3 bad input.
enum Exit {
    static let failure = ExitCode(1)
    static let usage = ExitCode(2)
    static let badInput = ExitCode(3)
}

/// Prints one line to standard error, prefixed with the tool's name, the way every error is reported; with
/// `--progress json` as a JSON line, `{"event":"error","message":"mcjepa-video: ..."}`, so stderr stays JSON.
func printError(_ message: String) {
    let line = "mcjepa-video: \(message)"
    let arguments = CommandLine.arguments
    let json = arguments.contains("--progress=json")
        || zip(arguments, arguments.dropFirst()).contains { $0 == "--progress" && $1 == "json" }
    let text = (json ? ProgressReporter.jsonLine(event: "error", message: line) : line) + "\n"
    FileHandle.standardError.write(Data(text.utf8))
}
