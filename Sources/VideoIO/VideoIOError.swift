import CFFmpeg

/// A failure reading or writing a video or image: which file, what we were doing, and FFmpeg's reason.
///
/// `description` is one line, e.g. `input.mp4: cannot open: Invalid data found when processing input`,
/// so the CLI can print it as is.
public struct VideoIOError: Error, CustomStringConvertible, Sendable {
    /// The file (or image-sequence pattern) the operation was about.
    public let path: String
    /// What failed, phrased for the user: "cannot open", "cannot decode", "no video stream", ...
    public let operation: String
    /// FFmpeg's negative error code (an `AVERROR`), or nil when the failure did not come from FFmpeg.
    public let code: Int32?
    /// The cause: `av_strerror` text for FFmpeg failures, our own words otherwise.
    public let message: String

    public init(path: String, operation: String, code: Int32? = nil, message: String) {
        self.path = path
        self.operation = operation
        self.code = code
        self.message = message
    }

    /// Builds the error from an FFmpeg return code, with `av_strerror`'s message.
    init(path: String, operation: String, ffmpegCode: Int32) {
        self.init(path: path, operation: operation, code: ffmpegCode, message: ffmpegErrorMessage(ffmpegCode))
    }

    /// Whether the failure concerns an output being written (the tool failed: exit 1) rather than an input it was
    /// given (bad input: exit 3). Every operation that writes is phrased as one of these.
    public var isAboutOutput: Bool { ["cannot create", "cannot write", "cannot encode"].contains(operation) }

    public var description: String {
        // Newlines from FFmpeg or file names would break the one-line promise.
        let oneLine = { (s: String) in s.split(whereSeparator: \.isNewline).joined(separator: " ") }
        return "\(oneLine(path)): \(operation): \(oneLine(message))"
    }
}

/// `av_strerror` as a Swift string (wraps the `av_err2str` macro, which Swift cannot import).
func ffmpegErrorMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 {
        return "FFmpeg error \(code)"
    }
    return String(cString: buffer)
}

/// Throws a `VideoIOError` when an FFmpeg call returned a negative code; returns the code otherwise.
@discardableResult
func check(_ code: Int32, path: String, _ operation: String) throws -> Int32 {
    if code < 0 { throw VideoIOError(path: path, operation: operation, ffmpegCode: code) }
    return code
}
