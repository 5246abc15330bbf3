import Foundation

// Convex upsampling (RAFT): each full-size pixel of a cell is a convex combination of the cell's 3x3
// neighbourhood of coarse flow vectors, with weights from a softmax over 9 logits predicted for that pixel. It
// keeps motion edges sharp where bilinear upsampling smears them over a cell. Exactly the reference's
// `convex_upsample` (Reference/mcjepa/model.py): with s = factor and k = 3 ky + kx,
//   out[n, c, y s + dy, x s + dx] = s * sum_k softmax_k(logits[n, k s^2 + dy s + dx, y, x]) * flow[n, c, y', x']
// where (y', x') = (y + ky - 1, x + kx - 1) clamped to the grid (border cells repeat).
// Dimension letters: N batch, h x w coarse grid, s factor.

private func validateConvex(_ flow: Tensor, _ logits: Tensor, _ factor: Int) {
    precondition(factor >= 1 && flow.rank == 4 && logits.rank == 4 && flow.c == 2 && logits.n == flow.n
                 && logits.c == 9 * factor * factor && logits.h == flow.h && logits.w == flow.w,
                 "convex upsample: flow \(flow.shape) and logits \(logits.shape) for factor \(factor)")
}

/// Copies the flow rows y - 1, y, y + 1 (border rows repeated) of the planes `u` and `v` into three rows each of
/// `rowsU` and `rowsV`, w + 2 wide with the border cells repeated, so that neighbour (ky, kx) of cell x is
/// `rows[ky * (w + 2) + x + kx]`. Returns the three source rows' offsets.
@discardableResult
private func loadPaddedRows(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, y: Int, h: Int, w: Int,
                            into rowsU: UnsafeMutablePointer<Float>, _ rowsV: UnsafeMutablePointer<Float>) -> [Int] {
    let sourceRows = (0..<3).map { ky in min(max(y + ky - 1, 0), h - 1) * w }
    for ky in 0..<3 {
        for (plane, rowsOut) in [(u, rowsU), (v, rowsV)] {
            let padRow = rowsOut + ky * (w + 2), source = sourceRows[ky]
            (padRow + 1).update(from: plane + source, count: w)
            padRow[0] = plane[source]
            padRow[w + 1] = plane[source + w - 1]
        }
    }
    return sourceRows
}

// Loops run row of cells by row, sub-pixel by sub-pixel, then along the row: the 9 logit planes and the flow rows
// are then read contiguously (a sub-pixel loop inside the cell loop strides through 9 x s^2 planes per cell, which
// was most of the time).

/// Returns the full-size flow [N, 2, h s, w s] and the softmax weights [N, 9 s^2, h, w] (for the backward).
public func convexUpsampleForward(flow: Tensor, logits: Tensor, factor s: Int) -> (output: Tensor, weights: Tensor) {
    let weights = Tensor(uninitializedShape: logits.shape)
    return (convexUpsample(flow: flow, logits: logits, factor: s, weightsOut: weights.data), weights)
}

/// The full-size flow only (inference): the softmax weights, as large as the logits, are not written.
public func convexUpsample(flow: Tensor, logits: Tensor, factor s: Int) -> Tensor {
    convexUpsample(flow: flow, logits: logits, factor: s, weightsOut: nil)
}

private func convexUpsample(flow: Tensor, logits: Tensor, factor s: Int, weightsOut wp: UnsafeMutablePointer<Float>?) -> Tensor {
    validateConvex(flow, logits, s)
    let (N, h, w) = (flow.n, flow.h, flow.w)
    let hw = h * w, s2 = s * s, H = h * s, W = w * s
    let out = Tensor(uninitializedShape: [N, 2, H, W])
    let fp = flow.data, lp = logits.data, op = out.data
    // Every step is a loop along the row of cells, so that it vectorises: the neighbours come from the three flow
    // rows around it, padded with their border cells (neighbour kx of cell x is padded[x + kx]).
    let padded = w + 2
    parallelFor(N * h, itemCost: w * s2 * 40) { rows in
        let rowsU = UnsafeMutablePointer<Float>.allocate(capacity: 3 * padded), rowsV = UnsafeMutablePointer<Float>.allocate(capacity: 3 * padded)
        let e = UnsafeMutablePointer<Float>.allocate(capacity: 9 * w), top = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let sum = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let fu = UnsafeMutablePointer<Float>.allocate(capacity: w), fv = UnsafeMutablePointer<Float>.allocate(capacity: w)
        defer { [rowsU, rowsV, e, top, sum, fu, fv].forEach { $0.deallocate() } }
        for row in rows {
            let n = row / h, y = row % h
            loadPaddedRows(fp + n * 2 * hw, fp + n * 2 * hw + hw, y: y, h: h, w: w, into: rowsU, rowsV)
            let outU = op + n * 2 * H * W, outV = outU + H * W
            for sub in 0..<s2 {
                let (dy, dx) = (sub / s, sub % s)
                // Logit plane k of this sub-pixel, at this row of cells.
                let plane = { (k: Int) in n * 9 * s2 * hw + (k * s2 + sub) * hw + y * w }
                top.update(from: lp + plane(0), count: w)
                for k in 1..<9 {
                    let l = lp + plane(k)
                    for x in 0..<w { top[x] = max(top[x], l[x]) }
                }
                sum.update(repeating: 0, count: w)
                fu.update(repeating: 0, count: w)
                fv.update(repeating: 0, count: w)
                for k in 0..<9 {
                    let l = lp + plane(k), ek = e + k * w
                    let a = rowsU + (k / 3) * padded + k % 3, b = rowsV + (k / 3) * padded + k % 3
                    for x in 0..<w {
                        let value = fastExp(l[x] - top[x])
                        ek[x] = value
                        sum[x] += value
                        fu[x] += value * a[x]
                        fv[x] += value * b[x]
                    }
                }
                for x in 0..<w { sum[x] = 1 / sum[x] }
                if let wp {
                    for k in 0..<9 {
                        let target = wp + plane(k), ek = e + k * w
                        for x in 0..<w { target[x] = ek[x] * sum[x] }
                    }
                }
                let outRow = (y * s + dy) * W + dx, scale = Float(s)
                for x in 0..<w {
                    outU[outRow + x * s] = scale * fu[x] * sum[x]
                    outV[outRow + x * s] = scale * fv[x] * sum[x]
                }
            }
        }
    }
    return out
}

