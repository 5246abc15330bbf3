/// A packed RGB24 image (row-major, 3 bytes per pixel, no row padding), the layout VideoIO decodes to.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "RGB24 buffer must hold width*height*3 bytes")
        self.width = width
        self.height = height
        self.rgb = rgb
    }
}

/// A decoded frame as the preprocessor sees it: the picture and where it sits in the video.
public struct SourceFrame: Sendable {
    public var image: RGBImage
    /// Decode-order index from 0, the `<frame6>` of sample keys.
    public var index: Int
    /// Presentation timestamp in the stream's time base, and the same in seconds.
    public var pts: Int64
    public var seconds: Double

    public init(image: RGBImage, index: Int, pts: Int64, seconds: Double) {
        self.image = image
        self.index = index
        self.pts = pts
        self.seconds = seconds
    }
}

/// Something that yields a video's frames in order; VideoIO's reader in the tool, synthetic clips in tests.
public protocol FrameSource: AnyObject {
    func nextFrame() throws -> SourceFrame?
}
