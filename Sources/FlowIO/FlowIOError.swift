import Foundation

/// The one error FlowIO throws: which file, and why, so a command can print it on one line.
public struct FlowIOError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The file involved (a path as the user gave it), or "" when the error is not about a file.
    public let file: String
    public let reason: String
    /// Whether a file being written failed (the tool failed: exit 1) rather than one being read (bad input: exit 3).
    public let isAboutOutput: Bool

    public init(file: String, reason: String, isAboutOutput: Bool = false) {
        self.file = file
        self.reason = reason
        self.isAboutOutput = isAboutOutput
    }

    public init(url: URL, reason: String, isAboutOutput: Bool = false) {
        self.init(file: url.path, reason: reason, isAboutOutput: isAboutOutput)
    }

    public var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
    public var errorDescription: String? { description }
}

/// Byte counts from file headers are untrusted: multiply them without trapping on overflow.
func checkedProduct(_ factors: Int...) -> Int? {
    var result = 1
    for factor in factors {
        guard factor >= 0 else { return nil }
        let (product, overflow) = result.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        result = product
    }
    return result
}
