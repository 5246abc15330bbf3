import VideoIO

/// Something that yields a video's frames in order: VideoIO's reader for files, synthetic clips in tests.
public protocol FrameSource: AnyObject {
    func nextFrame() throws -> VideoFrame?
}

/// The reader decodes lazily, one frame at a time, which is the bounded memory preprocessing needs.
extension VideoReader: FrameSource {}
