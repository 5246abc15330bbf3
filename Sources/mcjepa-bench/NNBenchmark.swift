import Foundation
import NN

// `mcjepa-bench nn [--threads N] [--reps R] [--only LABEL]`: the NN kernels at tiny-model shapes
// (--only: just the convolutions whose label contains LABEL; --only stack: just the conv stack).
// Prints sgemm's peak GFLOP/s measured in this run, each convolution's GFLOP/s as a share of that peak, and the
// forward+backward time of a small conv stack against PyTorch CPU on the same shapes and thread count
// (Reference/ops_reference.py --bench, run as a child process), with the ratio Swift / PyTorch.

private struct ConvCase {
    let label: String
    let input: [Int]
    let outChannels: Int, kernel: Int
    let config: Conv2dConfig
}

/// PyTorch's time for the stack. `passiveWait` sets OMP_WAIT_POLICY=PASSIVE: with the default (spinning) policy
/// PyTorch's OpenMP threads collapse when other processes share the cores (10x slower measured here), so the
/// benchmark takes the better of both policies as the peer.
private func runPyTorchStack(threads: Int, reps: Int, passiveWait: Bool) -> Double? {
    let process = Process()
    if passiveWait {
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_WAIT_POLICY"] = "PASSIVE"
        process.environment = environment
    }
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    // The script next to this source tree, so the benchmark works from any directory of the checkout.
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Reference/ops_reference.py").path
    process.arguments = ["python3", script, "--bench", "--threads", "\(threads)", "--reps", "\(reps)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let output = String(data: pipe.fileHandleForReading.readDataToEndOfFile(), encoding: .utf8) ?? ""
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    for line in output.split(separator: "\n") where line.hasPrefix("pytorch_ms ") {
        return Double(line.dropFirst("pytorch_ms ".count)).map { $0 / 1000 }
    }
    return nil
}

/// The conv stack of Reference/ops_reference.py's STACK at 96x160 (quarter resolution of 384x640).
private func swiftStackSeconds(reps: Int) -> Double {
    enum Activation { case none, leaky, gelu }
    let layers: [(cin: Int, cout: Int, k: Int, stride: Int, pad: Int, groups: Int, act: Activation)] = [
        (32, 64, 3, 1, 1, 1, .leaky), (64, 64, 7, 1, 3, 64, .none), (64, 256, 1, 1, 0, 1, .gelu),
        (256, 64, 1, 1, 0, 1, .none), (64, 96, 3, 2, 1, 1, .leaky),
    ]
    let x = pseudoRandomTensor([1, 32, 96, 160], seed: 12345, signed: true)
    let weights = layers.map { pseudoRandomTensor([$0.cout, $0.cin / $0.groups, $0.k, $0.k], seed: 12345, signed: true, scale: 0.1) }
    let biases = layers.map { Tensor(shape: [$0.cout]) }
    let weightGrads = weights.map { Tensor(shape: $0.shape) }
    let biasGrads = biases.map { Tensor(shape: $0.shape) }
    return bestSeconds(reps: reps) {
        var inputs: [Tensor] = [], preActivations: [Tensor] = []
        var h = x
        for (i, layer) in layers.enumerated() {
            let config = Conv2dConfig(stride: layer.stride, padding: layer.pad, groups: layer.groups)
            inputs.append(h)
            let z = conv2dForward(input: h, weight: weights[i], bias: biases[i], config: config)
            preActivations.append(z)
            switch layer.act {
            case .none: h = z
            case .leaky: h = leakyReLUForward(z, slope: 0.1)
            case .gelu: h = geluForward(z)
            }
        }
        var grad = Tensor(shape: h.shape, repeating: 1)
        for i in layers.indices.reversed() {
            let layer = layers[i]
            let z = preActivations[i]
            var gz = grad
            switch layer.act {
            case .none: break
            case .leaky: gz = Tensor(shape: z.shape); leakyReLUBackward(input: z, slope: 0.1, gradOutput: grad, gradInput: gz)
            case .gelu: gz = Tensor(shape: z.shape); geluBackward(input: z, gradOutput: grad, gradInput: gz)
            }
            let gx: Tensor? = i > 0 ? Tensor(shape: inputs[i].shape) : nil
            conv2dBackward(input: inputs[i], weight: weights[i],
                           config: Conv2dConfig(stride: layer.stride, padding: layer.pad, groups: layer.groups),
                           gradOutput: gz, gradInput: gx, gradWeight: weightGrads[i], gradBias: biasGrads[i])
            if let gx { grad = gx }
        }
    }
}

func nnBenchmark(threads: Int, reps: Int, only: String?) throws {
    NN.setThreads(threads)
    print("nn benchmark: \(threads) threads, best of \(reps) runs")
    if only != "stack" { timeConvolutions(reps: reps, only: only) }
    if only != nil && only != "stack" { return }
    if only == nil {
        timeFlowKernels(reps: reps)
    }
    // Alternating rounds of Swift then PyTorch (both OpenMP wait policies), best of each: on a shared machine a
    // burst of load from other processes then hits both sides alike instead of deciding the ratio.
    var swiftStack = Double.infinity
    var torch: Double? = nil
    for _ in 0..<2 {
        swiftStack = min(swiftStack, swiftStackSeconds(reps: reps))
        for passive in [false, true] {
            if let seconds = runPyTorchStack(threads: threads, reps: reps, passiveWait: passive) {
                print(String(format: "  PyTorch (OMP_WAIT_POLICY %@) %.2f ms", passive ? "PASSIVE" : "default", seconds * 1000))
                torch = min(torch ?? seconds, seconds)
            }
        }
    }
    print(String(format: "conv stack fwd+bwd @96x160: Swift %.2f ms", swiftStack * 1000))
    if let torchStack = torch {
        print(String(format: "conv stack fwd+bwd @96x160: PyTorch %.2f ms, ratio Swift/PyTorch %.2f",
                     torchStack * 1000, swiftStack / torchStack))
    } else {
        print("PyTorch reference unavailable (python3 Reference/ops_reference.py --bench failed); no ratio")
    }
}

/// Correlation, warp, layer norm and GELU at quarter-resolution shapes (times only: no GEMM to compare with).
private func timeFlowKernels(reps: Int) {
    let f1 = pseudoRandomTensor([1, 32, 96, 160], seed: 12345, signed: true), f2 = pseudoRandomTensor([1, 32, 96, 160], seed: 12345, signed: true)
    let corr = bestSeconds(reps: reps) { _ = correlationForward(f1, f2) }
    let gCorr = pseudoRandomTensor([1, 81, 96, 160], seed: 12345, signed: true)
    let d1 = Tensor(shape: f1.shape), d2 = Tensor(shape: f2.shape)
    let corrBack = bestSeconds(reps: reps) { correlationBackward(f1, f2, gradOutput: gCorr, gradF1: d1, gradF2: d2) }
    let flow = pseudoRandomTensor([1, 2, 96, 160], seed: 12345, signed: true, scale: 3)
    let warp = bestSeconds(reps: reps) { _ = warpForward(image: f2, flow: flow) }
    let warpBack = bestSeconds(reps: reps) { warpBackward(image: f2, flow: flow, gradOutput: f1, gradImage: d2, gradFlow: Tensor(shape: flow.shape)) }
    let lnW = Tensor(shape: [32], repeating: 1), lnB = Tensor(shape: [32])
    let ln = bestSeconds(reps: reps) { _ = layerNormChannelsForward(input: f1, weight: lnW, bias: lnB) }
    print(String(format: "correlation r4 32ch @96x160  fwd %6.2f ms  bwd %6.2f ms", corr * 1000, corrBack * 1000))
    print(String(format: "warp 32ch @96x160            fwd %6.2f ms  bwd %6.2f ms", warp * 1000, warpBack * 1000))
    print(String(format: "layernorm 32ch @96x160       fwd %6.2f ms", ln * 1000))
    let wide = pseudoRandomTensor([1, 256, 96, 160], seed: 12345, signed: true, scale: 3), wideGrad = Tensor(shape: wide.shape)
    let gelu = bestSeconds(reps: reps) { _ = geluForward(wide) }
    let geluBack = bestSeconds(reps: reps) { geluBackward(input: wide, gradOutput: wide, gradInput: wideGrad) }
    print(String(format: "gelu 256ch @96x160           fwd %6.2f ms  bwd %6.2f ms", gelu * 1000, geluBack * 1000))
}

/// Every convolution case: GFLOP/s forward and backward as a share of sgemm's peak measured in the same run.
private func timeConvolutions(reps: Int, only: String?) {
    // Measured before, between and after the convolutions; the best is the peak (a burst of load from other
    // processes during a single measurement would otherwise inflate every percentage).
    var peak = sgemmPeakGFLOPs(reps: reps)
    var convRows: [(label: String, forwardFlops: Double, forward: Double, backward: Double)] = []

    let cases = [
        ConvCase(label: "stem 4x4 s2 3->48 @384x640", input: [1, 3, 384, 640], outChannels: 48, kernel: 4,
                 config: Conv2dConfig(stride: 2, padding: 1)),
        ConvCase(label: "3x3 s2 48->48 @192x320", input: [1, 48, 192, 320], outChannels: 48, kernel: 3,
                 config: Conv2dConfig(stride: 2, padding: 1)),
        ConvCase(label: "3x3 96->96 @96x160", input: [1, 96, 96, 160], outChannels: 96, kernel: 3,
                 config: Conv2dConfig(padding: 1)),
        ConvCase(label: "3x3 d4 96->96 @96x160", input: [1, 96, 96, 160], outChannels: 96, kernel: 3,
                 config: Conv2dConfig(padding: 4, dilation: 4)),
        ConvCase(label: "1x1 64->256 @96x160", input: [1, 64, 96, 160], outChannels: 256, kernel: 1, config: Conv2dConfig()),
        ConvCase(label: "1x1 256->64 @96x160", input: [1, 256, 96, 160], outChannels: 64, kernel: 1, config: Conv2dConfig()),
        ConvCase(label: "2x2 s2 64->128 @96x160", input: [1, 64, 96, 160], outChannels: 128, kernel: 2,
                 config: Conv2dConfig(stride: 2)),
        ConvCase(label: "dw 7x7 64 @96x160", input: [1, 64, 96, 160], outChannels: 64, kernel: 7,
                 config: Conv2dConfig(padding: 3, groups: 64)),
    ]
    for item in cases where only.map({ item.label.contains($0) }) ?? true {
        let x = pseudoRandomTensor(item.input, seed: 12345, signed: true)
        let w = pseudoRandomTensor([item.outChannels, item.input[1] / item.config.groups, item.kernel, item.kernel], seed: 12345, signed: true, scale: 0.1)
        let b = Tensor(shape: [item.outChannels])
        let y = conv2dForward(input: x, weight: w, bias: b, config: item.config)
        let flops = 2 * Double(y.count) * Double(w.count / item.outChannels)
        let forward = bestSeconds(reps: reps) { _ = conv2dForward(input: x, weight: w, bias: b, config: item.config) }
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
        let backward = bestSeconds(reps: reps) {
            conv2dBackward(input: x, weight: w, config: item.config, gradOutput: y, gradInput: dx, gradWeight: dw, gradBias: db)
        }
        convRows.append((item.label, flops, forward, backward))
        peak = max(peak, sgemmPeakGFLOPs(reps: reps, sizes: [1024]))
    }
    peak = max(peak, sgemmPeakGFLOPs(reps: reps))
    print(String(format: "sgemm peak                  %7.1f GFLOP/s (best measured before, between and after the convolutions)", peak))
    print("conv                              fwd GFLOP/s (% peak)             bwd GFLOP/s (% peak)")
    for row in convRows {
        let fwd = row.forwardFlops / row.forward / 1e9, bwd = 2 * row.forwardFlops / row.backward / 1e9
        print(row.label.padding(toLength: 32, withPad: " ", startingAt: 0)
              + String(format: " %7.1f (%5.1f%%) %7.2f ms   %7.1f (%5.1f%%) %7.2f ms",
                       fwd, 100 * fwd / peak, row.forward * 1000, bwd, 100 * bwd / peak, row.backward * 1000))
    }
}
