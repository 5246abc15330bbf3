import XCTest
@testable import NN

/// Every backward pass against central finite differences of L = sum(forward(x) * upstream).
final class GradientCheckTests: XCTestCase {
    override func setUp() { NN.setThreads(2) }

    private func checkConv(_ shape: [Int], outChannels: Int, kernel: Int, config: Conv2dConfig, seed: UInt64,
                           file: StaticString = #filePath, line: UInt = #line) {
        var random = SeededRandom(seed: seed)
        let x = random.tensor(shape)
        let w = random.tensor([outChannels, shape[1] / config.groups, kernel, kernel], -0.5, 0.5)
        let b = random.tensor([outChannels])
        let y = conv2dForward(input: x, weight: w, bias: b, config: config)
        let g = random.tensor(y.shape)
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
        conv2dBackward(input: x, weight: w, config: config, gradOutput: g, gradInput: dx, gradWeight: dw, gradBias: db)
        let forward = { conv2dForward(input: x, weight: w, bias: b, config: config) }
        assertGradient("conv dx", input: x, analytic: dx, upstream: g, file: file, line: line, forward: forward)
        assertGradient("conv dw", input: w, analytic: dw, upstream: g, file: file, line: line, forward: forward)
        assertGradient("conv db", input: b, analytic: db, upstream: g, file: file, line: line, forward: forward)
    }

    func test_conv3x3_gradients_match_finite_differences() {
        checkConv([2, 3, 6, 7], outChannels: 4, kernel: 3, config: Conv2dConfig(padding: 1), seed: 1)
    }

    func test_conv_with_stride_dilation_and_groups_gradients_match_finite_differences() {
        checkConv([1, 4, 9, 8], outChannels: 6, kernel: 3, config: Conv2dConfig(stride: 2, padding: 2, dilation: 2, groups: 2), seed: 2)
        checkConv([1, 3, 10, 9], outChannels: 4, kernel: 4, config: Conv2dConfig(stride: 2, padding: 1), seed: 3)
    }

    func test_pointwise_conv_gradients_match_finite_differences() {
        checkConv([2, 5, 4, 3], outChannels: 7, kernel: 1, config: Conv2dConfig(), seed: 4)
    }

    func test_depthwise_conv_gradients_match_finite_differences() {
        checkConv([2, 3, 9, 10], outChannels: 3, kernel: 7, config: Conv2dConfig(padding: 3, groups: 3), seed: 5)
        checkConv([1, 4, 8, 9], outChannels: 4, kernel: 3, config: Conv2dConfig(stride: 2, padding: 2, dilation: 2, groups: 4), seed: 6)
    }

    func test_depthwise_7x7_on_maps_smaller_than_the_kernel() {
        // The coarsest pyramid levels of small training crops are a few pixels wide.
        checkConv([1, 2, 2, 3], outChannels: 2, kernel: 7, config: Conv2dConfig(padding: 3, groups: 2), seed: 18)
        checkConv([1, 2, 1, 1], outChannels: 2, kernel: 7, config: Conv2dConfig(padding: 3, groups: 2), seed: 19)
    }

    func test_convolutions_with_padding_wider_than_the_kernel() {
        checkConv([1, 3, 5, 6], outChannels: 3, kernel: 3, config: Conv2dConfig(padding: 3, groups: 3), seed: 24)
        checkConv([1, 2, 5, 6], outChannels: 3, kernel: 3, config: Conv2dConfig(padding: 3), seed: 25)
    }

    func test_correlation_on_maps_narrower_than_the_search_window() {
        var random = SeededRandom(seed: 20)
        let f1 = random.tensor([1, 2, 3, 2]), f2 = random.tensor([1, 2, 3, 2])
        let g = random.tensor([1, 81, 3, 2])
        let d1 = Tensor(shape: f1.shape), d2 = Tensor(shape: f2.shape)
        correlationBackward(f1, f2, gradOutput: g, gradF1: d1, gradF2: d2)
        assertGradient("correlation df1", input: f1, analytic: d1, upstream: g) { correlationForward(f1, f2) }
        assertGradient("correlation df2", input: f2, analytic: d2, upstream: g) { correlationForward(f1, f2) }
    }

