// SSIM dissimilarity map used by unsupervised-flow photometric losses (monodepth2 / ARFlow form):
// local statistics are 3x3 means (avg_pool2d 3x3 stride 1 over a reflect-padded image, so the map keeps the
// input size), C1 = 0.01^2, C2 = 0.03^2, and the result per pixel and channel is clamp((1 - SSIM) / 2, 0, 1).
// Dimension letters: N batch, C channels, H x W size (H, W >= 2 for reflect padding).
// The backward pass recomputes the local statistics instead of caching five full-size tensors.

/// clamp((1 - SSIM) / 2, 0, 1) of one window from its five local statistics (means of x, y, x^2, y^2, xy), with
/// C1 = 0.01^2 and C2 = 0.03^2. Shared by this file's reflect-padded map and the photometric loss's valid-window map.
@inlinable
public func ssimDissimilarity(meanX: Float, meanY: Float, meanXX: Float, meanYY: Float, meanXY: Float) -> Float {
    let (c1, c2): (Float, Float) = (0.01 * 0.01, 0.03 * 0.03)
    let varX = meanXX - meanX * meanX, varY = meanYY - meanY * meanY, cov = meanXY - meanX * meanY
    let numerator = (2 * meanX * meanY + c1) * (2 * cov + c2)
    let denominator = (meanX * meanX + meanY * meanY + c1) * (varX + varY + c2)
    return min(max((1 - numerator / denominator) / 2, 0), 1)
}

/// `upstream` x the gradient of `ssimDissimilarity` with respect to each statistic. The clamp passes the gradient
/// where the unclamped value lies in [0, 1], as torch.clamp does.
@inlinable
public func ssimDissimilarityGradient(meanX mux: Float, meanY muy: Float, meanXX: Float, meanYY: Float, meanXY: Float,
                                      upstream: Float) -> (meanX: Float, meanY: Float, meanXX: Float, meanYY: Float, meanXY: Float) {
    let (c1, c2): (Float, Float) = (0.01 * 0.01, 0.03 * 0.03)
    let varX = meanXX - mux * mux, varY = meanYY - muy * muy, cov = meanXY - mux * muy
    let l = 2 * mux * muy + c1, cs = 2 * cov + c2
    let lDen = mux * mux + muy * muy + c1, csDen = varX + varY + c2
    let numerator = l * cs, denominator = lDen * csDen
    let value = (1 - numerator / denominator) / 2
    let pass: Float = (value >= 0 && value <= 1) ? 1 : 0
    // value = (1 - S) / 2 with S = numerator / denominator; cs = 2 (E[xy] - mux muy) + c2;
    // csDen = E[x^2] - mux^2 + E[y^2] - muy^2 + c2.
    let gS = -0.5 * upstream * pass
    let gNum = gS / denominator, gDen = -gS * numerator / (denominator * denominator)
    let gl = gNum * cs, gcs = gNum * l, glDen = gDen * csDen, gcsDen = gDen * lDen
    return (meanX: gl * 2 * muy + gcs * (-2 * muy) + glDen * 2 * mux + gcsDen * (-2 * mux),
            meanY: gl * 2 * mux + gcs * (-2 * mux) + glDen * 2 * muy + gcsDen * (-2 * muy),
            meanXX: gcsDen, meanYY: gcsDen, meanXY: 2 * gcs)
}

/// Reflect index for a one-pixel pad: -1 -> 1, n -> n - 2.
@inline(__always) private func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i) }

/// dst = 3x3 mean of the reflect-padded plane `src` (H x W).
private func boxMean3(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ H: Int, _ W: Int) {
    for y in 0..<H {
        for x in 0..<W {
            var sum: Float = 0
            for dy in -1...1 {
                let row = src + reflect(y + dy, H) * W
                for dx in -1...1 { sum += row[reflect(x + dx, W)] }
            }
            dst[y * W + x] = sum / 9
        }
    }
}

/// The adjoint of boxMean3: dst[reflect(p)] += g[q] / 9 for every window member p of q.
private func boxMean3Adjoint(_ g: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ H: Int, _ W: Int) {
    for y in 0..<H {
        for x in 0..<W {
            let v = g[y * W + x] / 9
            for dy in -1...1 {
                let row = dst + reflect(y + dy, H) * W
                for dx in -1...1 { row[reflect(x + dx, W)] += v }
            }
        }
    }
}

/// The five local statistics of every window — mu_x, mu_y, E[x^2], E[y^2], E[xy] — one plane after another in
/// `stats` (5 x H*W); `products` (2 x H*W) is scratch.
private func localStatistics(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into stats: UnsafeMutablePointer<Float>,
                             products: UnsafeMutablePointer<Float>, _ H: Int, _ W: Int) {
    let HW = H * W
    boxMean3(a, stats, H, W)
    boxMean3(b, stats + HW, H, W)
    for i in 0..<HW { products[i] = a[i] * a[i]; products[HW + i] = b[i] * b[i] }
    boxMean3(products, stats + 2 * HW, H, W)
    boxMean3(products + HW, stats + 3 * HW, H, W)
    for i in 0..<HW { products[i] = a[i] * b[i] }
    boxMean3(products, stats + 4 * HW, H, W)
}

