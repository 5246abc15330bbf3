import Foundation
import MCJEPA
import NN

// `mcjepa-bench train [--reps R] [--threads 2] [--crop 256x320] [--batch 1] [--config tiny] [--decoder-stop-level L]
// [--upsampler-width W] [--[no-]per-level-estimators]`: ms per training step
// of the flow batch (both directions: encoder x2, decoder x2, every flow loss, full backward, AdamW update)
// against the same step in PyTorch CPU in the same run (Reference/mcjepa/bench.py --train-size, a child
// process, its own random weights of the same preset), and the ratio Swift / PyTorch (target <= 1).
// The content batch is not part of either figure (bench.py times flow_losses only).
// With `--content-local-views M [--content-batch B --content-size S --content-local-size s]` it also times whole
// Swift steps, the flow batch plus a content batch (two global views of B items at S px), without and with M local
// views per item at s px, and prints the cost of the local views as a ratio of the two. With `--content-dense W
// [--content-dense-level L]` likewise without and with the dense content loss (a local projector at level L on the
// two global views, cells of overlapping boxes matched; `--content-dense-nn K` adds the feature-space pairs), on a
// network with the projector. With `--train-through-alignment` it also times the flow step whose losses see the
// feature-aligned flow (`TrainerOptions.trainThroughAlignment`: the alignment's forward and backward in both
// directions), interleaved with the plain step, and prints their ratio.

private func pytorchTrainStepMilliseconds(preset: String, config: ModelConfig, threads: Int, crop: (Int, Int), batch: Int,
                                          reps: Int) -> Double? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.currentDirectoryURL = URL(fileURLWithPath: "Reference")
    process.arguments = ["python3", "-m", "mcjepa.bench", "--preset", preset, "--threads", "\(threads)", "--repeats", "\(reps)",
                         "--sizes", "", "--train-size", "\(crop.0)x\(crop.1)", "--train-batch", "\(batch)",
                         "--set", "decoder_stop_level=\(config.decoderStopLevel)", "--set", "upsampler_width=\(config.upsamplerWidth)",
                         "--set", "per_level_estimators=\(config.perLevelEstimators ? "True" : "False")",
                         "--set", "refinement_iterations=\(config.refinementIterations)",
                         "--set", "refinement_width=\(config.refinementWidth)",
                         "--set", "fine_iterations=\(config.fineIterations)", "--set", "fine_width=\(config.fineWidth)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { print("  PyTorch: cannot run python3 (\(error))"); return nil }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { print("  PyTorch: bench.py failed (run from the repository root)"); return nil }
    // "train step 256x320 batch 4 both directions: 812.3 ms"
    for line in output.split(separator: "\n") where line.hasPrefix("train step ") {
        guard let colon = line.lastIndex(of: ":") else { continue }
        return Double(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).prefix { $0 != " " })
    }
    return nil
}

/// The content batch of `mcjepa-bench train --content-local-views`.
struct ContentBenchSettings {
    let batch: Int, size: Int, localViews: Int, localSize: Int
    /// The dense content loss's weight (0: not timed) and level.
    var denseWeight: Float = 0, denseLevel = ModelConfig.defaultLocalProjectorLevel
    /// Feature-space pairs kept per item and direction (`--content-dense-nn`).
    var denseNearest = 0
}

func trainBenchmark(reps: Int, threads: Int, crop: (Int, Int), batch: Int, preset presetName: String,
                    config: ModelConfig, content: ContentBenchSettings? = nil, throughAlignment: Bool = false) throws {
    setThreads(threads)
    // The dense loss's projector is a training head: the flow step's figure does not change with it.
    let model = MCJEPAModel(config: (content?.denseWeight ?? 0) > 0 ? config.withLocalProjector(level: content!.denseLevel) : config)
    model.initializeRandomly(seed: 0)
    let specs = model.parameters.specs
    let optimizer = AdamW(parameterShapes: specs.map(\.shape), learningRate: 1e-4)
    let img1 = pseudoRandomTensor([batch, 3, crop.0, crop.1], seed: 1)
    let img2 = pseudoRandomTensor([batch, 3, crop.0, crop.1], seed: 2)
    let loss = LossConfig()
    func step(alignmentIterations: Int = 0) {
        model.parameters.zeroGradients()
        model.flowLossesWithBackward(img1, img2, config: loss, alignmentIterations: alignmentIterations)
        optimizer.update(parameters: specs.map { model.parameters[$0.name] }, gradients: specs.map { model.parameters.gradient($0.name) })
    }
    let best = 1000 * bestSeconds(reps: reps) { step() }  // its warm-up run fills the allocator pools
    let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    print("train step \(config) \(crop.0)x\(crop.1), batch \(batch), both directions, \(threads) threads, best of \(reps); load average \(load)")
    print(String(format: "  Swift:   %.1f ms/step (%.2f steps/s)", best, 1000 / best))
    if throughAlignment {
        // Interleaved: the alignment is a modest part of the step, within a shared machine's drift.
        let iterations = FeatureAlignment.defaultIterations
        let (without, with) = bestSecondsInterleaved(reps: reps, { step() }, { step(alignmentIterations: iterations) })
        print(String(format: "  Swift:   %.1f ms/step without, %.1f ms/step through the alignment (%d iterations, both directions; interleaved)",
                     1000 * without, 1000 * with, iterations))
        print(String(format: "  ratio through / without the alignment: %.3f", with / without))
    }
    if let content { contentStepBenchmark(content, model: model, optimizer: optimizer, img1: img1, img2: img2, reps: reps) }
    if let reference = pytorchTrainStepMilliseconds(preset: presetName, config: config, threads: threads, crop: crop, batch: batch, reps: reps) {
        print(String(format: "  PyTorch: %.1f ms/step (%.2f steps/s)", reference, 1000 / reference))
        print(String(format: "  ratio Swift / PyTorch time: %.2f", best / reference))
    }
}

