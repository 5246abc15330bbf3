// Bilinear resize with align_corners=True, exactly F.interpolate(x, size, mode="bilinear", align_corners=True):
// output pixel i maps to input coordinate i * (in - 1) / (out - 1) (0 when out == 1), the four neighbours are
// blended, and the right/bottom neighbour is clamped at the border.
// Dimension letters: N batch, C channels, H x W input, OH x OW output.

/// Source index and blend weight of each output index along one axis, computed in Float like PyTorch.
struct LinearTaps {
    var index0: [Int] = [], index1: [Int] = [], lambda1: [Float] = []

    init(input: Int, output: Int) {
        let scale: Float = output > 1 ? Float(input - 1) / Float(output - 1) : 0
        for i in 0..<output {
            let source = scale * Float(i)
            let i0 = min(Int(source), input - 1)
            index0.append(i0)
            index1.append(i0 < input - 1 ? i0 + 1 : i0)
            lambda1.append(source - Float(i0))
        }
    }
}

public func resizeBilinearForward(_ x: Tensor, height OH: Int, width OW: Int) -> Tensor {
    precondition(x.rank == 4 && OH > 0 && OW > 0 && x.h > 0 && x.w > 0, "resize: input \(x.shape) to \(OH)x\(OW)")
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let y = Tensor(uninitializedShape: [N, C, OH, OW])
    let rows = LinearTaps(input: H, output: OH), cols = LinearTaps(input: W, output: OW)
    let xp = x.data, yp = y.data
    parallelFor(N * C, itemCost: 4 * OH * OW) { planes in
        for plane in planes {
            let src = xp + plane * H * W, dst = yp + plane * OH * OW
            for oy in 0..<OH {
                let r0 = src + rows.index0[oy] * W, r1 = src + rows.index1[oy] * W
                let ly = rows.lambda1[oy]
                for ox in 0..<OW {
                    let c0 = cols.index0[ox], c1 = cols.index1[ox], lx = cols.lambda1[ox]
                    let top = (1 - lx) * r0[c0] + lx * r0[c1]
                    let bottom = (1 - lx) * r1[c0] + lx * r1[c1]
                    dst[oy * OW + ox] = (1 - ly) * top + ly * bottom
                }
            }
        }
    }
    return y
}

/// Scatters dy back to the four input neighbours with the forward weights (dx accumulates).
public func resizeBilinearBackward(gradOutput dy: Tensor, gradInput dx: Tensor) {
    precondition(dy.rank == 4 && dx.rank == 4 && dy.n == dx.n && dy.c == dx.c, "resize backward: \(dy.shape) into \(dx.shape)")
    let (N, C, H, W, OH, OW) = (dx.n, dx.c, dx.h, dx.w, dy.h, dy.w)
    let rows = LinearTaps(input: H, output: OH), cols = LinearTaps(input: W, output: OW)
    let dxp = dx.data, dyp = dy.data
    parallelFor(N * C, itemCost: 4 * OH * OW) { planes in
        for plane in planes {
            let dst = dxp + plane * H * W, src = dyp + plane * OH * OW
            for oy in 0..<OH {
                let r0 = dst + rows.index0[oy] * W, r1 = dst + rows.index1[oy] * W
                let ly = rows.lambda1[oy]
                for ox in 0..<OW {
                    let c0 = cols.index0[ox], c1 = cols.index1[ox], lx = cols.lambda1[ox]
                    let g = src[oy * OW + ox]
                    r0[c0] += (1 - ly) * (1 - lx) * g
                    r0[c1] += (1 - ly) * lx * g
                    r1[c0] += ly * (1 - lx) * g
                    r1[c1] += ly * lx * g
                }
            }
        }
    }
}
