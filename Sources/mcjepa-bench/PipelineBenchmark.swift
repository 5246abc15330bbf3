import Foundation
import MCJEPA
import NN
import VideoIO
import VideoPipeline

// `mcjepa-bench pipeline [--threads 2] [--frames 60] [--reps 2] [--model PATH] [--no-memory]`: the flow command's
// pipeline against the network it runs, in the same run, with the same weights (the built-in ones, else a random
// tiny model) and threads:
// - speed: pairs/s of the network alone (in this process, frames already decoded in memory: per pair, one frame's
//   features and one flow, what `FlowPairs` computes per pair) against `mcjepa-video flow --no-refine` end to end
//   (a child process: weights loaded, the clip decoded, .flo files written), on the first --frames frames of
//   Samples/motion.mov scaled to 640x360; the ratio should be at least 0.9 (decoding and writing overlap the
//   network);
// - memory: peak resident memory (VmHWM) of `flow --stride 300 --no-refine` on a 720p clip of 330 frames, with and
//   without --video, against the 829 MB that 300 decoded 720p frames would take.

/// Runs the built `mcjepa-video` with `arguments`; wall seconds, peak RSS in MB (polled from /proc), exit status.
private func runTool(_ arguments: [String]) -> (seconds: Double, peakMB: Double, status: Int32) {
    let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mcjepa-video").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    let start = DispatchTime.now().uptimeNanoseconds
    do { try process.run() } catch { return (0, 0, -1) }
    var peak = 0.0
    while process.isRunning {
        // VmHWM is the process's peak resident set so far; the last reading before it exits is its peak.
        if let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            peak = max(peak, kb / 1024)
        }
        usleep(20_000)
    }
    process.waitUntilExit()
    return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, peak, process.terminationStatus)
}

/// Writes `frames` frames of Samples/motion.mov (looped, scaled to width x height) as an H.264 clip.
private func makeClip(_ path: String, width: Int, height: Int, frames: Int) throws {
    var reader = try VideoReader(path: "Samples/motion.mov", options: DecodeOptions(size: .exact(width: width, height: height)))
    let writer = try VideoWriter(path: path, width: width, height: height,
                                 options: EncodeOptions(codec: .h264(crf: 23, preset: "veryfast")))
    while writer.frameCount < frames {
        guard let frame = try reader.nextFrame() else {
            reader = try VideoReader(path: "Samples/motion.mov", options: DecodeOptions(size: .exact(width: width, height: height)))
            continue
        }
        try writer.write(rgb: frame.rgb)
    }
    try writer.finish()
}

func pipelineBenchmark(threads: Int, frames: Int, reps: Int, model: String?, memory: Bool) throws {
    let folder = NSTemporaryDirectory() + "mcjepa-bench-pipeline-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }

    var weights = model ?? BuiltInWeights.path ?? ""
    if weights.isEmpty {
        let model = MCJEPAModel(config: .tiny)
        model.initializeRandomly(seed: 0)
        weights = folder + "/random.safetensors"
        try WeightsFile.save(model, to: weights, metadata: ["note": "random weights for mcjepa-bench"])
    }
    let loaded = try WeightsFile.load(path: weights)
    print("weights \(weights) (config \(loaded.model.config)), \(threads) threads, best of \(reps); the machine is shared, "
          + "so figures vary between runs")

    let clip = folder + "/motion-640x360.mp4"
    try makeClip(clip, width: 640, height: 360, frames: frames)
    let estimator = FlowEstimator(loaded: loaded, refinement: nil, threads: threads)
    let reader = try VideoReader(path: clip)
    var images: [FrameImage] = []
    while let frame = try reader.nextFrame() { images.append(FrameImage(frame)) }
    // Alternate the two, best of `reps` each, so both see the same share of a busy machine; CPU seconds (all
    // threads) as well, which a busy machine disturbs far less than wall time.
    var network = Double.infinity, endToEnd = Double.infinity, networkCPU = Double.infinity, endToEndCPU = Double.infinity
    for rep in 0...reps {
        let cpu = cpuSeconds(RUSAGE_SELF.rawValue), start = DispatchTime.now().uptimeNanoseconds
        var previous = estimator.features(images[0])
        for image in images.dropFirst() {
            let features = estimator.features(image)
            _ = estimator.flow(from: previous, to: features)
            previous = features
        }
        // The first pass warms up (caches, the thread pool) and is not counted.
        if rep > 0 {
            network = min(network, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            networkCPU = min(networkCPU, cpuSeconds(RUSAGE_SELF.rawValue) - cpu)
        }
        let childCPU = cpuSeconds(RUSAGE_CHILDREN.rawValue)
        let run = runTool(["flow", clip, "-o", "\(folder)/flow-\(rep)", "--model", weights, "--no-refine",
                           "--threads", "\(threads)", "--progress", "none"])
        guard run.status == 0 else { print("  flow failed (exit \(run.status))"); return }
        if rep > 0 {
            endToEnd = min(endToEnd, run.seconds)
            endToEndCPU = min(endToEndCPU, cpuSeconds(RUSAGE_CHILDREN.rawValue) - childCPU)
        }
    }
    let pairs = Double(images.count - 1)
    print(String(format: "speed, 640x360, %d pairs: network alone %.2f pairs/s (%.0f CPU ms/pair); flow --no-refine end to "
                 + "end %.2f pairs/s (%.0f CPU ms/pair; decode, network, .flo files, weights loading included): %.2f of the "
                 + "network's speed by wall time, %.2f by CPU time (goal >= 0.90)",
                 images.count - 1, pairs / network, 1000 * networkCPU / pairs, pairs / endToEnd, 1000 * endToEndCPU / pairs,
                 network / endToEnd, networkCPU / endToEndCPU))

    guard memory else { return }
    let hd = folder + "/hd-1280x720.mp4"
    try makeClip(hd, width: 1280, height: 720, frames: 330)
    let held = 300.0 * 1280 * 720 * 3 / 1e6
    for video in [false, true] {
        let run = runTool(["flow", hd, "-o", "\(folder)/hd-flow-\(video)", "--model", weights, "--no-refine", "--stride", "300",
                           "--threads", "\(threads)", "--progress", "none"] + (video ? ["--video", "\(folder)/hd-\(video).mp4"] : []))
        guard run.status == 0 else { print("  flow --stride 300 failed (exit \(run.status))"); return }
        print(String(format: "memory, 1280x720, 330 frames, flow --stride 300 --no-refine%@: peak RSS %.0f MB in %.0f s "
                     + "(300 decoded frames alone would be %.0f MB; goal < 1000 MB)",
                     video ? " --video" : "", run.peakMB, run.seconds, held))
    }
}
