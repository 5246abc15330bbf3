/// Frame i paired with frame i + stride, for every i, as an `AsyncSequence`.
///
/// ```swift
/// for try await pair in reader.framePairs(stride: 2) { flow(pair.first, pair.second) }
/// ```
/// With stride 1 these are the consecutive pairs. The iterator keeps a window of `stride + 1` frames: memory is
/// bounded by the stride, not the video's length.
public struct VideoFramePairs: AsyncSequence {
    public typealias Element = FramePair
    let reader: VideoReader
    let stride: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: VideoReader
        let stride: Int
        /// The last `stride` frames read; `window[0]` pairs with the next frame decoded.
        var window: [VideoFrame] = []

        public mutating func next() async throws -> FramePair? {
            while window.count < stride {
                guard let frame = try reader.nextFrame() else { return nil }
                window.append(frame)
            }
            guard let second = try reader.nextFrame() else { return nil }
            let first = window.removeFirst()
            window.append(second)
            return FramePair(first: first, second: second)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader, stride: stride) }
}
