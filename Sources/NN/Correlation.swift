// Correlation (cost volume) of two feature maps over a square search window, as in PWC-Net:
// out[n, d, y, x] = (1/C) * sum_c f1[n, c, y, x] * f2[n, c, y + dy, x + dx], zero where (y + dy, x + dx) falls
// outside the image, for dy, dx in -R...R and d = (dy + R) * (2R + 1) + (dx + R). MC-JEPA uses R = 4: 81 channels.
// Dimension letters: N batch, C channels, H x W size, D = (2R + 1)^2 displacements.
// For a fixed displacement the sum is a shifted element-wise product, so the inner loop runs along a row and
// vectorises. Every pass is split over rows of one image, looping channels and displacements inside, so the
// rows being accumulated stay in L1 while the channel loop streams over them; each task writes only its rows.

public func correlationForward(_ f1: Tensor, _ f2: Tensor, radius R: Int = 4) -> Tensor {
    precondition(f1.rank == 4 && f1.shape == f2.shape, "correlation: shapes \(f1.shape) and \(f2.shape) differ")
    let (N, C, H, W) = (f1.n, f1.c, f1.h, f1.w)
    let side = 2 * R + 1, D = side * side
    let out = Tensor(shape: [N, D, H, W])
    let ap = f1.data, bp = f2.data, op = out.data
    let scale = 1 / Float(C)
    parallelFor(N * H, itemCost: D * C * W) { rows in
        for item in rows {
            let n = item / H, y = item % H
            for d in 0..<D {
                let dy = d / side - R, dx = d % side - R
                if y + dy < 0 || y + dy >= H { continue }
                let xs = span(max(0, -dx), min(W, W - dx))
                let row = op + (n * D + d) * H * W + y * W
                let a = ap + n * C * H * W + y * W, b = bp + n * C * H * W + (y + dy) * W + dx
                // Four channels per pass: four products per load and store of the output row.
                var c = 0
                while c + 4 <= C {
                    let a0 = a + c * H * W, a1 = a0 + H * W, a2 = a1 + H * W, a3 = a2 + H * W
                    let b0 = b + c * H * W, b1 = b0 + H * W, b2 = b1 + H * W, b3 = b2 + H * W
                    for x in xs { row[x] += (a0[x] * b0[x] + a1[x] * b1[x]) + (a2[x] * b2[x] + a3[x] * b3[x]) }
                    c += 4
                }
                while c < C {
                    let a0 = a + c * H * W, b0 = b + c * H * W
                    for x in xs { row[x] += a0[x] * b0[x] }
                    c += 1
                }
                for x in xs { row[x] *= scale }
            }
        }
    }
    return out
}

/// df1[c, y, x] += (1/C) sum_d g[d, y, x] f2[c, y+dy, x+dx]; df2[c, y', x'] += (1/C) sum_d g[d, y'-dy, x'-dx] f1[c, y'-dy, x'-dx].
/// For one dy the 2R+1 displacements along x form a 1-D filter over the row: in the row's interior (every dx
/// inside the image) all of them are applied in one pass per channel, like a depthwise convolution row.
public func correlationBackward(_ f1: Tensor, _ f2: Tensor, radius R: Int = 4, gradOutput g: Tensor,
                                gradF1: Tensor?, gradF2: Tensor?) {
    let (N, C, H, W) = (f1.n, f1.c, f1.h, f1.w)
    let side = 2 * R + 1, D = side * side
    checkShape(g, [N, D, H, W], "correlation gradOutput")
    checkShape(gradF1, f1.shape, "correlation gradF1")
    checkShape(gradF2, f2.shape, "correlation gradF2")
    let ap = f1.data, bp = f2.data, gp = g.data
    let da = gradF1?.data, db = gradF2?.data
    let scale = 1 / Float(C)
    let interior = span(R, W - R)
    // Rows of df1 (row y) and of df2 (row y' = y + dy) are both indexed by the task's own row.
    parallelFor(N * H, itemCost: 2 * D * C * W) { rows in
        withScratch(side * W) { taps in
            for item in rows {
                let n = item / H, y = item % H
                for dyIndex in 0..<side {
                    let dy = dyIndex - R
                    // df1 row y: taps[k] = g[d = (dy, dx_k), y, :] / C against f2 row y + dy shifted by dx_k.
                    if let da, y + dy >= 0, y + dy < H {
                        for k in 0..<side {
                            let grow = gp + (n * D + dyIndex * side + k) * H * W + y * W
                            for x in 0..<W { taps[k * W + x] = scale * grow[x] }
                        }
                        for c in 0..<C {
                            let out = da + (n * C + c) * H * W + y * W
                            let brow = bp + (n * C + c) * H * W + (y + dy) * W
                            accumulateShiftedProducts(out, taps: taps, tapShift: 0, row: brow, rowShift: 1,
                                                      side: side, R: R, W: W, interior: interior)
                        }
                    }
                    // df2 row y: source row ys = y - dy; x' = x + dx, so both g and f1 are read at x' - dx_k.
                    let ys = y - dy
                    if let db, ys >= 0, ys < H {
                        for k in 0..<side {
                            let grow = gp + (n * D + dyIndex * side + k) * H * W + ys * W
                            for x in 0..<W { taps[k * W + x] = scale * grow[x] }
                        }
                        for c in 0..<C {
                            let out = db + (n * C + c) * H * W + y * W
                            let arow = ap + (n * C + c) * H * W + ys * W
                            accumulateShiftedProducts(out, taps: taps, tapShift: -1, row: arow, rowShift: -1,
                                                      side: side, R: R, W: W, interior: interior)
                        }
                    }
                }
            }
        }
    }
}