/// Accumulates dL/dflow into `gradFlow` and dL/dlogits into `gradLogits` from dL/doutput, given the forward's
/// softmax `weights`.
public func convexUpsampleBackward(flow: Tensor, weights: Tensor, factor s: Int, gradOutput g: Tensor,
                                   gradFlow: Tensor?, gradLogits: Tensor?) {
    validateConvex(flow, weights, s)
    let (N, h, w) = (flow.n, flow.h, flow.w)
    let hw = h * w, s2 = s * s, H = h * s, W = w * s
    checkShape(g, [N, 2, H, W], "convex upsample gradOutput")
    checkShape(gradFlow, flow.shape, "convex upsample gradFlow")
    checkShape(gradLogits, weights.shape, "convex upsample gradLogits")
    let fp = flow.data, wp = weights.data, gp = g.data, scale = Float(s)
    let padded = w + 2
    // One task per batch item, rows of cells in order: a coarse cell receives gradient from the pixels of its 3x3
    // neighbourhood of cells, so neighbouring rows write the same flow rows. As in the forward, every step runs
    // along a row of cells against the three flow rows around it, padded with their border cells; the flow
    // gradient gathers in padded rows too and folds back onto the border cells at the end of the row.
    parallelFor(N, itemCost: hw * s2 * 60) { items in
        let rowsU = UnsafeMutablePointer<Float>.allocate(capacity: 3 * padded), rowsV = UnsafeMutablePointer<Float>.allocate(capacity: 3 * padded)
        let dRowsU = UnsafeMutablePointer<Float>.allocate(capacity: 3 * padded), dRowsV = UnsafeMutablePointer<Float>.allocate(capacity: 3 * padded)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: 9 * w), mean = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let gu = UnsafeMutablePointer<Float>.allocate(capacity: w), gv = UnsafeMutablePointer<Float>.allocate(capacity: w)
        defer { [rowsU, rowsV, dRowsU, dRowsV, a, mean, gu, gv].forEach { $0.deallocate() } }
        for n in items {
            let u = fp + n * 2 * hw, v = u + hw
            let gU = gp + n * 2 * H * W, gV = gU + H * W
            let du = gradFlow.map { $0.data + n * 2 * hw }, dv = du.map { $0 + hw }
            for y in 0..<h {
                let sourceRows = loadPaddedRows(u, v, y: y, h: h, w: w, into: rowsU, rowsV)
                dRowsU.update(repeating: 0, count: 3 * padded)
                dRowsV.update(repeating: 0, count: 3 * padded)
                for sub in 0..<s2 {
                    let (dy, dx) = (sub / s, sub % s)
                    let plane = { (k: Int) in n * 9 * s2 * hw + (k * s2 + sub) * hw + y * w }
                    let outRow = (y * s + dy) * W + dx
                    for x in 0..<w {
                        gu[x] = scale * gU[outRow + x * s]
                        gv[x] = scale * gV[outRow + x * s]
                    }
                    mean.update(repeating: 0, count: w)
                    for k in 0..<9 {
                        let p = wp + plane(k), offset = (k / 3) * padded + k % 3
                        let fu = rowsU + offset, fv = rowsV + offset, ak = a + k * w
                        if du != nil {
                            let targetU = dRowsU + offset, targetV = dRowsV + offset
                            for x in 0..<w {
                                targetU[x] += p[x] * gu[x]
                                targetV[x] += p[x] * gv[x]
                            }
                        }
                        // a_k = the output gradient . neighbour k's flow; d softmax: p_k (a_k - sum_j p_j a_j).
                        if gradLogits != nil {
                            for x in 0..<w {
                                ak[x] = gu[x] * fu[x] + gv[x] * fv[x]
                                mean[x] += p[x] * ak[x]
                            }
                        }
                    }
                    if let gradLogits {
                        for k in 0..<9 {
                            let p = wp + plane(k), target = gradLogits.data + plane(k), ak = a + k * w
                            for x in 0..<w { target[x] += p[x] * (ak[x] - mean[x]) }
                        }
                    }
                }
                if let du, let dv {
                    for ky in 0..<3 {
                        for (plane, rowsIn) in [(du, dRowsU), (dv, dRowsV)] {
                            let padRow = rowsIn + ky * padded, target = plane + sourceRows[ky]
                            for x in 0..<w { target[x] += padRow[x + 1] }
                            target[0] += padRow[0]
                            target[w - 1] += padRow[w + 1]
                        }
                    }
                }
            }
        }
    }
}