private func validateSSIM(_ x: Tensor, _ y: Tensor) {
    precondition(x.rank == 4 && x.shape == y.shape && x.h >= 2 && x.w >= 2,
                 "ssim: inputs \(x.shape) and \(y.shape) must match and be at least 2x2")
}

/// Per-pixel clamp((1 - SSIM(x, y)) / 2, 0, 1), same shape as the inputs.
public func ssimForward(_ x: Tensor, _ y: Tensor) -> Tensor {
    validateSSIM(x, y)
    let (H, W) = (x.h, x.w), HW = H * W
    let out = Tensor(uninitializedShape: x.shape)
    let xp = x.data, yp = y.data, op = out.data
    parallelFor(x.n * x.c, itemCost: 60 * HW) { planes in
        withScratch(7 * HW) { scratch in
            let products = scratch, stats = scratch + 2 * HW
            for plane in planes {
                let a = xp + plane * HW, b = yp + plane * HW
                let mx = stats, my = stats + HW, sxx = stats + 2 * HW, syy = stats + 3 * HW, sxy = stats + 4 * HW
                localStatistics(a, b, into: stats, products: products, H, W)
                let dst = op + plane * HW
                for i in 0..<HW {
                    dst[i] = ssimDissimilarity(meanX: mx[i], meanY: my[i], meanXX: sxx[i], meanYY: syy[i], meanXY: sxy[i])
                }
            }
        }
    }
    return out
}

/// Accumulates dL/dx and dL/dy. The clamp passes the gradient where the unclamped value lies in [0, 1] (torch).
public func ssimBackward(_ x: Tensor, _ y: Tensor, gradOutput g: Tensor, gradX: Tensor?, gradY: Tensor?) {
    validateSSIM(x, y)
    checkShape(g, x.shape, "ssim gradOutput")
    checkShape(gradX, x.shape, "ssim gradX")
    checkShape(gradY, y.shape, "ssim gradY")
    let (H, W) = (x.h, x.w), HW = H * W
    let xp = x.data, yp = y.data, gp = g.data, dxp = gradX?.data, dyp = gradY?.data
    parallelFor(x.n * x.c, itemCost: 60 * HW) { planes in
        withScratch(12 * HW) { scratch in
            let products = scratch, stats = scratch + 2 * HW, grads = scratch + 7 * HW
            for plane in planes {
                let a = xp + plane * HW, b = yp + plane * HW, gout = gp + plane * HW
                let mx = stats, my = stats + HW, sxx = stats + 2 * HW, syy = stats + 3 * HW, sxy = stats + 4 * HW
                localStatistics(a, b, into: stats, products: products, H, W)
                // Gradients with respect to the five local statistics (mu_x, mu_y, E[x^2], E[y^2], E[xy]).
                let gmx = grads, gmy = grads + HW, gxx = grads + 2 * HW, gyy = grads + 3 * HW, gxy = grads + 4 * HW
                for i in 0..<HW {
                    let g = ssimDissimilarityGradient(meanX: mx[i], meanY: my[i], meanXX: sxx[i], meanYY: syy[i],
                                                      meanXY: sxy[i], upstream: gout[i])
                    (gmx[i], gmy[i], gxx[i], gyy[i], gxy[i]) = (g.meanX, g.meanY, g.meanXX, g.meanYY, g.meanXY)
                }
                // Back through the box means: q = boxMean3Adjoint(g_stat); then through x^2, y^2, xy.
                let backX = products, backY = products + HW
                backX.update(repeating: 0, count: 2 * HW)
                let t = stats  // statistics are no longer needed: reuse as temporaries
                t.update(repeating: 0, count: 5 * HW)
                boxMean3Adjoint(gmx, t, H, W)
                boxMean3Adjoint(gmy, t + HW, H, W)
                boxMean3Adjoint(gxx, t + 2 * HW, H, W)
                boxMean3Adjoint(gyy, t + 3 * HW, H, W)
                boxMean3Adjoint(gxy, t + 4 * HW, H, W)
                for i in 0..<HW {
                    backX[i] = t[i] + 2 * a[i] * t[2 * HW + i] + b[i] * t[4 * HW + i]
                    backY[i] = t[HW + i] + 2 * b[i] * t[3 * HW + i] + a[i] * t[4 * HW + i]
                }
                if let dxp { let dst = dxp + plane * HW; for i in 0..<HW { dst[i] += backX[i] } }
                if let dyp { let dst = dyp + plane * HW; for i in 0..<HW { dst[i] += backY[i] } }
            }
        }
    }
}
