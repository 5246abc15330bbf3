import Foundation

/// The one error Segmentation throws: which file or folder, and why, so a command can print it on one line.
public struct SegmentationError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The file involved (a path as the user gave it), or "" when the error is not about a file.
    public let file: String
    public let reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
    public var errorDescription: String? { description }
}
