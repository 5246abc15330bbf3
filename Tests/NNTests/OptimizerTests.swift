import Foundation
import XCTest
@testable import NN

final class OptimizerTests: XCTestCase {
    func test_cosine_schedule_warms_up_linearly_then_decays_to_the_minimum() {
        let lr = { (step: Int) in cosineLearningRate(step: step, baseLR: 1e-3, warmupSteps: 10, totalSteps: 110, minLR: 1e-5) }
        XCTAssertEqual(lr(0), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(lr(4), 5e-4, accuracy: 1e-9)
        XCTAssertEqual(lr(9), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(lr(10), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(lr(60), 1e-5 + 0.5 * (1e-3 - 1e-5), accuracy: 1e-8)
        XCTAssertEqual(lr(110), 1e-5, accuracy: 1e-9)
        XCTAssertEqual(lr(500), 1e-5, accuracy: 1e-9)
        for step in 10..<110 { XCTAssertLessThanOrEqual(lr(step + 1), lr(step)) }
    }

    func test_adamw_exempts_tensors_from_weight_decay_when_asked() {
        let p = Tensor(shape: [2], values: [1, 1]), q = Tensor(shape: [2], values: [1, 1])
        let zero = Tensor(shape: [2])
        let optimizer = AdamW(parameterShapes: [[2], [2]], learningRate: 0.1, weightDecay: 0.5)
        optimizer.update(parameters: [p, q], gradients: [zero, zero], decay: [true, false])
        XCTAssertEqual(p.array, [0.95, 0.95])  // 1 - lr * wd, and no Adam step from a zero gradient
        XCTAssertEqual(q.array, [1, 1])
    }

    func test_adamw_learning_rate_scales_act_element_by_element_as_a_larger_rate() {
        // Element 1 with scale 3 follows what a 3x learning rate does to it; element 0 (scale 1) and an unscaled
        // tensor follow the base rate.
        let gradients = [Tensor(shape: [2], values: [0.3, -0.7]), Tensor(shape: [2], values: [0.3, -0.7])]
        func run(_ lr: Float, scales: [Tensor?]?) -> [[Float]] {
            let p = Tensor(shape: [2], values: [1, 2]), q = Tensor(shape: [2], values: [1, 2])
            let optimizer = AdamW(parameterShapes: [[2], [2]], learningRate: lr, weightDecay: 0.1)
            for _ in 0..<3 { optimizer.update(parameters: [p, q], gradients: gradients, learningRateScales: scales) }
            return [p.array, q.array]
        }
        let scaled = run(0.01, scales: [Tensor(shape: [2], values: [1, 3]), nil])
        let base = run(0.01, scales: nil), fast = run(0.03, scales: nil)
        XCTAssertEqual(scaled[0][0], base[0][0])
        XCTAssertEqual(scaled[0][1], fast[0][1], accuracy: 1e-6)
        XCTAssertNotEqual(scaled[0][1], base[0][1])
        XCTAssertEqual(scaled[1], base[1])
    }

    func test_kernels_give_the_same_result_with_one_and_two_threads() {
        // Big enough that parallelFor really splits the work (tiny maps run on the calling thread).
        var random = SeededRandom(seed: 21)
        let f1 = random.tensor([1, 8, 40, 48]), f2 = random.tensor([1, 8, 40, 48])
        let w = random.tensor([8, 1, 7, 7]), g = random.tensor([1, 81, 40, 48])
        let depthwise = Conv2dConfig(padding: 3, groups: 8)
        func run() -> [Tensor] {
            let corr = correlationForward(f1, f2)
            let d1 = Tensor(shape: f1.shape), d2 = Tensor(shape: f2.shape)
            correlationBackward(f1, f2, gradOutput: g, gradF1: d1, gradF2: d2)
            let dw = conv2dForward(input: f1, weight: w, bias: nil, config: depthwise)
            let dx = Tensor(shape: f1.shape), dW = Tensor(shape: w.shape)
            conv2dBackward(input: f1, weight: w, config: depthwise, gradOutput: f2, gradInput: dx, gradWeight: dW, gradBias: nil)
            let (ln, _) = layerNormChannelsForward(input: f1, weight: Tensor(shape: [8], repeating: 1), bias: Tensor(shape: [8]))
            return [corr, d1, d2, dw, dx, dW, ln]
        }
        NN.setThreads(1)
        let single = run()
        NN.setThreads(2)
        let double = run()
        for (index, (a, b)) in zip(single, double).enumerated() { XCTAssertEqual(a.array, b.array, "output \(index)") }
    }
}

final class FastMathTests: XCTestCase {
    func test_fast_erf_and_exp_match_libm() {
        var worstErf: Float = 0, worstExp: Float = 0
        for i in -6000...6000 {
            let x = Float(i) / 1000
            worstErf = max(worstErf, abs(fastErf(x) - erff(x)))
            let e = expf(x * 10)
            worstExp = max(worstExp, abs(fastExp(x * 10) - e) / e)
        }
        XCTAssertLessThan(worstErf, 1e-6)
        XCTAssertLessThan(worstExp, 1e-6)
        XCTAssertLessThan(fastExp(-200), 1e-37)
        XCTAssertEqual(fastErf(.infinity), 1)
    }
}
