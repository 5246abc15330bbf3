// Correlation (cost volume) of two feature maps over a square search window, as in PWC-Net:
// out[n, d, y, x] = (1/C) * sum_c f1[n, c, y, x] * f2[n, c, y + dy, x + dx], zero where (y + dy, x + dx) falls
// outside the image, for dy, dx in -R...R and d = (dy + R) * (2R + 1) + (dx + R). MC-JEPA uses R = 4: 81 channels.
// Dimension letters: N batch, C channels, H x W size, D = (2R + 1)^2 displacements.
// For a fixed displacement the sum is a shifted element-wise product, so the inner loop runs along a row and
// vectorises; forward splits over displacements, backward over channels (each task owns its gradient planes).

public func correlationForward(_ f1: Tensor, _ f2: Tensor, radius R: Int = 4) -> Tensor {
    precondition(f1.rank == 4 && f1.shape == f2.shape, "correlation: shapes \(f1.shape) and \(f2.shape) differ")
    let (N, C, H, W) = (f1.n, f1.c, f1.h, f1.w)
    let side = 2 * R + 1, D = side * side
    let out = Tensor(shape: [N, D, H, W])
    let ap = f1.data, bp = f2.data, op = out.data
    let scale = 1 / Float(C)
    parallelFor(N * D) { items in
        for item in items {
            let n = item / D, d = item % D
            let dy = d / side - R, dx = d % side - R
            let dst = op + item * H * W
            let xs = max(0, -dx)..<min(W, W - dx)
            let ys = max(0, -dy)..<min(H, H - dy)
            if xs.isEmpty || ys.isEmpty { continue }
            for c in 0..<C {
                let a = ap + (n * C + c) * H * W, b = bp + (n * C + c) * H * W
                for y in ys {
                    let row = dst + y * W, arow = a + y * W, brow = b + (y + dy) * W + dx
                    for x in xs { row[x] += arow[x] * brow[x] }
                }
            }
            for y in ys { let row = dst + y * W; for x in xs { row[x] *= scale } }
        }
    }
    return out
}

/// df1[c, y, x] += (1/C) sum_d g[d, y, x] f2[c, y+dy, x+dx]; df2[c, y+dy, x+dx] += (1/C) sum_d g[d, y, x] f1[c, y, x].
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
    parallelFor(N * C) { planes in
        for plane in planes {
            let n = plane / C
            let a = ap + plane * H * W, b = bp + plane * H * W
            for d in 0..<D {
                let dy = d / side - R, dx = d % side - R
                let xs = max(0, -dx)..<min(W, W - dx)
                let ys = max(0, -dy)..<min(H, H - dy)
                if xs.isEmpty || ys.isEmpty { continue }
                let gd = gp + (n * D + d) * H * W
                for y in ys {
                    let grow = gd + y * W
                    if let da {
                        let out = da + plane * H * W + y * W, brow = b + (y + dy) * W + dx
                        for x in xs { out[x] += scale * grow[x] * brow[x] }
                    }
                    if let db {
                        let out = db + plane * H * W + (y + dy) * W + dx, arow = a + y * W
                        for x in xs { out[x] += scale * grow[x] * arow[x] }
                    }
                }
            }
        }
    }
}
