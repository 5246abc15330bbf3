import Dataset
import Foundation

/// `mcjepa-bench preprocess DIR [--size WxH] [--stride N] [--max-pairs N] [--videos N]`
///
/// Preprocessing throughput (pairs/s, frames decoded/s) on the videos in DIR, against a plain ffmpeg extraction
/// of the same frames measured in the same run: for each video, `ffmpeg -i X -vf select,scale,crop frame%06d.png`
/// decoding as many frames as the preprocessor decoded and writing the frames its pairs use (every stride-th)
/// at the same size, with the same number of decoder threads. The ratio is ffmpeg's time over ours (>1: faster).
func preprocessBenchmark(_ arguments: [String]) throws {
    var folder: String?
    var width = 320, height = 256, stride = 2, maxPairs = 32, videoLimit = Int.max, threads = 2
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        switch argument {
        case "--size":
            let parts = (iterator.next() ?? "").split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw BenchmarkUsage("--size WxH") }
            (width, height) = (parts[0], parts[1])
        case "--stride": stride = Int(iterator.next() ?? "") ?? stride
        case "--max-pairs": maxPairs = Int(iterator.next() ?? "") ?? maxPairs
        case "--videos": videoLimit = Int(iterator.next() ?? "") ?? videoLimit
        case "--threads": threads = Int(iterator.next() ?? "") ?? threads
        default: folder = argument
        }
    }
    guard let folder else { throw BenchmarkUsage("mcjepa-bench preprocess DIR [--size WxH] [--stride N] [--max-pairs N] [--videos N]") }
    let videos = Array(try VideoInputs.collect(paths: [folder]).prefix(videoLimit))
    let scratch = NSTemporaryDirectory() + "mcjepa-bench-preprocess-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: scratch) }

    // Ours: the whole run, one worker, as `mcjepa-video preprocess DIR --size WxH --stride S --max-pairs N`.
    var options = PreprocessOptions(output: scratch + "/shards")
    options.sampling = SamplingOptions(stride: stride, maxPairs: maxPairs)
    options.resize = .exact(width: width, height: height)
    options.pairsPerShard = maxPairs * 4
    options.encodingThreads = threads
    let preprocessor = Preprocessor(
        plan: ShardPlan(videos: videos, pairsPerShard: options.pairsPerShard, maxPairsPerVideo: maxPairs),
        options: options, encoder: try FFmpegImageEncoder(format: .png),
        openSource: VideoFileOpener(resize: options.resize, threads: threads).open)
    let start = Date()
    let summary = try preprocessor.run(worker: .single)
    let ours = Date().timeIntervalSince(start)
    let stats = summary.shardsWritten.flatMap(\.videos)
    let frames = stats.reduce(0) { $0 + $1.framesDecoded }
    let shardBytes = summary.shardsWritten.reduce(0) { $0 + $1.tarBytes }

    // Peer: ffmpeg per video, same frame count decoded, every stride-th frame written as PNG at WxH.
    var peer = 0.0, peerImages = 0, peerFrames = 0
    // One worker writes every shard in plan order, so the stats line up with `videos`.
    for (video, stat) in zip(videos, stats) where stat.error == nil && stat.pairs > 0 {
        let output = scratch + "/ffmpeg-" + video.id
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let images = (stat.framesDecoded - 1) / stride + 1
        let filter = "select='not(mod(n\\,\(stride)))',scale=\(width):\(height):force_original_aspect_ratio=increase,"
            + "crop=\(width):\(height)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "\(threads)", "-i", video.path,
                             "-vf", filter, "-vsync", "0", "-frames:v", "\(images)", output + "/frame%06d.png"]
        let begin = Date()
        try process.run()
        process.waitUntilExit()
        peer += Date().timeIntervalSince(begin)
        guard process.terminationStatus == 0 else { throw BenchmarkUsage("ffmpeg failed on \(video.path)") }
        peerImages += try FileManager.default.contentsOfDirectory(atPath: output).count
        peerFrames += stat.framesDecoded
        try FileManager.default.removeItem(atPath: output)
    }

    let failed = stats.filter { $0.error != nil }
    print("preprocess \(folder): \(videos.count) videos (\(failed.count) failed), \(width)x\(height), stride \(stride), "
          + "max-pairs \(maxPairs), \(threads) decoder and encoder threads")
    print(String(format: "  mcjepa-video preprocess: %d pairs, %d frames decoded in %.2f s: %.1f pairs/s, %.1f frames/s, %.1f MB of shards",
                 summary.pairs, frames, ours, Double(summary.pairs) / ours, Double(frames) / ours,
                 Double(shardBytes) / 1e6))
    print(String(format: "  ffmpeg -vf select,scale,crop frame%%06d.png: %d frames decoded, %d PNGs in %.2f s: %.1f frames/s",
                 peerFrames, peerImages, peer, Double(peerFrames) / peer))
    print(String(format: "  ratio (ffmpeg time / ours, same frames): %.2fx", peer / ours))
    for stat in failed { print("  failed: \(stat.source): \(stat.error!)") }
}

struct BenchmarkUsage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
