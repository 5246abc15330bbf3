import Foundation
import MCJEPA
import NN
import VideoIO

// `mcjepa-bench model [--reps R] [--threads 1,2] [--sizes 640x360,1024x436] [--config tiny] [--decoder-stop-level L] [--upsampler-width W]
// [--[no-]per-level-estimators] [--refinement-iterations N [--refinement-width W]] [--fine-iterations N [--fine-width W]]
// [--no-end-to-end]`: ms per pair of the
// MC-JEPA model in a video stream (features cached per frame: one encoder + one decoder per pair, one direction),
// against the same weights in PyTorch CPU in the same run (Reference/mcjepa/bench.py --weights, a child process;
// the weights go through a Swift-saved safetensors file, so this also checks that PyTorch loads Swift files), with
// the ratio Swift / PyTorch and the GFLOP/s achieved against sgemm's peak measured in this run.
// Then, per thread count, the end-to-end speed of the built `mcjepa-video flow` (decode, model, write) at 640x360.
// Frames are padded to multiples of 64 (640x360 -> 640x384, 1024x436 -> 1024x448); both sides time the padded size.
// With a recurrent refinement or a fine head, each size also prints the decoder's cost with and without the heads (the
// same network less its heads), timed alternately so that both see the same load, in wall and process CPU time.

/// PyTorch's "pair (stream, 1 encode)" ms per padded size (HxW), or nil with the reason printed.
private func pytorchPairMilliseconds(weights: String, threads: Int, sizes: [(Int, Int)], reps: Int) -> [String: Double]? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.currentDirectoryURL = URL(fileURLWithPath: "Reference")
    process.arguments = ["python3", "-m", "mcjepa.bench", "--weights", weights, "--threads", "\(threads)",
                         "--repeats", "\(reps)", "--train-size", "", "--sizes", sizes.map { "\($0.0)x\($0.1)" }.joined(separator: ",")]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { print("  PyTorch: cannot run python3 (\(error))"); return nil }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { print("  PyTorch: bench.py failed (run from the repository root)"); return nil }
    var result: [String: Double] = [:]
    for line in output.split(separator: "\n") where line.hasPrefix("inference ") {
        // "inference 384x640: encode 20.5 ms, decode 44.9 ms, pair (stream, 1 encode) 65.5 ms, ..."
        let size = line.dropFirst("inference ".count).prefix { $0 != ":" }
        guard let range = line.range(of: "pair (stream, 1 encode) ") else { continue }
        result[String(size)] = Double(line[range.upperBound...].prefix { $0 != " " })
    }
    return result
}

func modelBenchmark(reps: Int, threadCounts: [Int], sizes: [(Int, Int)], config: ModelConfig, endToEnd: Bool) throws {

    let model = MCJEPAModel(config: config)
    model.initializeRandomly(seed: 0)
    let weights = NSTemporaryDirectory() + "mcjepa-bench-\(getpid()).safetensors"
    try WeightsFile.save(model, to: weights, metadata: ["note": "random weights for mcjepa-bench"])
    defer { try? FileManager.default.removeItem(atPath: weights) }
    print("model \(config), \(model.parameters.parameterCount) parameters, best of \(reps) runs; "
          + "the machine is shared, so figures vary between runs")

    for threads in threadCounts {
        setThreads(threads)
        let peak = sgemmPeakGFLOPs(reps: 3)
        print(String(format: "threads %d: sgemm peak %.1f GFLOP/s", threads, peak))
        let padded = sizes.map { (InputPadder(height: $0.1, width: $0.0).paddedHeight, InputPadder(height: $0.1, width: $0.0).paddedWidth) }
        let reference = pytorchPairMilliseconds(weights: weights, threads: threads, sizes: padded, reps: reps)
        for ((width, height), (ph, pw)) in zip(sizes, padded) {
            let f1 = model.encode(pseudoRandomTensor([1, 3, ph, pw], seed: 7)), frame2 = pseudoRandomTensor([1, 3, ph, pw], seed: 8)
            let f2 = model.encode(frame2)
            let encodeMs = 1000 * bestSeconds(reps: reps) { _ = model.encode(frame2) }
            let decodeMs = 1000 * bestSeconds(reps: reps) { _ = model.flow(f1, f2) }
            let pairMs = encodeMs + decodeMs
            let flops = ModelFLOPs.encoder(config, height: ph, width: pw) + ModelFLOPs.decoder(config, height: ph, width: pw)
            let gflops = flops / (pairMs / 1e3) / 1e9
            var line = String(format: "  %dx%d (padded %dx%d): encode %.1f ms + decode %.1f ms = %.1f ms/pair (%.1f pairs/s), "
                              + "%.2f GFLOP/pair, %.1f GFLOP/s (%.0f%% of sgemm peak)",
                              width, height, pw, ph, encodeMs, decodeMs, pairMs, 1000 / pairMs, flops / 1e9, gflops, 100 * gflops / peak)
            if let torchMs = reference?["\(ph)x\(pw)"] {
                line += String(format: "; PyTorch %.1f ms/pair, Swift/PyTorch %.2f", torchMs, pairMs / torchMs)
            } else {
                line += "; PyTorch: no figure"
            }
            print(line)
            if config.refinementIterations > 0 || config.fineIterations > 0 { headCost(model, f1, f2, reps: reps) }
        }
        if endToEnd { endToEndFlowBenchmark(weights: weights, threads: threads) }
    }
}

