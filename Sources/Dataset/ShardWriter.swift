import AtomicOutput
import Dispatch
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
    let encoder: ParallelFrameEncoder
    let encodingThreads: Int
    let pairFlow: (@Sendable (RGBImage, RGBImage) throws -> [UInt8])?
    let openSource: (VideoInput) throws -> FrameSource
    /// Called after every decoded frame and kept pair with (frames decoded, pairs kept) deltas.
    let onProgress: (_ frames: Int, _ pairs: Int) -> Void
    let onVideoDone: () -> Void

    func write(into folder: String) throws -> ShardStats {
        let name = ShardPlan.shardName(shard)
        let tarPath = (folder as NSString).appendingPathComponent(name + ".tar")
        let temporary = AtomicOutput.temporaryPath(for: tarPath)
        let tar = try TarWriter(path: temporary)
        var allStats: [VideoStats] = []
        do {
            for video in videos {
                allStats.append(try writePairs(of: video, into: tar))
                onVideoDone()
            }
            try tar.finish()
        } catch {
            AtomicOutput.discard(temporary)
            throw error
        }
        try writingOutput { try AtomicOutput.commit(temporary, to: tarPath, replace: true) }
        let stats = ShardStats(shard: name, pairs: allStats.reduce(0) { $0 + $1.pairs }, tarBytes: tar.bytesWritten,
                               videosFailed: allStats.filter { $0.error != nil }.count, videos: allStats)
        let statsBytes = try DeterministicJSON.encode(stats) + [UInt8(ascii: "\n")]
        try writingOutput { try AtomicOutput.write(statsBytes, to: (folder as NSString).appendingPathComponent(name + ".stats.json")) }
        return stats
    }

    /// Pairs are encoded in batches of this many per encoding thread: enough to keep the threads busy, few enough
    /// to bound memory (a batch holds its decoded frames).
    static let pairsPerBatchPerThread = 4

    private func writePairs(of video: VideoInput, into tar: TarWriter) throws -> VideoStats {
        var stats = VideoStats(id: video.id, source: video.relativePath, pairs: 0, framesDecoded: 0,
                               sceneCuts: 0, skippedStatic: 0, error: nil)
        var sampler = PairSampler(options: sampling)
        var batch: [SampledPair] = []
        let batchSize = Self.pairsPerBatchPerThread * encodingThreads
        // Batch k is encoded in the background while batch k+1 is decoded; at most two batches are in memory.
        var inFlight: BackgroundEncoding?
        func submit(_ pairs: [SampledPair]) throws {
            if let previous = inFlight {
                inFlight = nil
                try append(previous.pairs, try previous.wait(), of: video, to: tar)
                stats.pairs += previous.pairs.count
            }
            if !pairs.isEmpty { inFlight = BackgroundEncoding(pairs: pairs, encoder: encoder) }
        }
        encoder.startVideo()
        do {
            do {
                let source = try openSource(video)
                while !sampler.isFull, let frame = try source.nextFrame() {
                    stats.framesDecoded += 1
                    let pair = sampler.feed(frame)
                    if let pair {
                        batch.append(pair)
                        if batch.count >= batchSize {
                            try submit(batch)
                            batch.removeAll(keepingCapacity: true)
                        }
                    }
                    onProgress(1, pair == nil ? 0 : 1)
                }
            } catch let error as DatasetError where error.isOutput {
                throw error
            } catch {
                // Keep what was decoded before the error: it is as reproducible as the file itself.
                stats.error = (error as? DatasetError)?.description ?? String(describing: error)
            }
            // The last frame waits for its cut decision until the end of the stream (or of what decoded).
            if let last = sampler.finish() {
                batch.append(last)
                onProgress(0, 1)
            }
            try submit(batch)
            try submit([])
        } catch let error as DatasetError where !error.isOutput {
            stats.error = error.description
        }
        _ = try? inFlight?.wait()  // an encoder error left a batch behind: let it finish before the next video
        stats.sceneCuts = sampler.sceneCuts
        stats.skippedStatic = sampler.pairsSkippedStatic
        return stats
    }

    /// One batch being encoded on a background queue.
    final class BackgroundEncoding {
        let pairs: [SampledPair]
        private let done = DispatchGroup()
        private var result: Result<[(first: EncodedFrame, second: EncodedFrame)], Error>?

        init(pairs: [SampledPair], encoder: ParallelFrameEncoder) {
            self.pairs = pairs
            done.enter()
            // The encoder and `result` are touched by the background block only until `done.leave()`, and read
            // only after `done.wait()`: the group orders the two, no lock needed.
            nonisolated(unsafe) let encoding = self, encoder = encoder
            DispatchQueue.global().async {
                encoding.result = Result { try encoder.encode(pairs) }
                encoding.done.leave()
            }
        }

        func wait() throws -> [(first: EncodedFrame, second: EncodedFrame)] {
            done.wait()
            return try result!.get()
        }
    }

    /// Each sample's members in sorted name order (`f0`, `f1`, `flow.npy`, `json`), adjacent as WebDataset requires.
    private func append(_ pairs: [SampledPair], _ encodedPairs: [(first: EncodedFrame, second: EncodedFrame)],
                        of video: VideoInput, to tar: TarWriter) throws {
        let ext = encoder.fileExtension
        for (pair, encoded) in zip(pairs, encodedPairs) {
            let key = VideoID.sampleKey(videoID: video.id, frameIndex: pair.first.index)
            let metadata = SampleMetadata(
                key: key, videoID: video.id, source: video.relativePath,
                frame0: pair.first.index, frame1: pair.second.index, pts0: pair.first.pts, pts1: pair.second.pts,
                time0: pair.first.seconds, time1: pair.second.seconds,
                width: encoded.first.width, height: encoded.first.height,
                sourceWidth: pair.first.width, sourceHeight: pair.first.height,
                motion: (pair.motion * 1e6).rounded() / 1e6, scene: pair.scene)
            try tar.append(name: "\(key).f0.\(ext)", contents: encoded.first.bytes)
            try tar.append(name: "\(key).f1.\(ext)", contents: encoded.second.bytes)
            if let pairFlow {
                // Flow of the frames as stored: resized the same way the encoder resized them.
                let flow = try pairFlow(encoder.resized(pair.first), encoder.resized(pair.second))
                try tar.append(name: "\(key).flow.npy", contents: flow)
            }
            try tar.append(name: "\(key).json", contents: try DeterministicJSON.encode(metadata))
        }
    }
}