/// Whole steps (flow batch + content batch + update) without and with multi-crop local views, on the same weights.
private func contentStepBenchmark(_ content: ContentBenchSettings, model: MCJEPAModel, optimizer: AdamW, img1: Tensor,
                                  img2: Tensor, reps: Int) {
    let specs = model.parameters.specs
    let viewA = pseudoRandomTensor([content.batch, 3, content.size, content.size], seed: 3)
    let viewB = pseudoRandomTensor([content.batch, 3, content.size, content.size], seed: 4)
    let local = pseudoRandomTensor([content.localViews * content.batch, 3, content.localSize, content.localSize], seed: 5)
    let loss = LossConfig()
    // Boxes of the two views in a 320x240 frame: overlapping, one of each pair mirrored, offsets varying by item.
    let dense = DenseContent(
        weight: content.denseWeight,
        firstBoxes: (0..<content.batch).map { _ in ViewBox(x: 0, y: 0, width: 200, height: 200, flipped: false) },
        secondBoxes: (0..<content.batch).map { ViewBox(x: Float(40 + 4 * $0), y: 30, width: 180, height: 180, flipped: $0 % 2 == 0) },
        sameFrame: Array(repeating: true, count: content.batch), nearestNeighbours: content.denseNearest)
    func step(localViews: Tensor?, dense: DenseContent? = nil) {
        model.parameters.zeroGradients()
        model.flowLossesWithBackward(img1, img2, config: loss)
        model.contentLossesWithBackward(viewA, viewB, localViews: localViews, config: loss, dense: dense)
        optimizer.update(parameters: specs.map { model.parameters[$0.name] }, gradients: specs.map { model.parameters.gradient($0.name) })
    }
    let plain = 1000 * bestSeconds(reps: reps) { step(localViews: nil) }
    print("  with a content batch of \(content.batch) at \(content.size) px (two views each):")
    print(String(format: "  Swift:   %.1f ms/step without local views", plain))
    if content.localViews > 0 {
        let multi = 1000 * bestSeconds(reps: reps) { step(localViews: local) }
        print(String(format: "  Swift:   %.1f ms/step with %d local views of %d px per item", multi, content.localViews, content.localSize))
        print(String(format: "  ratio with / without local views: %.2f", multi / plain))
    }
    if content.denseWeight > 0 {
        // Interleaved with the plain step: the difference is a few percent, within a shared machine's drift.
        let (without, with) = bestSecondsInterleaved(reps: reps, { step(localViews: nil) }, { step(localViews: nil, dense: dense) })
        print(String(format: "  Swift:   %.1f ms/step without, %.1f ms/step with the dense content loss at level %d%@ (interleaved)",
                     1000 * without, 1000 * with, content.denseLevel,
                     content.denseNearest > 0 ? ", \(content.denseNearest) nearest-neighbour pairs" : ""))
        print(String(format: "  ratio with / without the dense content loss: %.3f", with / without))
        // The content pass alone (encoder, expander, losses and backward of the two views), where the cost lies.
        let (plainContent, denseContent) = bestSecondsInterleaved(reps: reps, {
            model.parameters.zeroGradients()
            model.contentLossesWithBackward(viewA, viewB, config: loss)
        }, {
            model.parameters.zeroGradients()
            model.contentLossesWithBackward(viewA, viewB, config: loss, dense: dense)
        })
        print(String(format: "  content pass alone: %.1f ms without, %.1f ms with the dense loss (ratio %.3f)",
                     1000 * plainContent, 1000 * denseContent, denseContent / plainContent))
    }
}