    func test_banded_im2col_gives_the_same_convolution_and_gradients() {
        var random = SeededRandom(seed: 7)
        let x = random.tensor([1, 3, 11, 9]), w = random.tensor([5, 3, 3, 3]), g = random.tensor([1, 5, 6, 5])
        let config = Conv2dConfig(stride: 2, padding: 1)
        func run() -> (Tensor, Tensor, Tensor) {
            let y = conv2dForward(input: x, weight: w, bias: nil, config: config)
            let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape)
            conv2dBackward(input: x, weight: w, config: config, gradOutput: g, gradInput: dx, gradWeight: dw, gradBias: nil)
            return (y, dx, dw)
        }
        let whole = run()
        let saved = im2colBandFloats
        im2colBandFloats = 27 * 5 * 2  // two output rows per band, the last band one row
        defer { im2colBandFloats = saved }
        let banded = run()
        assertClose(banded.0, whole.0, "banded y", atol: 1e-5)
        assertClose(banded.1, whole.1, "banded dx", atol: 1e-5)
        assertClose(banded.2, whole.2, "banded dw", atol: 1e-5)
    }

    func test_gradient_check_rejects_a_wrong_gradient() {
        var random = SeededRandom(seed: 8)
        let x = random.tensor([1, 2, 5, 5]), w = random.tensor([3, 2, 3, 3])
        let config = Conv2dConfig(padding: 1)
        let g = random.tensor([1, 3, 5, 5])
        let dw = Tensor(shape: w.shape)
        conv2dBackward(input: x, weight: w, config: config, gradOutput: g, gradInput: nil, gradWeight: dw, gradBias: nil)
        let forward = { conv2dForward(input: x, weight: w, bias: nil, config: config) }
        XCTAssertTrue(gradientCheck("dw", input: w, analytic: dw, upstream: g, forward: forward).isEmpty)
        let off = scale(dw, by: 1.05)
        XCTAssertFalse(gradientCheck("dw", input: w, analytic: off, upstream: g, forward: forward).isEmpty,
                       "a 5% gradient error must be caught")
    }

    func test_linear_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 9)
        let x = random.tensor([3, 5]), w = random.tensor([4, 5]), b = random.tensor([4]), g = random.tensor([3, 4])
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
        linearBackward(input: x, weight: w, gradOutput: g, gradInput: dx, gradWeight: dw, gradBias: db)
        let forward = { linearForward(input: x, weight: w, bias: b) }
        assertGradient("linear dx", input: x, analytic: dx, upstream: g, forward: forward)
        assertGradient("linear dw", input: w, analytic: dw, upstream: g, forward: forward)
        assertGradient("linear db", input: b, analytic: db, upstream: g, forward: forward)
    }

    func test_layer_norm_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 10)
        let x = random.tensor([2, 6, 3, 5], -2, 2), w = random.tensor([6]), b = random.tensor([6])
        let (y, cache) = layerNormChannelsForward(input: x, weight: w, bias: b)
        let g = random.tensor(y.shape)
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
        layerNormChannelsBackward(input: x, weight: w, cache: cache, gradOutput: g, gradInput: dx, gradWeight: dw, gradBias: db)
        let forward = { layerNormChannelsForward(input: x, weight: w, bias: b).0 }
        assertGradient("layernorm dx", input: x, analytic: dx, upstream: g, eps: 5e-3, forward: forward)
        assertGradient("layernorm dw", input: w, analytic: dw, upstream: g, forward: forward)
        assertGradient("layernorm db", input: b, analytic: db, upstream: g, forward: forward)
    }

    func test_activation_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 11)
        let x = random.tensor([2, 3, 4, 5], -3, 3)
        // Keep leaky ReLU inputs away from the kink at 0, where finite differences straddle two slopes.
        for i in 0..<x.count where abs(x.data[i]) < 0.05 { x.data[i] = 0.5 }
        let g = random.tensor(x.shape)
        let dGelu = Tensor(shape: x.shape), dLeaky = Tensor(shape: x.shape)
        geluBackward(input: x, gradOutput: g, gradInput: dGelu)
        leakyReLUBackward(input: x, slope: 0.1, gradOutput: g, gradInput: dLeaky)
        assertGradient("gelu", input: x, analytic: dGelu, upstream: g) { geluForward(x) }
        assertGradient("leaky relu", input: x, analytic: dLeaky, upstream: g) { leakyReLUForward(x, slope: 0.1) }
    }

    func test_bilinear_resize_gradient_matches_finite_differences() {
        var random = SeededRandom(seed: 12)
        for (input, size) in [([1, 2, 5, 7], (9, 13)), ([1, 2, 8, 9], (3, 4))] {
            let x = random.tensor(input)
            let g = random.tensor([input[0], input[1], size.0, size.1])
            let dx = Tensor(shape: x.shape)
            resizeBilinearBackward(gradOutput: g, gradInput: dx)
            assertGradient("resize", input: x, analytic: dx, upstream: g) { resizeBilinearForward(x, height: size.0, width: size.1) }
        }
    }

    func test_convex_upsample_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 21)
        for (shape, factor) in [([2, 2, 3, 4], 2), ([1, 2, 1, 3], 4), ([1, 2, 2, 1], 3)] {
            let flow = random.tensor(shape), logits = random.tensor([shape[0], 9 * factor * factor, shape[2], shape[3]], -2, 2)
            let g = random.tensor([shape[0], 2, shape[2] * factor, shape[3] * factor])
            let (_, weights) = convexUpsampleForward(flow: flow, logits: logits, factor: factor)
            let dFlow = Tensor(shape: flow.shape), dLogits = Tensor(shape: logits.shape)
            convexUpsampleBackward(flow: flow, weights: weights, factor: factor, gradOutput: g, gradFlow: dFlow, gradLogits: dLogits)
            assertGradient("convex dflow", input: flow, analytic: dFlow, upstream: g) {
                convexUpsampleForward(flow: flow, logits: logits, factor: factor).output
            }
            assertGradient("convex dlogits", input: logits, analytic: dLogits, upstream: g) {
                convexUpsampleForward(flow: flow, logits: logits, factor: factor).output
            }
        }
    }

    func test_convex_upsample_keeps_a_constant_flow_and_picks_a_neighbour() {
        // Any weights: a constant flow stays constant (times the factor), up to the frame's edge.
        var random = SeededRandom(seed: 22)
        let constant = Tensor(shape: [1, 2, 3, 4]), factor = 4
        for i in 0..<12 { constant.data[i] = 1.5; constant.data[12 + i] = -0.5 }
        let logits = random.tensor([1, 9 * factor * factor, 3, 4], -3, 3)
        let up = convexUpsampleForward(flow: constant, logits: logits, factor: factor).output
        for i in 0..<(12 * factor * factor) {
            XCTAssertEqual(up.data[i], 6, accuracy: 1e-5)
            XCTAssertEqual(up.data[12 * factor * factor + i], -2, accuracy: 1e-5)
        }
        // Logits that single out neighbour k = 5 (the right-hand cell) copy that cell's flow: sub-pixel (dy, dx)
        // of cell (y, x) takes cell (y, min(x + 1, w - 1)).
        let flow = random.tensor([1, 2, 3, 4])
        let pick = Tensor(shape: [1, 9 * factor * factor, 3, 4])
        for sub in 0..<(factor * factor) { for p in 0..<12 { pick.data[(5 * factor * factor + sub) * 12 + p] = 30 } }
        let picked = convexUpsampleForward(flow: flow, logits: pick, factor: factor).output
        let W = 4 * factor
        for y in 0..<3 {
            for x in 0..<4 {
                let source = y * 4 + min(x + 1, 3)
                XCTAssertEqual(picked.data[(y * factor + 1) * W + x * factor + 2], Float(factor) * flow.data[source], accuracy: 1e-4)
                XCTAssertEqual(picked.data[12 * factor * factor + (y * factor) * W + x * factor + 3],
                               Float(factor) * flow.data[12 + source], accuracy: 1e-4)
            }
        }
    }

    func test_correlation_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 13)
        let f1 = random.tensor([1, 3, 6, 7]), f2 = random.tensor([1, 3, 6, 7])
        let g = random.tensor([1, 81, 6, 7])
        let d1 = Tensor(shape: f1.shape), d2 = Tensor(shape: f2.shape)
        correlationBackward(f1, f2, gradOutput: g, gradF1: d1, gradF2: d2)
        assertGradient("correlation df1", input: f1, analytic: d1, upstream: g) { correlationForward(f1, f2) }
        assertGradient("correlation df2", input: f2, analytic: d2, upstream: g) { correlationForward(f1, f2) }
    }

    func test_warp_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 14)
        let image = random.tensor([2, 3, 5, 6])
        let flow = random.tensor([2, 2, 5, 6], -2.5, 2.5)
        // Keep sample points away from integer grid lines: the warp is piecewise bilinear and finite differences
        // across a cell boundary mix two cells' slopes.
        for i in 0..<flow.count {
            let fraction = flow.data[i] - flow.data[i].rounded(.down)
            if fraction < 0.1 || fraction > 0.9 { flow.data[i] += 0.3 }
        }
        let g = random.tensor(image.shape)
        let dImage = Tensor(shape: image.shape), dFlow = Tensor(shape: flow.shape)
        warpBackward(image: image, flow: flow, gradOutput: g, gradImage: dImage, gradFlow: dFlow)
        assertGradient("warp dimage", input: image, analytic: dImage, upstream: g) { warpForward(image: image, flow: flow).output }
        assertGradient("warp dflow", input: flow, analytic: dFlow, upstream: g) { warpForward(image: image, flow: flow).output }
    }

    func test_pooling_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 15)
        let x = random.tensor([1, 2, 7, 6])
        let g = random.tensor([1, 2, 3, 3]), gGlobal = random.tensor([1, 2, 1, 1])
        let dx = Tensor(shape: x.shape), dGlobal = Tensor(shape: x.shape)
        avgPool2dBackward(kernel: 2, gradOutput: g, gradInput: dx)
        globalAvgPoolBackward(gradOutput: gGlobal, gradInput: dGlobal)
        assertGradient("avgpool", input: x, analytic: dx, upstream: g) { avgPool2dForward(x, kernel: 2) }
        assertGradient("global avgpool", input: x, analytic: dGlobal, upstream: gGlobal) { globalAvgPoolForward(x) }
    }

    func test_ssim_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 16)
        let x = random.tensor([1, 2, 6, 7], 0, 1)
        let y = Tensor(shape: x.shape)
        for i in 0..<x.count { y.data[i] = min(1, max(0, x.data[i] + random.uniform(-0.2, 0.2))) }
        let g = random.tensor(x.shape)
        let dx = Tensor(shape: x.shape), dy = Tensor(shape: y.shape)
        ssimBackward(x, y, gradOutput: g, gradX: dx, gradY: dy)
        assertGradient("ssim dx", input: x, analytic: dx, upstream: g, eps: 1e-3, atol: 5e-3) { ssimForward(x, y) }
        assertGradient("ssim dy", input: y, analytic: dy, upstream: g, eps: 1e-3, atol: 5e-3) { ssimForward(x, y) }
    }

    func test_elementwise_gradients_match_finite_differences() {
        var random = SeededRandom(seed: 17)
        let a = random.tensor([2, 3, 2, 2]), b = random.tensor([2, 3, 2, 2])
        for i in 0..<a.count where abs(a.data[i]) < 0.05 { a.data[i] = 0.3 }
        let g = random.tensor(a.shape)
        let da = Tensor(shape: a.shape), db = Tensor(shape: b.shape)
        multiplyBackward(a, b, gradOutput: g, gradA: da, gradB: db)
        assertGradient("multiply da", input: a, analytic: da, upstream: g) { multiply(a, b) }
        assertGradient("multiply db", input: b, analytic: db, upstream: g) { multiply(a, b) }
        let dAbs = Tensor(shape: a.shape), dSquare = Tensor(shape: a.shape), dSqrt = Tensor(shape: a.shape)
        absoluteBackward(a, gradOutput: g, gradInput: dAbs)
        squareBackward(a, gradOutput: g, gradInput: dSquare)
        let positive = absolute(a)
        squareRootBackward(positive, eps: 0.01, gradOutput: g, gradInput: dSqrt)
        assertGradient("abs", input: a, analytic: dAbs, upstream: g) { absolute(a) }
        assertGradient("square", input: a, analytic: dSquare, upstream: g) { square(a) }
        assertGradient("sqrt", input: positive, analytic: dSqrt, upstream: g, eps: 1e-3) { squareRoot(positive, eps: 0.01) }

        let c = random.tensor([2, 1, 2, 2])
        let gc = random.tensor([2, 4, 2, 2])
        let dA = Tensor(shape: a.shape), dC = Tensor(shape: c.shape)
        concatChannelsBackward(gradOutput: gc, gradParts: [dA, dC], channels: [3, 1])
        assertGradient("concat a", input: a, analytic: dA, upstream: gc) { concatChannels([a, c]) }
        assertGradient("concat c", input: c, analytic: dC, upstream: gc) { concatChannels([a, c]) }

        let dSum = Tensor(shape: a.shape), dMean = Tensor(shape: a.shape)
        sumBackward(gradOutput: 2, gradInput: dSum)
        meanBackward(gradOutput: 2, gradInput: dMean)
        assertGradient("sum", input: a, analytic: dSum, upstream: Tensor(shape: [1], values: [2])) { Tensor(shape: [1], values: [sum(a)]) }
        assertGradient("mean", input: a, analytic: dMean, upstream: Tensor(shape: [1], values: [2])) { Tensor(shape: [1], values: [mean(a)]) }
    }

    func test_matmul_gradients_match_finite_differences_for_every_transpose() {
        var random = SeededRandom(seed: 22)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = random.tensor(ta ? [4, 3] : [3, 4]), b = random.tensor(tb ? [5, 4] : [4, 5])
            let g = random.tensor([3, 5])
            let da = Tensor(shape: a.shape), db = Tensor(shape: b.shape)
            matmulBackward(a, b, transposeA: ta, transposeB: tb, gradOutput: g, gradA: da, gradB: db)
            assertGradient("matmul da \(ta) \(tb)", input: a, analytic: da, upstream: g) { matmulForward(a, b, transposeA: ta, transposeB: tb) }
            assertGradient("matmul db \(ta) \(tb)", input: b, analytic: db, upstream: g) { matmulForward(a, b, transposeA: ta, transposeB: tb) }
        }
    }

    func test_batch_concat_and_slice_round_trip_with_gradients() {
        var random = SeededRandom(seed: 23)
        let a = random.tensor([2, 3, 2, 2]), b = random.tensor([1, 3, 2, 2])
        let joined = concatBatch([a, b])
        XCTAssertEqual(sliceBatch(joined, 0..<2).array, a.array)
        XCTAssertEqual(sliceBatch(joined, 2..<3).array, b.array)
        let g = random.tensor([1, 3, 2, 2])
        let dJoined = Tensor(shape: joined.shape)
        accumulateBatchSlice(gradOutput: g, into: dJoined, at: 1)
        assertGradient("slice", input: joined, analytic: dJoined, upstream: g) { sliceBatch(joined, 1..<2) }
    }
}
