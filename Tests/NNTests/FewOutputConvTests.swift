import XCTest
@testable import NN

/// Convolutions with few outputs (O KH KW <= C: a flow head's 3x3 conv to 2 channels) take the tap-plane path; it must
/// compute what the direct sum computes, for padded, unpadded and dilated kernels, with and without a bias. A 1x1
/// convolution of parts (`pointwiseConvForward`) must compute the convolution of their concatenation.
final class FewOutputConvTests: XCTestCase {
    private func random(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-1, 1) })
    }

    /// The convolution as its definition: y[n, o, oy, ox] = b[o] + sum over c, ky, kx of w[o, c, ky, kx] x[n, c, iy, ix].
    private func direct(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ config: Conv2dConfig) -> Tensor {
        let (KH, KW) = (w.shape[2], w.shape[3])
        let y = Tensor(shape: conv2dOutputShape(input: x.shape, weight: w.shape, config: config))
        for n in 0..<x.n { for o in 0..<y.c { for oy in 0..<y.h { for ox in 0..<y.w {
            var sum = Double(b?.data[o] ?? 0)
            for c in 0..<x.c { for ky in 0..<KH { for kx in 0..<KW {
                let iy = oy - config.padding + ky * config.dilation, ix = ox - config.padding + kx * config.dilation
                guard iy >= 0 && iy < x.h && ix >= 0 && ix < x.w else { continue }
                sum += Double(w.data[((o * x.c + c) * KH + ky) * KW + kx]) * Double(x.data[((n * x.c + c) * x.h + iy) * x.w + ix])
            } } }
            y.data[((n * y.c + o) * y.h + oy) * y.w + ox] = Float(sum)
        } } } }
        return y
    }

    func test_few_output_convolutions_match_the_direct_sum() {
        var rng = SplitMix64(seed: 11)
        // (N, C, H, W, O, kernel, padding, dilation, bias)
        let cases = [(2, 32, 7, 9, 2, 3, 1, 1, true), (1, 20, 8, 6, 2, 3, 0, 1, false), (1, 18, 9, 10, 2, 3, 2, 2, true),
                     (1, 25, 5, 4, 1, 5, 2, 1, true)]
        for (n, c, h, w, o, k, padding, dilation, hasBias) in cases {
            let config = Conv2dConfig(padding: padding, dilation: dilation)
            let x = random([n, c, h, w], &rng), weight = random([o, c, k, k], &rng), bias = hasBias ? random([o], &rng) : nil
            let y = conv2dForward(input: x, weight: weight, bias: bias, config: config), expected = direct(x, weight, bias, config)
            XCTAssertEqual(y.shape, expected.shape)
            let worst = zip(y.array, expected.array).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-4, "C \(c) O \(o) \(k)x\(k) padding \(padding) dilation \(dilation)")
        }
    }

    func test_a_pointwise_conv_of_parts_equals_the_conv_of_their_concatenation() {
        var rng = SplitMix64(seed: 12)
        let a = random([2, 5, 3, 4], &rng), b = random([2, 2, 3, 4], &rng), c = random([2, 3, 3, 4], &rng)
        let weight = random([6, 10, 1, 1], &rng), bias = random([6], &rng)
        let expected = conv2dForward(input: concatChannels([a, b, c]), weight: weight, bias: bias).array
        func close(_ y: Tensor) -> Bool { zip(y.array, expected).allSatisfy { abs($0 - $1) < 1e-5 } }
        XCTAssertTrue(close(pointwiseConvForward(parts: [(a, 5), (b, 2), (c, 3)], weight: weight, bias: bias)))
        // The last part's share once, then added as the base of the others'.
        let share = pointwiseConvForward(parts: [(nil, 5), (nil, 2), (c, 3)], weight: weight, bias: bias)
        XCTAssertTrue(close(pointwiseConvForward(parts: [(a, 5), (b, 2), (nil, 3)], weight: weight, bias: nil, base: share)))
        XCTAssertFalse(close(pointwiseConvForward(parts: [(a, 5), (b, 2), (nil, 3)], weight: weight, bias: bias)))
    }
}
