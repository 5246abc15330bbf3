import Foundation

/// The one error Segmentation throws: which file or folder, and why, so a command can print it on one line.
public struct SegmentationError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// What failed, for the exit code a command gives.
    public enum Kind: Sendable, Equatable {
        /// A file or folder the user gave cannot be used (a mask, a DAVIS folder, predictions).
        case input
        /// An output cannot be written.
        case output
        /// Data handed over between stages do not fit each other (sizes): a failure of the program, not of a file.
        case inconsistent
    }

    /// The file involved (a path as the user gave it), or "" when the error is not about a file.
    public let file: String
    public let reason: String
    public let kind: Kind

    /// `kind` defaults to `.input` for an error about a file and `.inconsistent` for one about none.
    public init(file: String, reason: String, kind: Kind? = nil) {
        self.file = file
        self.reason = reason
        self.kind = kind ?? (file.isEmpty ? .inconsistent : .input)
    }

    public var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
    public var errorDescription: String? { description }
}
