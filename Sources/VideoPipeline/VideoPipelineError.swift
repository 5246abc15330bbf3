/// A run of the pipeline that cannot produce what was asked, for a reason no lower module reports: an input that
/// yields nothing to work on (no pair of frames, no matching flow file, a mask of another size). Says whether the
/// input or an output is at fault, so a program can map it to an exit code.
public struct VideoPipelineError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case input, output }
    /// The file or folder at fault.
    public let path: String
    public let reason: String
    public let kind: Kind
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String, kind: Kind = .input) {
        self.path = path
        self.reason = reason
        self.kind = kind
    }
}