/// out[x] += sum_k taps[k][x + tapShift * dx_k] * row[x + rowShift * dx_k], dx_k = k - R, over the x where the
/// row index x + rowShift * dx_k lies in [0, W) (the tap index then does too). Nine taps (R = 4) in the
/// interior run as one straight-line vectorisable pass.
@inline(__always)
private func accumulateShiftedProducts(_ out: UnsafeMutablePointer<Float>, taps: UnsafePointer<Float>, tapShift: Int,
                                       row: UnsafePointer<Float>, rowShift: Int, side: Int, R: Int, W: Int,
                                       interior: Range<Int>) {
    if side == 9 && !interior.isEmpty {
        // Pointers to tap k and row element at offset -dx_k * shift, so index x reads [x + shift * dx_k].
        let t0 = taps + 0 * W - 4 * tapShift, t1 = taps + 1 * W - 3 * tapShift, t2 = taps + 2 * W - 2 * tapShift
        let t3 = taps + 3 * W - 1 * tapShift, t4 = taps + 4 * W, t5 = taps + 5 * W + 1 * tapShift
        let t6 = taps + 6 * W + 2 * tapShift, t7 = taps + 7 * W + 3 * tapShift, t8 = taps + 8 * W + 4 * tapShift
        let r0 = row - 4 * rowShift, r1 = row - 3 * rowShift, r2 = row - 2 * rowShift, r3 = row - rowShift
        let r5 = row + rowShift, r6 = row + 2 * rowShift, r7 = row + 3 * rowShift, r8 = row + 4 * rowShift
        for x in interior {
            let left = (t0[x] * r0[x] + t1[x] * r1[x]) + (t2[x] * r2[x] + t3[x] * r3[x])
            let right = (t5[x] * r5[x] + t6[x] * r6[x]) + (t7[x] * r7[x] + t8[x] * r8[x])
            out[x] += (left + right) + t4[x] * row[x]
        }
    } else {
        for k in 0..<side {
            let dx = k - R
            let t = taps + k * W + tapShift * dx, r = row + rowShift * dx
            for x in interior { out[x] += t[x] * r[x] }
        }
    }
    // Borders: per displacement, the valid x outside the interior.
    for k in 0..<side {
        let dx = k - R
        let t = taps + k * W + tapShift * dx, r = row + rowShift * dx
        let valid = span(max(0, -rowShift * dx), min(W, W - rowShift * dx))
        for x in span(valid.lowerBound, min(valid.upperBound, interior.lowerBound)) { out[x] += t[x] * r[x] }
        for x in span(max(valid.lowerBound, interior.upperBound), valid.upperBound) { out[x] += t[x] * r[x] }
    }
}
