import Dispatch
import NN

// The photometric loss's SSIM term exactly as losses.py `ssim_loss_map`: 3x3 means over windows that fit
// ("valid", no padding), so the map is [N,C,H-2,W-2]. Box sums are separable (three row taps, then three column
// taps), which makes this several times cheaper than a per-tap padded window; NN's `ssimForward` (reflect
// padded, full size) agrees on these interior pixels, and both take the per-window formula from NN
// (`ssimDissimilarity` and its gradient). Planes run in parallel (each writes only its own plane).

/// dst[i][j] = mean of src[i..i+2][j..j+2] for the (H-2) x (W-2) valid windows; `rows` is (H) x (W-2) scratch.
private func validBoxMean(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ rows: UnsafeMutablePointer<Float>, _ H: Int, _ W: Int) {
    let w2 = W - 2
    for y in 0..<H {
        let s = src + y * W, r = rows + y * w2
        for x in 0..<w2 { r[x] = s[x] + s[x + 1] + s[x + 2] }
    }
    for y in 0..<(H - 2) {
        let r0 = rows + y * w2, d = dst + y * w2
        for x in 0..<w2 { d[x] = (r0[x] + r0[x + w2] + r0[x + 2 * w2]) * (1 / 9 as Float) }
    }
}

/// The adjoint: dst (H x W) += spread of g ((H-2) x (W-2)) / 9 over each window; `rows` is (H) x (W-2) scratch.
private func validBoxMeanAdjoint(_ g: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ rows: UnsafeMutablePointer<Float>, _ H: Int, _ W: Int) {
    let w2 = W - 2
    rows.update(repeating: 0, count: H * w2)
    for y in 0..<(H - 2) {
        let gy = g + y * w2, r0 = rows + y * w2
        for x in 0..<w2 {
            let v = gy[x] * (1 / 9 as Float)
            r0[x] += v; r0[x + w2] += v; r0[x + 2 * w2] += v
        }
    }
    for y in 0..<H {
        let r = rows + y * w2, d = dst + y * W
        for x in 0..<w2 { let v = r[x]; d[x] += v; d[x + 1] += v; d[x + 2] += v }
    }
}

private func forEachPlane(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        // Each plane's call writes only that plane.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: count) { body($0) }
    }
}

/// clamp((1 - SSIM) / 2, 0, 1) per channel on valid 3x3 windows: [N,C,H,W] -> [N,C,H-2,W-2].
public func validSSIMLossMap(_ x: Tensor, _ y: Tensor) -> Tensor {
    precondition(x.shape == y.shape && x.h >= 3 && x.w >= 3, "ssim: inputs \(x.shape), \(y.shape)")
    let (H, W) = (x.h, x.w), plane = H * W, valid = (H - 2) * (W - 2)
    let out = Tensor(shape: [x.n, x.c, H - 2, W - 2])
    let xp = x.data, yp = y.data, op = out.data
    forEachPlane(x.n * x.c) { p in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plane + H * (W - 2) + 5 * valid)
        defer { scratch.deallocate() }
        let product = scratch, rows = scratch + plane, stats = rows + H * (W - 2)
        let a = xp + p * plane, b = yp + p * plane
        let mx = stats, my = stats + valid, sxx = stats + 2 * valid, syy = stats + 3 * valid, sxy = stats + 4 * valid
        validLocalStatistics(a, b, into: stats, product: product, rows: rows, H, W)
        let dst = op + p * valid
        for i in 0..<valid {
            dst[i] = ssimDissimilarity(meanX: mx[i], meanY: my[i], meanXX: sxx[i], meanYY: syy[i], meanXY: sxy[i])
        }
    }
    return out
}

/// The five local statistics SSIM needs over each valid 3x3 window — mu_x, mu_y, E[x^2], E[y^2], E[xy] — written
/// one after another into `stats` (5 x (H-2)(W-2)); `product` (H*W) and `rows` (H*(W-2)) are scratch.
private func validLocalStatistics(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into stats: UnsafeMutablePointer<Float>,
                                  product: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>, _ H: Int, _ W: Int) {
    let plane = H * W, valid = (H - 2) * (W - 2)
    validBoxMean(a, stats, rows, H, W)
    validBoxMean(b, stats + valid, rows, H, W)
    for i in 0..<plane { product[i] = a[i] * a[i] }
    validBoxMean(product, stats + 2 * valid, rows, H, W)
    for i in 0..<plane { product[i] = b[i] * b[i] }
    validBoxMean(product, stats + 3 * valid, rows, H, W)
    for i in 0..<plane { product[i] = a[i] * b[i] }
    validBoxMean(product, stats + 4 * valid, rows, H, W)
}

/// Accumulates dL/dy of `validSSIMLossMap(x, y)` from dL/dmap (x is a fixed target image). The clamp passes
/// the gradient where the unclamped value lies in [0, 1], as torch.clamp does.
public func validSSIMLossMapBackward(_ x: Tensor, _ y: Tensor, gradOutput g: Tensor, gradY: Tensor) {
    let (H, W) = (x.h, x.w), plane = H * W, valid = (H - 2) * (W - 2)
    precondition(g.shape == [x.n, x.c, H - 2, W - 2] && gradY.shape == y.shape, "ssim backward: shapes")
    let xp = x.data, yp = y.data, gp = g.data, dyp = gradY.data
    forEachPlane(x.n * x.c) { p in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * plane + H * (W - 2) + 10 * valid)
        defer { scratch.deallocate() }
        let product = scratch, back = scratch + plane, rows = back + plane, stats = rows + H * (W - 2), grads = stats + 5 * valid
        let a = xp + p * plane, b = yp + p * plane, gout = gp + p * valid
        let mx = stats, my = stats + valid, sxx = stats + 2 * valid, syy = stats + 3 * valid, sxy = stats + 4 * valid
        validLocalStatistics(a, b, into: stats, product: product, rows: rows, H, W)
        // Gradients with respect to mu_y, E[y^2], E[xy] (x carries none).
        let gmy = grads, gyy = grads + valid, gxy = grads + 2 * valid
        for i in 0..<valid {
            let g = ssimDissimilarityGradient(meanX: mx[i], meanY: my[i], meanXX: sxx[i], meanYY: syy[i], meanXY: sxy[i],
                                              upstream: gout[i])
            (gmy[i], gyy[i], gxy[i]) = (g.meanY, g.meanYY, g.meanXY)
        }
        // d/dy = A*(gmy) + 2 y A*(gyy) + x A*(gxy), A* the box adjoint.
        back.update(repeating: 0, count: plane)
        validBoxMeanAdjoint(gmy, back, rows, H, W)
        product.update(repeating: 0, count: plane)
        validBoxMeanAdjoint(gyy, product, rows, H, W)
        for i in 0..<plane { back[i] += 2 * b[i] * product[i] }
        product.update(repeating: 0, count: plane)
        validBoxMeanAdjoint(gxy, product, rows, H, W)
        let dst = dyp + p * plane
        for i in 0..<plane { dst[i] += back[i] + a[i] * product[i] }
    }
}
