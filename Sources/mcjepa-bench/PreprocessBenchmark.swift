import Dataset
import VideoIO
import Foundation

/// `mcjepa-bench preprocess DIR [--size WxH] [--stride N] [--max-pairs N] [--videos N]`
///
/// Preprocessing throughput (pairs/s, frames decoded/s) on the videos in DIR, against a plain ffmpeg extraction
/// of the same frames measured in the same run: for each video, `ffmpeg -i X -vf select,scale,crop frame%06d.png`
/// decoding as many frames as the preprocessor decoded and writing the frames its pairs use (every stride-th)
/// at the same size, with the same number of decoder threads. The ratio is ffmpeg's time over ours (>1: faster).
func preprocessBenchmark(folder: String, width: Int, height: Int, stride: Int, maxPairs: Int, videoLimit: Int,
                         threads: Int) throws {
    let videos = Array(try VideoInputs.collect(paths: [folder]).prefix(videoLimit))
    let scratch = NSTemporaryDirectory() + "mcjepa-bench-preprocess-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: scratch) }

    // Video by video, ours then ffmpeg on the same video, so that load from other processes on a shared machine
    // falls on both alike. CPU time (user + system, children for ffmpeg) is reported next to wall time because
    // it hardly depends on that load.
    var ours = Timing(), peer = Timing()
    var pairs = 0, frames = 0, shardBytes = 0, peerFrames = 0, peerImages = 0
    var failed: [VideoStats] = []
    for (number, video) in videos.enumerated() {
        // Ours: as `mcjepa-video preprocess VIDEO --size WxH --stride S --max-pairs N --threads T`.
        var options = PreprocessOptions(output: scratch + "/shards-\(number)")
        options.sampling = SamplingOptions(stride: stride, maxPairs: maxPairs)
        options.resize = .exact(width: width, height: height)
        options.pairsPerShard = maxPairs
        options.encodingThreads = threads
        let preprocessor = Preprocessor(
            plan: ShardPlan(videos: [video], pairsPerShard: maxPairs, maxPairsPerVideo: maxPairs),
            options: options, encoder: try FFmpegImageEncoder(format: .png),
            openSource: VideoFileOpener(resize: options.resize, threads: threads).open)
        let summary = try ours.measure { try preprocessor.run(worker: .single) }
        guard let stat = summary.shardsWritten.first?.videos.first else { continue }
        pairs += stat.pairs
        frames += stat.framesDecoded
        shardBytes += summary.shardsWritten.reduce(0) { $0 + $1.tarBytes }
        try? FileManager.default.removeItem(atPath: options.output)
        guard stat.error == nil, stat.pairs > 0 else {
            if stat.error != nil { failed.append(stat) }
            continue
        }

        // Peer: ffmpeg decoding the same number of frames, writing every stride-th one as a WxH PNG.
        let output = scratch + "/ffmpeg-\(number)"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let images = (stat.framesDecoded - 1) / stride + 1
        let filter = "select='not(mod(n\\,\(stride)))',scale=\(width):\(height):force_original_aspect_ratio=increase,"
            + "crop=\(width):\(height)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "\(threads)", "-i", video.path,
                             "-vf", filter, "-vsync", "0", "-frames:v", "\(images)", output + "/frame%06d.png"]
        try peer.measure(children: true) {
            try process.run()
            process.waitUntilExit()
        }
        guard process.terminationStatus == 0 else { throw BenchmarkError("ffmpeg failed on \(video.path)") }
        peerImages += try FileManager.default.contentsOfDirectory(atPath: output).count
        peerFrames += stat.framesDecoded
        try FileManager.default.removeItem(atPath: output)
    }

    print("preprocess \(folder): \(videos.count) videos (\(failed.count) failed), \(width)x\(height), stride \(stride), "
          + "max-pairs \(maxPairs), \(threads) decoder and encoder threads")
    print(String(format: "  mcjepa-video preprocess: %d pairs, %d frames decoded, %.1f MB of shards; wall %.2f s "
                 + "(%.1f pairs/s, %.1f frames/s), CPU %.2f s",
                 pairs, frames, Double(shardBytes) / 1e6, ours.wall, Double(pairs) / ours.wall,
                 Double(frames) / ours.wall, ours.cpu))
    print(String(format: "  ffmpeg -vf select,scale,crop frame%%06d.png: %d frames decoded, %d PNGs; wall %.2f s "
                 + "(%.1f frames/s), CPU %.2f s", peerFrames, peerImages, peer.wall, Double(peerFrames) / peer.wall,
                 peer.cpu))
    print(String(format: "  ratio ffmpeg / ours (same frames; >1 means ours is faster): wall %.2fx, CPU %.2fx",
                 peer.wall / ours.wall, peer.cpu / ours.cpu))
    for stat in failed { print("  failed: \(stat.source): \(stat.error!)") }
}

/// Wall and CPU seconds summed over measured blocks.
struct Timing {
    var wall = 0.0
    var cpu = 0.0

    mutating func measure<T>(children: Bool = false, _ body: () throws -> T) rethrows -> T {
        let who = children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue
        let cpuBefore = cpuSeconds(who), start = Date()
        let result = try body()
        wall += Date().timeIntervalSince(start)
        cpu += cpuSeconds(who) - cpuBefore
        return result
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