/// Decode ms (wall and CPU) of `model` and of the same network without its recurrent refinement and fine head,
/// alternately.
private func headCost(_ model: MCJEPAModel, _ f1: [Tensor], _ f2: [Tensor], reps: Int) {
    var plainConfig = model.config
    plainConfig.refinementIterations = 0
    plainConfig.refinementWidth = 0
    plainConfig.fineIterations = 0
    plainConfig.fineWidth = 0
    let plain = MCJEPAModel(config: plainConfig)
    plain.initializeRandomly(seed: 0)
    func time(_ network: MCJEPAModel) -> (wall: Double, cpu: Double) {
        let (start, cpu) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds(RUSAGE_SELF.rawValue))
        _ = network.flow(f1, f2)
        return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6, 1000 * (cpuSeconds(RUSAGE_SELF.rawValue) - cpu))
    }
    _ = time(plain); _ = time(model)
    var without = (wall: Double.infinity, cpu: Double.infinity), with = without
    for _ in 0..<reps {
        let a = time(plain), b = time(model)
        without = (min(without.wall, a.wall), min(without.cpu, a.cpu))
        with = (min(with.wall, b.wall), min(with.cpu, b.cpu))
    }
    let heads = [model.config.refinementIterations > 0 ? "\(model.config.refinementIterations) refinement iterations" : nil,
                 model.config.fineIterations > 0 ? "\(model.config.fineIterations) fine iterations" : nil]
        .compactMap { $0 }.joined(separator: " and ")
    print(String(format: "    decode without the heads %.1f ms (CPU %.1f), ", without.wall, without.cpu)
          + "with \(heads) " + String(format: "%.1f ms (CPU %.1f): +%.1f ms (CPU +%.1f) per pair",
                                       with.wall, with.cpu, with.wall - without.wall, with.cpu - without.cpu))
}

/// End to end (decode, model, flow files): the built `mcjepa-video flow` on Samples/motion.mov scaled to 640x360
/// (written once to a temporary H.264 file), with the given threads; prints pairs per second of wall time.
func endToEndFlowBenchmark(weights: String, threads: Int) {
    let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mcjepa-video").path
    guard FileManager.default.isExecutableFile(atPath: tool) else {
        print("  end to end: \(tool) not built (swift build -c release first)")
        return
    }
    let folder = NSTemporaryDirectory() + "mcjepa-bench-e2e-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let clip = folder + "/motion-640x360.mp4"
    do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let reader = try VideoReader(path: "Samples/motion.mov", options: DecodeOptions(size: .exact(width: 640, height: 360)))
        let writer = try VideoWriter(path: clip, width: 640, height: 360, options: .matching(reader.info))
        while let frame = try reader.nextFrame() { try writer.write(frame) }
        try writer.finish()
    } catch {
        print("  end to end: cannot prepare the 640x360 clip (\(error))")
        return
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = ["flow", clip, "-o", folder + "/flow", "--model", weights, "--threads", "\(threads)", "--progress", "none"]
    let errors = Pipe()
    process.standardError = errors
    let start = DispatchTime.now().uptimeNanoseconds
    do { try process.run() } catch { print("  end to end: cannot run \(tool)"); return }
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let pairs = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/flow").count) ?? 0
    guard process.terminationStatus == 0 else { print("  end to end: flow failed: \(text)"); return }
    print(String(format: "  end to end 640x360 (mcjepa-video flow, motion.mov rescaled): %d pairs in %.1f s = %.1f pairs/s (goal 30 with 2 threads)",
                 pairs, seconds, Double(pairs) / seconds))
}
