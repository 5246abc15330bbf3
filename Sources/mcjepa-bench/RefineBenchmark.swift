import FlowIO
import FlowRefinement
import Foundation

// `mcjepa-bench refine [--size WxH] [--threads N] [--reps R]`: the coarse-to-fine flow refinement that `flow` runs
// on the network's output, on a textured pair moved by (3, 2) px from a blocky initial flow (the network's kind of
// error), against OpenCV's VariationalRefinement run on the same schedule and thread count
// (Reference/variational_refinement_reference.py --bench, a child process), with the ratio Swift / OpenCV.

func refineBenchmark(width: Int, height: Int, threads: Int, reps: Int) throws {
    // A pattern with detail at several scales (the timing does not depend on the content, only on the size).
    func luma(_ dx: Float, _ dy: Float) -> GrayImage {
        var pixels = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let (sx, sy) = (Float(x) + dx, Float(y) + dy)
                pixels[y * width + x] = 128 + 50 * sin(0.11 * sx + 0.05 * sy) + 40 * cos(0.07 * sy - 0.03 * sx)
                    + 25 * sin(0.23 * sx) * cos(0.19 * sy)
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }
    let first = luma(0, 0), second = luma(-3, -2)
    var initial = FlowField.zero(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            let block = Float(((y / 8) * 31 + (x / 8) * 17) % 9) / 2 - 2  // -2 ... 2 px, constant per 8x8 block
            initial.u[y * width + x] = 3 + block
            initial.v[y * width + x] = 2 - block
        }
    }
    let refinement = CoarseToFineRefinement(refinement: VariationalRefinement(threads: threads))
    let seconds = bestSeconds(reps: reps) { _ = refinement.refine(initial, from: first, to: second) }
    let megapixels = Double(width * height) / 1e6
    print(String(format: "refine: %dx%d, levels 1/%@, %d thread(s): %.1f ms (%.1f Mpx/s)", width, height,
                 refinement.scales(width: width, height: height).map(String.init).joined(separator: ", 1/"), threads,
                 1000 * seconds, megapixels / seconds))

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Reference/variational_refinement_reference.py").path
    process.arguments = ["python3", script, "--bench", "--size", "\(width)x\(height)", "--threads", "\(threads)",
                         "--reps", "\(reps)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    var peer: Double?
    if (try? process.run()) != nil {
        let output = String(data: pipe.fileHandleForReading.readDataToEndOfFile(), encoding: .utf8) ?? ""
        process.waitUntilExit()
        if process.terminationStatus == 0 {
            peer = output.split(separator: "\n").first { $0.hasPrefix("opencv_ms ") }
                .flatMap { Double($0.dropFirst("opencv_ms ".count)) }.map { $0 / 1000 }
        }
    }
    if let peer {
        print(String(format: "  OpenCV VariationalRefinement, same schedule: %.1f ms; Swift / OpenCV %.2f", 1000 * peer,
                     seconds / peer))
    } else {
        print("  OpenCV peer unavailable (python3 with opencv-python-headless runs Reference/variational_refinement_reference.py --bench); no ratio")
    }
}
