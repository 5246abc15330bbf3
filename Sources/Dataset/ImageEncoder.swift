import VideoIO

/// Encodes a frame for a shard member (`.f0.<ext>`); PNG and JPEG go through VideoIO's FFmpeg encoders.
public protocol ImageEncoder {
    /// Member extension without the dot, e.g. "png".
    var fileExtension: String { get }
    func encode(_ image: RGBImage) throws -> [UInt8]
    /// An independent encoder with the same settings, for another thread (encoders need not be thread-safe).
    func makeAnother() throws -> ImageEncoder
}

extension FFmpegImageEncoder: ImageEncoder {
    public func makeAnother() throws -> ImageEncoder {
        try FFmpegImageEncoder(format: format)
    }
}
