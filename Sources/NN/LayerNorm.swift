// Layer norm over the channel dimension of an NCHW tensor (ConvNeXt's "channels_first" LayerNorm):
// at each pixel, mean and biased variance over C, y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c].
// Dimension letters: N batch, C channels, HW pixels per image. weight/bias (C).
// NCHW puts a pixel's channels HW apart, so the loops run over channels outside and pixels inside: the inner
// loops are contiguous and vectorise, with per-pixel statistics held in small arrays.

/// Per-pixel statistics saved by the forward pass for the backward pass: mean and 1/std, each (N, HW).
public struct LayerNormCache {
    public let mean: Tensor
    public let rstd: Tensor
}

/// Pixels per work item: big enough that the per-pixel stat arrays amortise, small enough to stay in L1/L2.
private let pixelBlock = 256

public func layerNormChannelsForward(input x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-6) -> (Tensor, LayerNormCache) {
    precondition(x.rank == 4 && weight.count == x.c && bias.count == x.c,
                 "layerNorm: input \(x.shape), weight \(weight.shape), bias \(bias.shape)")
    let (N, C, HW) = (x.n, x.c, x.h * x.w)
    let y = Tensor(uninitializedShape: x.shape)
    let mean = Tensor(shape: [N, HW]), rstd = Tensor(shape: [N, HW])
    let xp = x.data, yp = y.data, wp = weight.data, bp = bias.data, mp = mean.data, rp = rstd.data
    let blocksPerImage = (HW + pixelBlock - 1) / pixelBlock
    parallelFor(N * blocksPerImage, itemCost: 4 * C * pixelBlock) { items in
        for item in items {
            let n = item / blocksPerImage
            let p0 = (item % blocksPerImage) * pixelBlock, count = min(pixelBlock, HW - p0)
            let base = n * C * HW + p0
            let m = mp + n * HW + p0, r = rp + n * HW + p0
            m.update(repeating: 0, count: count)
            r.update(repeating: 0, count: count)
            for c in 0..<C {
                let row = xp + base + c * HW
                for p in 0..<count { m[p] += row[p] }
            }
            let invC = 1 / Float(C)
            for p in 0..<count { m[p] *= invC }
            // Two-pass variance (sum of squared deviations) avoids the cancellation of E[x^2] - E[x]^2.
            for c in 0..<C {
                let row = xp + base + c * HW
                for p in 0..<count { let d = row[p] - m[p]; r[p] += d * d }
            }
            for p in 0..<count { r[p] = 1 / (r[p] * invC + eps).squareRoot() }
            for c in 0..<C {
                let row = xp + base + c * HW, out = yp + base + c * HW
                let w = wp[c], b = bp[c]
                for p in 0..<count { out[p] = (row[p] - m[p]) * r[p] * w + b }
            }
        }
    }
    return (y, LayerNormCache(mean: mean, rstd: rstd))
}

/// dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)) with g = dy * weight; dweight += sum dy * xhat; dbias += sum dy.
public func layerNormChannelsBackward(input x: Tensor, weight: Tensor, cache: LayerNormCache, gradOutput dy: Tensor,
                                      gradInput dx: Tensor?, gradWeight dw: Tensor?, gradBias db: Tensor?) {
    checkShape(dy, x.shape, "layerNorm gradOutput")
    checkShape(dx, x.shape, "layerNorm gradInput")
    let (N, C, HW) = (x.n, x.c, x.h * x.w)
    let blocksPerImage = (HW + pixelBlock - 1) / pixelBlock
    let items = N * blocksPerImage
    let xp = x.data, dyp = dy.data, wp = weight.data, mp = cache.mean.data, rp = cache.rstd.data
    let dxp = dx?.data
    // Per-item partial sums of the parameter gradients, reduced afterwards in a fixed order (deterministic).
    let partial = Tensor(shape: [items, 2, C])
    let pp = partial.data
    parallelFor(items, itemCost: 4 * C * pixelBlock) { range in
        var meanG = [Float](repeating: 0, count: pixelBlock)
        var meanGX = [Float](repeating: 0, count: pixelBlock)
        meanG.withUnsafeMutableBufferPointer { mg in
        meanGX.withUnsafeMutableBufferPointer { mgx in
            let a = mg.baseAddress!, b = mgx.baseAddress!
            for item in range {
                let n = item / blocksPerImage
                let p0 = (item % blocksPerImage) * pixelBlock, count = min(pixelBlock, HW - p0)
                let base = n * C * HW + p0
                let m = mp + n * HW + p0, r = rp + n * HW + p0
                a.update(repeating: 0, count: count)
                b.update(repeating: 0, count: count)
                let dwPart = pp + item * 2 * C, dbPart = dwPart + C
                for c in 0..<C {
                    let row = xp + base + c * HW, g = dyp + base + c * HW
                    let w = wp[c]
                    var sumDW: Float = 0, sumDB: Float = 0
                    for p in 0..<count {
                        let xhat = (row[p] - m[p]) * r[p]
                        let gw = g[p] * w
                        a[p] += gw
                        b[p] += gw * xhat
                        sumDW += g[p] * xhat
                        sumDB += g[p]
                    }
                    dwPart[c] = sumDW
                    dbPart[c] = sumDB
                }
                guard let dxp else { continue }
                let invC = 1 / Float(C)
                for p in 0..<count { a[p] *= invC; b[p] *= invC }
                for c in 0..<C {
                    let row = xp + base + c * HW, g = dyp + base + c * HW, out = dxp + base + c * HW
                    let w = wp[c]
                    for p in 0..<count {
                        let xhat = (row[p] - m[p]) * r[p]
                        out[p] += r[p] * (g[p] * w - a[p] - xhat * b[p])
                    }
                }
            }
        }
        }
    }
    for item in 0..<items {
        for c in 0..<C {
            dw?.data[c] += pp[item * 2 * C + c]
            db?.data[c] += pp[item * 2 * C + C + c]
        }
    }
}
