// im2col / col2im for one group of one image, over a band of output rows [oy0, oy1).
// Column layout: row r = (c * KH + ky) * KW + kx of the KD = CG*KH*KW rows, column (oy - oy0) * OW + ox;
// entry = x[c, oy*stride - pad + ky*dil, ox*stride - pad + kx*dil], zero in the padding.
// Banding bounds the column buffer (KD x rows*OW) to a few MB so it stays cache-friendly and small.

import Synchronization

/// lo..<hi, or an empty range at lo when hi < lo (border arithmetic on tiny images can cross over).
@inline(__always)
func span(_ lo: Int, _ hi: Int) -> Range<Int> { lo..<max(lo, hi) }

/// Range of output indices o with 0 <= o * stride + offset < inputCount, clamped to 0..<outputCount.
@inline(__always)
func validOutputRange(outputCount: Int, stride: Int, offset: Int, inputCount: Int) -> Range<Int> {
    let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
    let limit = inputCount - offset
    let hi = limit <= 0 ? 0 : (limit + stride - 1) / stride
    let clampedLo = min(lo, outputCount), clampedHi = min(max(hi, clampedLo), outputCount)
    return clampedLo..<clampedHi
}

/// Column-buffer budget per band (1M floats = 4 MB: written by im2col and read back by the GEMM while it is
/// still in L2/L3); tests lower it to exercise the banding.
let im2colBandFloatsStorage = Atomic(1 << 20)
var im2colBandFloats: Int {
    get { im2colBandFloatsStorage.load(ordering: .relaxed) }
    set { im2colBandFloatsStorage.store(newValue, ordering: .relaxed) }
}

struct Im2colGeometry {
    let channels: Int, height: Int, width: Int
    let kernelH: Int, kernelW: Int
    let stride: Int, padding: Int, dilation: Int
    let outH: Int, outW: Int

    init(x: Tensor, weight: Tensor, config: Conv2dConfig, outH: Int, outW: Int) {
        channels = x.c / config.groups
        height = x.h; width = x.w
        kernelH = weight.shape[2]; kernelW = weight.shape[3]
        stride = config.stride; padding = config.padding; dilation = config.dilation
        self.outH = outH; self.outW = outW
    }

    var columnHeight: Int { channels * kernelH * kernelW }

    /// Output rows per band: at most `im2colBandFloats` floats of columns, at least one row.
    var rowsPerBand: Int { max(1, min(outH, im2colBandFloats / max(1, columnHeight * outW))) }

    func im2col(_ x: UnsafePointer<Float>, oy0: Int, oy1: Int, col: UnsafeMutablePointer<Float>) {
        let (H, W, KH, KW, OW) = (height, width, kernelH, kernelW, outW)
        let (s, pad, dil) = (stride, padding, dilation)
        let bandWidth = (oy1 - oy0) * OW
        parallelFor(columnHeight, itemCost: bandWidth) { rows in
            for r in rows {
                let c = r / (KH * KW), ky = (r / KW) % KH, kx = r % KW
                let plane = x + c * H * W
                let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
                for oy in oy0..<oy1 {
                    let dst = col + r * bandWidth + (oy - oy0) * OW
                    let iy = oy * s - pad + ky * dil
                    if iy < 0 || iy >= H {
                        dst.update(repeating: 0, count: OW)
                        continue
                    }
                    if xs.lowerBound > 0 { dst.update(repeating: 0, count: xs.lowerBound) }
                    if xs.upperBound < OW { (dst + xs.upperBound).update(repeating: 0, count: OW - xs.upperBound) }
                    let src = plane + iy * W + kx * dil - pad
                    if s == 1 {
                        (dst + xs.lowerBound).update(from: src + xs.lowerBound, count: xs.count)
                    } else {
                        for ox in xs { dst[ox] = src[ox &* s] }
                    }
                }
            }
        }
    }

    /// Adds the column entries back to the input positions they were read from (the adjoint of im2col).
    func col2im(_ col: UnsafePointer<Float>, oy0: Int, oy1: Int, into dx: UnsafeMutablePointer<Float>) {
        let (H, W, KH, KW, OW) = (height, width, kernelH, kernelW, outW)
        let (s, pad, dil) = (stride, padding, dilation)
        let bandWidth = (oy1 - oy0) * OW
        // One task per input channel: every column row of channel c writes only plane c, so no races.
        parallelFor(channels, itemCost: KH * KW * bandWidth) { channelRange in
            for c in channelRange {
                let plane = dx + c * H * W
                for ky in 0..<KH {
                    for kx in 0..<KW {
                        let r = (c * KH + ky) * KW + kx
                        let xs = validOutputRange(outputCount: OW, stride: s, offset: kx * dil - pad, inputCount: W)
                        for oy in oy0..<oy1 {
                            let iy = oy * s - pad + ky * dil
                            if iy < 0 || iy >= H { continue }
                            let src = col + r * bandWidth + (oy - oy0) * OW
                            let dst = plane + iy * W + kx * dil - pad
                            if s == 1 {
                                for ox in xs { dst[ox] += src[ox] }
                            } else {
                                for ox in xs { dst[ox &* s] += src[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
}
