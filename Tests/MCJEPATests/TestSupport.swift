@_exported import CommandLineTestSupport
import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The repository's Samples/ folder, found from this source file's location.
let samplesFolder: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Samples").path
}()

/// A test case with a fresh temporary folder per test.
class TemporaryFolderTestCase: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "mcjepa-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }

    func file(_ name: String) -> String { "\(folder!)/\(name)" }

    /// A randomly initialised `test` model saved by WeightsFile (random weights are fine in tests only).
    func savedTestModel(seed: UInt64 = 1) throws -> (path: String, model: MCJEPAModel) {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: seed)
        let path = file("model-\(seed).safetensors")
        try WeightsFile.save(model, to: path, metadata: ["step": "0"])
        return (path, model)
    }
}

/// A smooth, non-repeating side x side RGB picture (sums of sines, values in [0.1, 0.9]) for synthetic pairs.
func sineTexture(side: Int) -> FrameImage {
    let plane = side * side
    var planar = [Float](repeating: 0, count: 3 * plane)
    for i in 0..<plane {
        let x = Float(i % side), y = Float(i / side)
        planar[i] = 0.5 + 0.4 * sin(x / 5) * cos(y / 7)
        planar[plane + i] = 0.5 + 0.4 * sin((x + y) / 6)
        planar[2 * plane + i] = 0.5 + 0.4 * cos(x / 9 - y / 4)
    }
    return FrameImage(width: side, height: side, planar: planar)
}

/// [rows, width] VICReg embeddings with values in [-scale, scale): a small spread keeps every feature's std below 1,
/// away from the variance hinge's kink, where finite differences are not the derivative.
func smallEmbeddings(_ rows: Int, _ width: Int, seed: UInt64, scale: Float = 0.4) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: [rows, width], values: (0..<(rows * width)).map { _ in scale * (2 * rng.uniform() - 1) })
}

/// Checks each analytic gradient of `checked` (name, the input it is taken with respect to, dL/d(input)) against
/// finite differences of `loss`, on about 40 elements per input.
///
/// Bilinear warps and leaky ReLUs are piecewise linear: with many pixels, a step often moves some sample across a cell
/// edge (or an activation across 0) on one side; the one-sided differences then disagree, and the derivative at the
/// point is the one of the side without the kink. So every element must match the central difference or, where the
/// sides disagree, one of them.
func assertMatchesFiniteDifferences(_ checked: [(String, Tensor, Tensor)], eps: Float,
                                    loss: () -> Double, file: StaticString = #filePath, line: UInt = #line) {
    func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 3e-3 + 2e-2 * abs(b) }
    for (name, input, analytic) in checked {
        var failures: [String] = []
        for i in stride(from: 0, to: input.count, by: max(1, input.count / 40)) {
            let saved = input.data[i]
            let base = loss()
            input.data[i] = saved + eps
            let plus = loss()
            input.data[i] = saved - eps
            let minus = loss()
            input.data[i] = saved
            let right = Float((plus - base) / Double(eps)), left = Float((base - minus) / Double(eps))
            let central = Float((plus - minus) / Double(2 * eps)), a = analytic.data[i]
            if !(close(a, central) || (!close(right, left) && (close(a, right) || close(a, left)))) {
                failures.append("[\(i)] analytic \(a), numeric \(central) (left \(left), right \(right))")
            }
        }
        XCTAssert(failures.isEmpty, "\(name): " + failures.prefix(4).joined(separator: "; "), file: file, line: line)
    }
}

/// Items `indices` of a batch tensor [N,C,H,W], stacked in that order.
func batchItems(_ t: Tensor, _ indices: [Int]) -> Tensor {
    let size = t.count / t.n
    return Tensor(shape: [indices.count] + t.shape.dropFirst(),
                  values: indices.flatMap { Array(UnsafeBufferPointer(start: t.data + $0 * size, count: size)) })
}

extension ModelConfig {
    /// `tiny` with one shared estimator and bilinear upsampling, the preset's network before it became the built-in
    /// weights' (`train --preset tiny --upsampler-width 0 --no-per-level-estimators`).
    static var tinySharedBilinear: ModelConfig {
        var config = ModelConfig.tiny
        config.upsamplerWidth = 0
        config.perLevelEstimators = false
        return config
    }
}

extension LossConfig {
    /// The default configuration with every self-supervised flow term at weight 0 (supervised flow training).
    static var selfSupervisedFlowTermsOff: LossConfig {
        var loss = LossConfig()
        loss.photoWeight = 0; loss.featureWeights = [0, 0, 0, 0, 0, 0]; loss.smoothWeight = 0; loss.cycleWeight = 0
        loss.varWeights = [0, 0, 0, 0, 0, 0]; loss.covWeights = [0, 0, 0, 0, 0, 0]
        return loss
    }
}
