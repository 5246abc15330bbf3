import Foundation

/// Errors of the preprocessing pipeline. Each says which file and what went wrong in one line, and carries the
/// class a scheduler acts on (bad input: don't retry; I/O: retry later).
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// An input path, folder or manifest that cannot be used; retrying will not help.
    case badInput(path: String, reason: String)
    /// Writing the output failed (permissions, full disk, ...); the same command may succeed later.
    case output(path: String, reason: String)
    /// A video could not be decoded; recorded in the shard stats, never fatal for the run.
    case video(path: String, reason: String)
    /// An image encoder failed (FFmpeg's message); recorded against the video being written.
    case encoder(String)
    /// An option combination that makes no sense.
    case usage(String)
    /// An output that exists, without --resume or --overwrite (exit 1, as every command refuses an existing output).
    case outputExists(path: String, reason: String)

    /// Output errors abort the run (exit 75); the others concern one video or the command line.
    public var isOutput: Bool {
        if case .output = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .badInput(path, reason): return "\(path): \(reason)"
        case let .output(path, reason): return "\(path): \(reason)"
        case let .video(path, reason): return "\(path): \(reason)"
        case let .encoder(message): return message
        case let .usage(message): return message
        case let .outputExists(path, reason): return "\(path): \(reason)"
        }
    }
}
