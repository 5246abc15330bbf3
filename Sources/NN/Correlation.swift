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
    parallelFor(N * H) { rows in
        for item in rows {
            let n = item / H, y = item % H
            for d in 0..<D {
                let dy = d / side - R, dx = d % side - R
                if y + dy < 0 || y + dy >= H { continue }
                let xs = max(0, -dx)..<min(W, W - dx)
                let row = op + (n * D + d) * H * W + y * W
                for c in 0..<C {
                    let arow = ap + (n * C + c) * H * W + y * W
                    let brow = bp + (n * C + c) * H * W + (y + dy) * W + dx
                    for x in xs { row[x] += arow[x] * brow[x] }
                }
                for x in xs { row[x] *= scale }
            }
        }
    }
    return out
}

/// df1[c, y, x] += (1/C) sum_d g[d, y, x] f2[c, y+dy, x+dx]; df2[c, y', x'] += (1/C) sum_d g[d, y'-dy, x'-dx] f1[c, y'-dy, x'-dx].
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
    // Rows of df1 (row y) and of df2 (row y' = y + dy) are both indexed by the task's own row.
    parallelFor(N * H) { rows in
        withScratch(W) { scaled in
            for item in rows {
                let n = item / H, y = item % H
                for d in 0..<D {
                    let dy = d / side - R, dx = d % side - R
                    let xs = max(0, -dx)..<min(W, W - dx)
                    if let da, y + dy >= 0, y + dy < H {
                        let grow = gp + (n * D + d) * H * W + y * W
                        for x in xs { scaled[x] = scale * grow[x] }
                        for c in 0..<C {
                            let out = da + (n * C + c) * H * W + y * W
                            let brow = bp + (n * C + c) * H * W + (y + dy) * W + dx
                            for x in xs { out[x] += scaled[x] * brow[x] }
                        }
                    }
                    // df2 row y gets the displacement-d entries of source row ys = y - dy, shifted by dx.
                    let ys = y - dy
                    if let db, ys >= 0, ys < H {
                        let grow = gp + (n * D + d) * H * W + ys * W
                        for x in xs { scaled[x] = scale * grow[x] }
                        for c in 0..<C {
                            let out = db + (n * C + c) * H * W + y * W + dx
                            let arow = ap + (n * C + c) * H * W + ys * W
                            for x in xs { out[x] += scaled[x] * arow[x] }
                        }
                    }
                }
            }
        }
    }
}
