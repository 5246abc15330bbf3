/// The frames of a `VideoReader` as an `AsyncSequence`. Each `next()` decodes one frame, so a slow consumer
/// slows decoding instead of growing a buffer.
public struct VideoFrames: AsyncSequence {
    public typealias Element = VideoFrame
    let reader: VideoReader

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: VideoReader

        public mutating func next() async throws -> VideoFrame? {
            try reader.nextFrame()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }
}
