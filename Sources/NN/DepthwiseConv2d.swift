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
    var dxp = dx?.data
    let dwp = dw?.data
    let transposedPad = (KH - 1) * dil - pad
    if let dx, s == 1, KH == KW, transposedPad >= 0 {
        // At stride 1 the input gradient is itself a depthwise convolution: dY convolved with the kernel
        // rotated by 180 degrees, padded by (K-1)*dil - pad. Reusing the forward kernel keeps its speed.
        let rotated = Tensor(uninitializedShape: weight.shape)
        for i in 0..<C {
            for k in 0..<(KH * KW) { rotated.data[i * KH * KW + k] = wp[i * KH * KW + KH * KW - 1 - k] }
        }
        let gradient = depthwiseConv2dForward(input: dy, weight: rotated, bias: nil,
                                              config: Conv2dConfig(padding: transposedPad, dilation: dil, groups: C))
        let source = gradient.data, target = dx.data
        parallelFor(dx.count, itemCost: 1) { range in for i in range { target[i] += source[i] } }
        dxp = nil
    }
    // One task per channel: it owns dW[c] and the dX planes of channel c in every image, so no races.
    let remainingInputGradient = dxp
    parallelFor(C, itemCost: 2 * N * OH * OW * KH * KW) { channels in
        let dxp = remainingInputGradient
        // The kernel mirrored in x, for the stride-1 input gradient (a correlation with the flipped kernel).
        var flipped = [Float](repeating: 0, count: KH * KW)
        for c in channels {
            let filter = wp + c * KH * KW
            for ky in 0..<KH { for kx in 0..<KW { flipped[ky * KW + kx] = filter[ky * KW + KW - 1 - kx] } }
            for n in 0..<N {
                let src = xp + (n * C + c) * H * W, grad = dyp + (n * C + c) * OH * OW
                if let dwp, s == 1, KW == 7 {
                    for ky in 0..<KH {
                        accumulateSevenTapWeightGradient(grad: grad, input: src, dw: dwp + c * KH * KW + ky * KW,
                                                         ky: ky, H: H, W: W, OH: OH, OW: OW, pad: pad, dil: dil)
                    }
                } else if let dwp {
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
                        // Input row outside, kernel rows inside: the dX row stays in L1 across its KH updates.
                        for iy in 0..<H {
                            for ky in 0..<KH {
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

/// dw[kx] += sum over output rows and columns of dY[oy, ox] * x[oy - pad + ky*dil, ox - pad + kx*dil] for a
/// 7-wide kernel row at stride 1. In the interior one load of dY feeds all seven taps (seven SIMD4 accumulators);
/// the border columns take the per-tap scalar loop.
@inline(__always)
private func accumulateSevenTapWeightGradient(grad: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                              dw: UnsafeMutablePointer<Float>, ky: Int, H: Int, W: Int,
                                              OH: Int, OW: Int, pad: Int, dil: Int) {
    let KW = 7
    let interior = span(min(max(pad, 0), OW), min(OW, W - (KW - 1) * dil + pad))
    var a0 = SIMD4<Float>(), a1 = SIMD4<Float>(), a2 = SIMD4<Float>(), a3 = SIMD4<Float>()
    var a4 = SIMD4<Float>(), a5 = SIMD4<Float>(), a6 = SIMD4<Float>()
    var scalar = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
    let d = dil &* 4  // byte step between taps
    for oy in 0..<OH {
        let iy = oy - pad + ky * dil
        if iy < 0 || iy >= H { continue }
        let g = grad + oy * OW
        let row = input + iy * W - pad  // row[ox + kx*dil] is x[iy, ox - pad + kx*dil]
        var ox = interior.lowerBound
        while ox &+ 4 <= interior.upperBound {
            let gv = UnsafeRawPointer(g + ox).loadUnaligned(as: SIMD4<Float>.self)
            let r = UnsafeRawPointer(row + ox)
            a0 += gv * r.loadUnaligned(as: SIMD4<Float>.self)
            a1 += gv * r.loadUnaligned(fromByteOffset: d, as: SIMD4<Float>.self)
            a2 += gv * r.loadUnaligned(fromByteOffset: 2 &* d, as: SIMD4<Float>.self)
            a3 += gv * r.loadUnaligned(fromByteOffset: 3 &* d, as: SIMD4<Float>.self)
            a4 += gv * r.loadUnaligned(fromByteOffset: 4 &* d, as: SIMD4<Float>.self)
            a5 += gv * r.loadUnaligned(fromByteOffset: 5 &* d, as: SIMD4<Float>.self)
            a6 += gv * r.loadUnaligned(fromByteOffset: 6 &* d, as: SIMD4<Float>.self)
            ox &+= 4
        }
        // Interior remainder and borders, one tap at a time.
        for kx in 0..<KW {
            let xs = validOutputRange(outputCount: OW, stride: 1, offset: kx * dil - pad, inputCount: W)
            let r = row + kx * dil
            var sum: Float = 0
            for x in span(xs.lowerBound, min(xs.upperBound, interior.lowerBound)) { sum += g[x] * r[x] }
            for x in ox..<interior.upperBound { sum += g[x] * r[x] }
            for x in span(max(xs.lowerBound, interior.upperBound), xs.upperBound) { sum += g[x] * r[x] }
            switch kx {
            case 0: scalar.0 += sum
            case 1: scalar.1 += sum
            case 2: scalar.2 += sum
            case 3: scalar.3 += sum
            case 4: scalar.4 += sum
            case 5: scalar.5 += sum
            default: scalar.6 += sum
            }
        }
    }
    dw[0] += a0.sum() + scalar.0
    dw[1] += a1.sum() + scalar.1
    dw[2] += a2.sum() + scalar.2
    dw[3] += a3.sum() + scalar.3
    dw[4] += a4.sum() + scalar.4
    dw[5] += a5.sum() + scalar.5
    dw[6] += a6.sum() + scalar.6
}
