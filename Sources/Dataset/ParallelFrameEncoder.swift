import Dispatch
import VideoIO

/// A frame resized and encoded for a shard member.
struct EncodedFrame {
    var bytes: [UInt8]
    var width: Int
    var height: Int
}

/// Resizes and encodes the frames of a batch of pairs on several threads, returning them in pair order.
///
/// Encoding PNGs costs more than decoding the video, and one encoder is single-threaded; ffmpeg's own extraction
/// runs its PNG encoder frame-threaded. Each thread here owns one encoder (FFmpeg codec contexts are not
/// thread-safe). Chained pairs share frames (pair k's second frame is pair k+1's first), so each distinct frame
/// is encoded once, and the last one is kept for the next batch of the same video. Results do not depend on the
/// thread count: every frame's bytes come from the same deterministic encoder settings.
final class ParallelFrameEncoder {
    private let encoders: [ImageEncoder]
    private let resize: ResizeMode
    private var last: (index: Int, frame: EncodedFrame)?

    init(encoder: ImageEncoder, threads: Int, resize: ResizeMode) throws {
        var encoders = [encoder]
        for _ in 1..<max(1, threads) { encoders.append(try encoder.makeAnother()) }
        self.encoders = encoders
        self.resize = resize
    }

    var fileExtension: String { encoders[0].fileExtension }

    /// A frame resized as the encoder resizes it before encoding.
    func resized(_ frame: VideoFrame) -> RGBImage { FrameResizer.apply(resize, to: frame.image) }

    /// Forgets the frame kept from the previous batch (call between videos).
    func startVideo() { last = nil }

    func encode(_ pairs: [SampledPair]) throws -> [(first: EncodedFrame, second: EncodedFrame)] {
        var frames: [VideoFrame] = []
        var slotOfIndex: [Int: Int] = [:]
        for pair in pairs {
            for frame in [pair.first, pair.second] where frame.index != last?.index && slotOfIndex[frame.index] == nil {
                slotOfIndex[frame.index] = frames.count
                frames.append(frame)
            }
        }
        var results = [EncodedFrame?](repeating: nil, count: frames.count)
        var errors = [Error?](repeating: nil, count: frames.count)
        let workers = min(encoders.count, frames.count)
        let resize = self.resize, encoders = self.encoders
        results.withUnsafeMutableBufferPointer { resultsBuffer in
            errors.withUnsafeMutableBufferPointer { errorsBuffer in
                // Workers write distinct slots (below) and each uses its own encoder.
                nonisolated(unsafe) let results = resultsBuffer, errors = errorsBuffer, encoders = encoders
                let frames = frames
                let work: @Sendable (Int) -> Void = { (worker: Int) in
                    // Worker w takes frames w, w+workers, ...: distinct slots, so no two threads write one element.
                    for slot in Swift.stride(from: worker, to: frames.count, by: max(1, workers)) {
                        do {
                            let image = FrameResizer.apply(resize, to: frames[slot].image)
                            results[slot] = EncodedFrame(bytes: try encoders[worker].encode(image),
                                                         width: image.width, height: image.height)
                        } catch {
                            errors[slot] = error
                        }
                    }
                }
                if workers <= 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
            }
        }
        if let error = errors.lazy.compactMap({ $0 }).first { throw error }
        func encoded(_ frame: VideoFrame) -> EncodedFrame {
            if let slot = slotOfIndex[frame.index] { return results[slot]! }
            return last!.frame
        }
        let output = pairs.map { (first: encoded($0.first), second: encoded($0.second)) }
        if let final = pairs.last?.second { last = (final.index, encoded(final)) }
        return output
    }
}
