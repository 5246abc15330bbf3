// Depthwise 2-D convolution (groups == C == O): every channel is convolved with its own KH x KW filter.
// Dimension letters: N batch, C channels, H x W input, OH x OW output, KH x KW kernel. Weight (C, 1, KH, KW).
// A direct loop beats im2col here: there is no channel reduction to hand to a GEMM, so im2col would only copy
// the input KH*KW times. The inner loop runs along an output row for one filter tap (contiguous at stride 1),
// which the compiler vectorises; the output row stays in L1 while the KH*KW taps are applied.
// Called through conv2dForward / conv2dBackward; backward accumulates like every backward in this module.

func depthwiseConv2dForward(input x: Tensor, weight: Tensor, bias: Tensor?, config: Conv2dConfig) -> Tensor {
    precondition(weight.shape[1] == 1, "depthwise conv2d: weight \(weight.shape) must have one input channel per group")
    let y = Tensor(shape: conv2dOutputShape(input: x.shape, weight: weight.shape, config: config))
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let (OH, OW, KH, KW) = (y.h, y.w, weight.shape[2], weight.shape[3])
    let (s, pad, dil) = (config.stride, config.padding, config.dilation)
    let xp = x.data, yp = y.data, wp = weight.data, bp = bias?.data
    parallelFor(N * C) { planes in
        for index in planes {
            let c = index % C
            let src = xp + index * H * W, dst = yp + index * OH * OW, filter = wp + c * KH * KW
            let b: Float = bp.map { $0[c] } ?? 0
            dst.update(repeating: b, count: OH * OW)
            for kx in 0..<KW {
                let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
                if xs.isEmpty { continue }
                for oy in 0..<OH {
                    let out = dst + oy * OW
                    for ky in 0..<KH {
                        let iy = oy * s - pad + ky * dil
                        if iy < 0 || iy >= H { continue }
                        let w = filter[ky * KW + kx]
                        let row = src + iy * W + kx * dil - pad
                        if s == 1 {
                            for ox in xs { out[ox] += w * row[ox] }
                        } else {
                            for ox in xs { out[ox] += w * row[ox &* s] }
                        }
                    }
                }
            }
        }
    }
    return y
}

func depthwiseConv2dBackward(input x: Tensor, weight: Tensor, config: Conv2dConfig, gradOutput dy: Tensor,
                             gradInput dx: Tensor?, gradWeight dw: Tensor?, gradBias db: Tensor?) {
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let (OH, OW, KH, KW) = (dy.h, dy.w, weight.shape[2], weight.shape[3])
    let (s, pad, dil) = (config.stride, config.padding, config.dilation)
    let xp = x.data, dyp = dy.data, wp = weight.data
    let dxp = dx?.data, dwp = dw?.data
    // One task per channel: it owns dW[c] and the dX planes of channel c in every image, so no races.
    parallelFor(C) { channels in
        for c in channels {
            let filter = wp + c * KH * KW
            for n in 0..<N {
                let src = xp + (n * C + c) * H * W, grad = dyp + (n * C + c) * OH * OW
                for ky in 0..<KH {
                    for kx in 0..<KW {
                        let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
                        if xs.isEmpty { continue }
                        let tap = ky * KW + kx
                        let w = filter[tap]
                        var weightGrad: Float = 0
                        for oy in 0..<OH {
                            let iy = oy * s - pad + ky * dil
                            if iy < 0 || iy >= H { continue }
                            let g = grad + oy * OW
                            let offset = iy * W + kx * dil - pad
                            if dwp != nil {
                                weightGrad += dotProduct(g + xs.lowerBound, src + offset + xs.lowerBound * s,
                                                         xs.count, strideB: s)
                            }
                            if let dxp {
                                let row = dxp + (n * C + c) * H * W + offset
                                if s == 1 {
                                    for ox in xs { row[ox] += w * g[ox] }
                                } else {
                                    for ox in xs { row[ox &* s] += w * g[ox] }
                                }
                            }
                        }
                        if let dwp { dwp[c * KH * KW + tap] += weightGrad }
                    }
                }
            }
        }
    }
    if let db { accumulateChannelBiasGradient(dy, db) }
}
