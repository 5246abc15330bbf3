// Backward warping by bilinear sampling: out[n, c, y, x] = img[n, c, y + v, x + u] with (u, v) = flow[n, :, y, x]
// in pixels (channel 0 = u, the x displacement), corners outside the image contributing zero. This is exactly
// F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True) with
// grid = (2 (x + u) / (W - 1) - 1, 2 (y + v) / (H - 1) - 1).
// The validity mask is 1 where the sample point lies inside [0, W-1] x [0, H-1] (it carries no gradient).
// Dimension letters: N batch, C image channels, H x W size (image and flow share it).

/// The four corners of one sample point and their bilinear weights (zero for corners outside the image).
@inline(__always)
private func bilinearCorners(_ sx: Float, _ sy: Float, _ H: Int, _ W: Int)
    -> (x0: Int, y0: Int, fx: Float, fy: Float, in00: Bool, in01: Bool, in10: Bool, in11: Bool) {
    // A NaN or infinite flow (a diverged model) samples nothing rather than trapping in Int().
    guard sx.isFinite && sy.isFinite else { return (0, 0, 0, 0, false, false, false, false) }
    let fx0 = sx.rounded(.down), fy0 = sy.rounded(.down)
    // Far-away samples: keep the integer conversion in range; every corner is then outside anyway.
    let x0 = Int(max(-2, min(Float(W + 1), fx0))), y0 = Int(max(-2, min(Float(H + 1), fy0)))
    let xIn0 = x0 >= 0 && x0 < W, xIn1 = x0 + 1 >= 0 && x0 + 1 < W
    let yIn0 = y0 >= 0 && y0 < H, yIn1 = y0 + 1 >= 0 && y0 + 1 < H
    return (x0, y0, sx - fx0, sy - fy0, yIn0 && xIn0, yIn0 && xIn1, yIn1 && xIn0, yIn1 && xIn1)
}

private func validateWarp(_ image: Tensor, _ flow: Tensor) {
    precondition(image.rank == 4 && flow.rank == 4 && flow.c == 2 && flow.n == image.n
                 && flow.h == image.h && flow.w == image.w,
                 "warp: image \(image.shape) and flow \(flow.shape) must be (N,C,H,W) and (N,2,H,W)")
}

/// Returns the warped image (N, C, H, W) and the validity mask (N, 1, H, W).
public func warpForward(image: Tensor, flow: Tensor) -> (output: Tensor, mask: Tensor) {
    validateWarp(image, flow)
    let (N, C, H, W) = (image.n, image.c, image.h, image.w)
    let out = Tensor(uninitializedShape: image.shape), mask = Tensor(uninitializedShape: [N, 1, H, W])
    let ip = image.data, fp = flow.data, op = out.data, mp = mask.data
    let HW = H * W
    parallelFor(N * H, itemCost: W * (C + 8)) { rows in
        for row in rows {
            let n = row / H, y = row % H
            let u = fp + n * 2 * HW + y * W, v = u + HW
            for x in 0..<W {
                let sx = Float(x) + u[x], sy = Float(y) + v[x]
                mp[n * HW + y * W + x] = (sx >= 0 && sx <= Float(W - 1) && sy >= 0 && sy <= Float(H - 1)) ? 1 : 0
                let k = bilinearCorners(sx, sy, H, W)
                let w00 = (1 - k.fx) * (1 - k.fy), w01 = k.fx * (1 - k.fy), w10 = (1 - k.fx) * k.fy, w11 = k.fx * k.fy
                let base = k.y0 * W + k.x0
                for c in 0..<C {
                    let plane = ip + (n * C + c) * HW
                    var value: Float = 0
                    if k.in00 { value += w00 * plane[base] }
                    if k.in01 { value += w01 * plane[base + 1] }
                    if k.in10 { value += w10 * plane[base + W] }
                    if k.in11 { value += w11 * plane[base + W + 1] }
                    op[(n * C + c) * HW + y * W + x] = value
                }
            }
        }
    }
    return (out, mask)
}

/// Accumulates the gradient into the image (scatter to the four corners) and into the flow (derivative of the
/// bilinear weights; piecewise linear, so the derivative of the cell the point lies in).
public func warpBackward(image: Tensor, flow: Tensor, gradOutput g: Tensor, gradImage: Tensor?, gradFlow: Tensor?) {
    validateWarp(image, flow)
    checkShape(g, image.shape, "warp gradOutput")
    checkShape(gradImage, image.shape, "warp gradImage")
    checkShape(gradFlow, flow.shape, "warp gradFlow")
    let (N, C, H, W) = (image.n, image.c, image.h, image.w)
    let HW = H * W
    let ip = image.data, fp = flow.data, gp = g.data
    if let gradImage {
        let dip = gradImage.data
        // One task per image plane: scatters from different pixels can hit the same corner, but only in-plane.
        parallelFor(N * C, itemCost: 8 * HW) { planes in
            for plane in planes {
                let n = plane / C
                let u = fp + n * 2 * HW, v = u + HW
                let dst = dip + plane * HW, src = gp + plane * HW
                for y in 0..<H {
                    for x in 0..<W {
                        let p = y * W + x
                        let k = bilinearCorners(Float(x) + u[p], Float(y) + v[p], H, W)
                        let gv = src[p], base = k.y0 * W + k.x0
                        if k.in00 { dst[base] += (1 - k.fx) * (1 - k.fy) * gv }
                        if k.in01 { dst[base + 1] += k.fx * (1 - k.fy) * gv }
                        if k.in10 { dst[base + W] += (1 - k.fx) * k.fy * gv }
                        if k.in11 { dst[base + W + 1] += k.fx * k.fy * gv }
                    }
                }
            }
        }
    }
    if let gradFlow {
        let dfp = gradFlow.data
        parallelFor(N * H, itemCost: W * (4 * C + 8)) { rows in
            for row in rows {
                let n = row / H, y = row % H
                let u = fp + n * 2 * HW + y * W, v = u + HW
                let du = dfp + n * 2 * HW + y * W, dv = du + HW
                for x in 0..<W {
                    let k = bilinearCorners(Float(x) + u[x], Float(y) + v[x], H, W)
                    let base = k.y0 * W + k.x0
                    var gx: Float = 0, gy: Float = 0
                    for c in 0..<C {
                        let plane = ip + (n * C + c) * HW
                        let i00: Float = k.in00 ? plane[base] : 0, i01: Float = k.in01 ? plane[base + 1] : 0
                        let i10: Float = k.in10 ? plane[base + W] : 0, i11: Float = k.in11 ? plane[base + W + 1] : 0
                        let gv = gp[(n * C + c) * HW + y * W + x]
                        gx += gv * ((1 - k.fy) * (i01 - i00) + k.fy * (i11 - i10))
                        gy += gv * ((1 - k.fx) * (i10 - i00) + k.fx * (i11 - i01))
                    }
                    du[x] += gx
                    dv[x] += gy
                }
            }
        }
    }
}
