// Depthwise 2-D convolution (groups == C == O): every channel is convolved with its own KH x KW filter.
// Dimension letters: N batch, C channels, H x W input, OH x OW output, KH x KW kernel. Weight (C, 1, KH, KW).
// A direct loop beats im2col here: there is no channel reduction to hand to a GEMM, so im2col would only copy
// the input KH*KW times. Work is split over image planes; within a plane the loops run along rows.
// At stride 1 (ConvNeXt's 7x7) the interior of each row, where every tap of a kernel row is inside the image,
// applies the whole kernel row per output element (one store per KW taps instead of one per tap); the
// borders and other strides take the per-tap loop. Called through conv2dForward / conv2dBackward.

/// Adds sum_k taps[k] * src[x + k * step] to dst[x] for x in range: the stride-1 inner kernel for one kernel row.
/// Specialised for 7 and 3 taps so the x loop is straight-line code the compiler vectorises.
@inline(__always)
private func applyKernelRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ taps: UnsafePointer<Float>,
                            count: Int, step d: Int, range: Range<Int>) {
    switch count {
    case 7:
        let (w0, w1, w2, w3, w4, w5, w6) = (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6])
        for x in range {
            let s = src + x
            dst[x] += w0 * s[0] + w1 * s[d] + w2 * s[2 &* d] + w3 * s[3 &* d] + w4 * s[4 &* d] + w5 * s[5 &* d] + w6 * s[6 &* d]
        }
    case 3:
        let (w0, w1, w2) = (taps[0], taps[1], taps[2])
        for x in range { let s = src + x; dst[x] += w0 * s[0] + w1 * s[d] + w2 * s[2 &* d] }
    default:
        for k in 0..<count {
            let w = taps[k], s = src + k * d
            for x in range { dst[x] += w * s[x] }
        }
    }
}

/// out[ox] += sum_kx taps[kx] * row[ox * s + kx * dil - pad] over the valid ox of each tap.
@inline(__always)
private func convolveRow(out: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>, taps: UnsafePointer<Float>,
                         KW: Int, W: Int, OW: Int, s: Int, pad: Int, dil: Int) {
    // Interior: ox with every tap inside [0, W) (only used at stride 1).
    // (pad can be negative here: the input-gradient pass calls this with pad = (KW-1)*dil - forward pad.)
    let interior = s == 1 ? span(min(max(pad, 0), OW), min(OW, W - (KW - 1) * dil + pad)) : 0..<0
    if !interior.isEmpty { applyKernelRow(out, row - pad, taps, count: KW, step: dil, range: interior) }
    for kx in 0..<KW {
        let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
        let w = taps[kx]
        let src = row + kx * dil - pad
        if s == 1 {
            for ox in span(xs.lowerBound, min(xs.upperBound, interior.lowerBound)) { out[ox] += w * src[ox] }
            for ox in span(max(xs.lowerBound, interior.upperBound), xs.upperBound) { out[ox] += w * src[ox] }
        } else {
            for ox in xs { out[ox] += w * src[ox &* s] }
        }
    }
}

func depthwiseConv2dForward(input x: Tensor, weight: Tensor, bias: Tensor?, config: Conv2dConfig) -> Tensor {
    precondition(weight.shape[1] == 1, "depthwise conv2d: weight \(weight.shape) must have one input channel per group")
    let y = Tensor(uninitializedShape: conv2dOutputShape(input: x.shape, weight: weight.shape, config: config))
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let (OH, OW, KH, KW) = (y.h, y.w, weight.shape[2], weight.shape[3])
    let (s, pad, dil) = (config.stride, config.padding, config.dilation)
    let xp = x.data, yp = y.data, wp = weight.data, bp = bias?.data
    parallelFor(N * C, itemCost: OH * OW * KH * KW) { planes in
        for index in planes {
            let c = index % C
            let src = xp + index * H * W, dst = yp + index * OH * OW, filter = wp + c * KH * KW
            let b: Float = bp.map { $0[c] } ?? 0
            dst.update(repeating: b, count: OH * OW)
            for oy in 0..<OH {
                for ky in 0..<KH {
                    let iy = oy * s - pad + ky * dil
                    if iy < 0 || iy >= H { continue }
                    convolveRow(out: dst + oy * OW, row: src + iy * W, taps: filter + ky * KW,
                                KW: KW, W: W, OW: OW, s: s, pad: pad, dil: dil)
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
    parallelFor(C, itemCost: 2 * N * OH * OW * KH * KW) { channels in
        // The kernel mirrored in x, for the stride-1 input gradient (a correlation with the flipped kernel).
        var flipped = [Float](repeating: 0, count: KH * KW)
        for c in channels {
            let filter = wp + c * KH * KW
            for ky in 0..<KH { for kx in 0..<KW { flipped[ky * KW + kx] = filter[ky * KW + KW - 1 - kx] } }
            for n in 0..<N {
                let src = xp + (n * C + c) * H * W, grad = dyp + (n * C + c) * OH * OW
                if let dwp {
                    for ky in 0..<KH {
                        for kx in 0..<KW {
                            let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
                            if xs.isEmpty { continue }
                            var sum: Float = 0
                            for oy in 0..<OH {
                                let iy = oy * s - pad + ky * dil
                                if iy < 0 || iy >= H { continue }
                                let row = src + iy * W + kx * dil - pad
                                sum += dotProduct(grad + oy * OW + xs.lowerBound, row + xs.lowerBound * s, xs.count, strideB: s)
                            }
                            dwp[c * KH * KW + ky * KW + kx] += sum
                        }
                    }
                }
                guard let dxp else { continue }
                let plane = dxp + (n * C + c) * H * W
                if s == 1 {
                    // dX[iy, ix] += sum_kx w[ky, kx] dY[iy + pad - ky*dil, ix + pad - kx*dil]: the same row
                    // kernel as the forward pass, on dY, with the flipped taps and offset (KW-1)*dil - pad.
                    flipped.withUnsafeBufferPointer { taps in
                        for ky in 0..<KH {
                            for iy in 0..<H {
                                let oy = iy + pad - ky * dil
                                if oy < 0 || oy >= OH { continue }
                                convolveRow(out: plane + iy * W, row: grad + oy * OW, taps: taps.baseAddress! + ky * KW,
                                            KW: KW, W: OW, OW: W, s: 1, pad: (KW - 1) * dil - pad, dil: dil)
                            }
                        }
                    }
                } else {
                    for ky in 0..<KH {
                        for kx in 0..<KW {
                            let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
                            let w = filter[ky * KW + kx]
                            for oy in 0..<OH {
                                let iy = oy * s - pad + ky * dil
                                if iy < 0 || iy >= H { continue }
                                let row = plane + iy * W + kx * dil - pad, g = grad + oy * OW
                                for ox in xs { row[ox &* s] += w * g[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
    if let db { accumulateChannelBiasGradient(dy, db) }
}
