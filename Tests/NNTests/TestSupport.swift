import Foundation
import XCTest
@testable import NN

/// Deterministic pseudo-random numbers (NN's SplitMix64, started from the seed as is), so failures reproduce.
struct SeededRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(state: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [low, high).
    mutating func uniform(_ low: Float = -1, _ high: Float = 1) -> Float { generator.uniform(low, high) }

    mutating func tensor(_ shape: [Int], _ low: Float = -1, _ high: Float = 1) -> Tensor {
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = uniform(low, high) }
        return t
    }
}

let regenerateHint = "regenerate the fixtures with `python3 Reference/ops_reference.py` if the reference changed"

/// Fails with the tensor's name, the worst element and the regeneration hint when |a - e| > atol + rtol |e|.
func assertClose(_ actual: Tensor, _ expected: Tensor, _ name: String, atol: Float = 1e-4, rtol: Float = 1e-4,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(name): shape \(actual.shape) but the fixture has \(expected.shape); \(regenerateHint)", file: file, line: line)
        return
    }
    var worst = -1
    var worstExcess: Float = 0
    for i in 0..<actual.count {
        let a = actual.data[i], e = expected.data[i]
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if !(excess <= 0) && (worst < 0 || excess > worstExcess || excess.isNaN) { worst = i; worstExcess = excess }
    }
    if worst >= 0 {
        XCTFail("\(name): element \(worst) is \(actual.data[worst]), expected \(expected.data[worst]) "
                + "(atol \(atol), rtol \(rtol)); \(regenerateHint)", file: file, line: line)
    }
}

/// Finite-difference gradient check of L = sum(output * upstream) for one input.
/// `forward` recomputes the output from the (perturbed) input; `analytic` is the gradient the backward produced.
/// Central differences with step `eps` in Float, L accumulated in Double; checks up to `samples` elements, each
/// against |analytic - numeric| <= atol + rtol |numeric|. A gradient off by 5% or with a wrong sign fails.
func gradientCheck(_ name: String, input: Tensor, analytic: Tensor, upstream: Tensor, eps: Float = 1e-2,
                   atol: Float = 2e-3, rtol: Float = 1e-2, samples: Int = 48, forward: () -> Tensor) -> [String] {
    func loss() -> Double {
        let y = forward()
        precondition(y.count == upstream.count)
        var total: Double = 0
        for i in 0..<y.count { total += Double(y.data[i]) * Double(upstream.data[i]) }
        return total
    }
    var failures: [String] = []
    let stride = max(1, input.count / samples)
    for i in Swift.stride(from: 0, to: input.count, by: stride) {
        let saved = input.data[i]
        input.data[i] = saved + eps
        let plus = loss()
        input.data[i] = saved - eps
        let minus = loss()
        input.data[i] = saved
        let numeric = Float((plus - minus) / Double(2 * eps))
        let a = analytic.data[i]
        if !(abs(a - numeric) <= atol + rtol * abs(numeric)) {
            failures.append("\(name)[\(i)]: analytic \(a), numeric \(numeric)")
        }
    }
    return failures
}

func assertGradient(_ name: String, input: Tensor, analytic: Tensor, upstream: Tensor, eps: Float = 1e-2,
                    atol: Float = 2e-3, rtol: Float = 1e-2, file: StaticString = #filePath, line: UInt = #line,
                    forward: () -> Tensor) {
    let failures = gradientCheck(name, input: input, analytic: analytic, upstream: upstream, eps: eps,
                                 atol: atol, rtol: rtol, forward: forward)
    if !failures.isEmpty {
        XCTFail("gradient check failed at \(failures.count) elements: " + failures.prefix(4).joined(separator: "; "),
                file: file, line: line)
    }
}
