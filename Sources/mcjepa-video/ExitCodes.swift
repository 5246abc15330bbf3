import ArgumentParser
import Foundation

/// Exit codes users and schedulers can act on (see README): 0 ok, 1 failure, 2 usage, 3 bad input.
enum Exit {
    static let failure = ExitCode(1)
    static let usage = ExitCode(2)
    static let badInput = ExitCode(3)
}

/// Prints one line to standard error, prefixed with the tool's name, the way every error is reported.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("mcjepa-video: \(message)\n".utf8))
}
