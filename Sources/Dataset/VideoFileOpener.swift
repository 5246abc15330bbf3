import VideoIO

/// Opens a plan's video with VideoIO, asking the decoder's scaler for the smallest size the resize mode needs.
///
/// Converting every frame to full-size RGB only to shrink it afterwards would dominate the cost on HD sources, so
/// the scaling happens in swscale while converting: for `--max-side` directly, for `--size WxH` at the scale that
/// makes the centre crop about WxH (the header is read once to learn the display size). `FrameResizer` then only
/// crops, or absorbs a pixel of rounding.
public struct VideoFileOpener: Sendable {
    public var resize: ResizeMode
    public var threads: Int
    /// The part of each video to read (seconds): `DecodeOptions.start` and `duration`.
    public var start: Double
    public var duration: Double?

    public init(resize: ResizeMode, threads: Int = 2, start: Double = 0, duration: Double? = nil) {
        self.resize = resize
        self.threads = threads
        self.start = start
        self.duration = duration
    }

    public func open(_ video: VideoInput) throws -> FrameSource {
        switch resize {
        case .keep:
            return try VideoReader(path: video.path, options: options(.native))
        case let .maxSide(side):
            return try VideoReader(path: video.path, options: options(.maxSide(side)))
        case let .exact(width, height):
            let native = try VideoReader(path: video.path, options: options(.native))
            guard let size = Self.decodeSize(displayWidth: native.info.displayWidth,
                                             displayHeight: native.info.displayHeight,
                                             width: width, height: height) else { return native }
            return try VideoReader(path: video.path, options: options(.exact(width: size.width, height: size.height)))
        }
    }

    private func options(_ size: DecodeOptions.OutputSize) -> DecodeOptions {
        DecodeOptions(threads: threads, size: size, start: start, duration: duration)
    }

    /// The display size scaled so that its centred `width`:`height` window is `width` x `height` (rounded up, so
    /// the window is never smaller); nil when that would not shrink the picture.
    static func decodeSize(displayWidth: Int, displayHeight: Int, width: Int, height: Int) -> (width: Int, height: Int)? {
        guard displayWidth > 0, displayHeight > 0 else { return nil }
        let scale = max(Double(width) / Double(displayWidth), Double(height) / Double(displayHeight))
        guard scale < 1 else { return nil }
        return (max(width, Int((Double(displayWidth) * scale).rounded(.up))),
                max(height, Int((Double(displayHeight) * scale).rounded(.up))))
    }
}
