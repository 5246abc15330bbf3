import VideoIO
import Foundation

/// Writes one shard: every pair of its videos into `shard-NNNNNN.tar`, then `shard-NNNNNN.stats.json`.
///
/// A video that fails to open or decode is recorded in the stats with its error (pairs it already gave stay,
/// which is as deterministic as the file itself); only output errors abort the shard.
struct ShardWriter {
    let shard: Int
    let videos: ArraySlice<VideoInput>
    let sampling: SamplingOptions
    let resize: ResizeMode
    let encoder: ImageEncoder
    let openSource: (VideoInput) throws -> FrameSource
    /// Called after every decoded frame and kept pair with (frames decoded, pairs kept) deltas.
    let onProgress: (_ frames: Int, _ pairs: Int) -> Void
    let onVideoDone: () -> Void

    func write(into folder: String) throws -> ShardStats {
        let name = ShardPlan.shardName(shard)
        let tarPath = (folder as NSString).appendingPathComponent(name + ".tar")
        let temporary = AtomicFile.temporaryPath(for: tarPath)
        let tar = try TarWriter(path: temporary)
        var allStats: [VideoStats] = []
        do {
            for video in videos {
                allStats.append(try writePairs(of: video, into: tar))
                onVideoDone()
            }
            try tar.finish()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        try AtomicFile.commit(temporary, to: tarPath)
        let stats = ShardStats(shard: name, pairs: allStats.reduce(0) { $0 + $1.pairs }, tarBytes: tar.bytesWritten,
                               videosFailed: allStats.filter { $0.error != nil }.count, videos: allStats)
        try AtomicFile.write(try DeterministicJSON.encode(stats) + [UInt8(ascii: "\n")],
                             to: (folder as NSString).appendingPathComponent(name + ".stats.json"))
        return stats
    }

    private func writePairs(of video: VideoInput, into tar: TarWriter) throws -> VideoStats {
        var stats = VideoStats(id: video.id, source: video.relativePath, pairs: 0, framesDecoded: 0,
                               sceneCuts: 0, skippedStatic: 0, error: nil)
        var sampler = PairSampler(options: sampling)
        var cache = EncodedFrameCache()
        do {
            let source = try openSource(video)
            while !sampler.isFull, let frame = try source.nextFrame() {
                stats.framesDecoded += 1
                let pair = sampler.feed(frame)
                if let pair {
                    try append(pair, of: video, to: tar, cache: &cache)
                }
                onProgress(1, pair == nil ? 0 : 1)
            }
        } catch let error as DatasetError {
            if case .output = error { throw error }
            stats.error = error.description
        } catch {
            stats.error = String(describing: error)
        }
        stats.pairs = sampler.pairsKept
        stats.sceneCuts = sampler.sceneCuts
        stats.skippedStatic = sampler.pairsSkippedStatic
        return stats
    }

    /// A sample's members in sorted name order (`f0`, `f1`, `json`), adjacent as WebDataset requires.
    /// Chained pairs share frames (pair k's second frame is pair k+1's first), so the last encoded frame is kept
    /// and reused instead of being resized and encoded twice.
    struct EncodedFrameCache {
        var index = -1
        var bytes: [UInt8] = []
        var size = (width: 0, height: 0)

        mutating func encode(_ frame: VideoFrame, resize: ResizeMode, encoder: ImageEncoder) throws
            -> (bytes: [UInt8], width: Int, height: Int) {
            if frame.index != index {
                let image = FrameResizer.apply(resize, to: frame.image)
                bytes = try encoder.encode(image)
                size = (image.width, image.height)
                index = frame.index
            }
            return (bytes, size.width, size.height)
        }
    }

    private func append(_ pair: SampledPair, of video: VideoInput, to tar: TarWriter,
                        cache: inout EncodedFrameCache) throws {
        let key = VideoID.sampleKey(videoID: video.id, frameIndex: pair.first.index)
        let first = try cache.encode(pair.first, resize: resize, encoder: encoder)
        let second = try cache.encode(pair.second, resize: resize, encoder: encoder)
        let metadata = SampleMetadata(
            key: key, videoID: video.id, source: video.relativePath,
            frame0: pair.first.index, frame1: pair.second.index, pts0: pair.first.pts, pts1: pair.second.pts,
            time0: pair.first.seconds, time1: pair.second.seconds, width: first.width, height: first.height,
            sourceWidth: pair.first.width, sourceHeight: pair.first.height,
            motion: (pair.motion * 1e6).rounded() / 1e6, scene: pair.scene)
        let ext = encoder.fileExtension
        try tar.append(name: "\(key).f0.\(ext)", contents: first.bytes)
        try tar.append(name: "\(key).f1.\(ext)", contents: second.bytes)
        try tar.append(name: "\(key).json", contents: try DeterministicJSON.encode(metadata))
    }
}
