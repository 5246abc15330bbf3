// Average pooling over NCHW tensors: k x k windows at stride k without padding (floor of the size, like
// F.avg_pool2d(x, k)), and global average pooling to (N, C, 1, 1).
// Dimension letters: N batch, C channels, H x W input, OH x OW output.

public func avgPool2dForward(_ x: Tensor, kernel k: Int) -> Tensor {
    precondition(x.rank == 4 && k >= 1 && x.h >= k && x.w >= k, "avgPool2d: input \(x.shape) kernel \(k)")
    let (N, C, H, W, OH, OW) = (x.n, x.c, x.h, x.w, x.h / k, x.w / k)
    let y = Tensor(uninitializedShape: [N, C, OH, OW])
    let xp = x.data, yp = y.data
    let scale = 1 / Float(k * k)
    parallelFor(N * C, itemCost: H * W) { planes in
        for plane in planes {
            let src = xp + plane * H * W, dst = yp + plane * OH * OW
            for oy in 0..<OH {
                for ox in 0..<OW {
                    var sum: Float = 0
                    for ky in 0..<k { for kx in 0..<k { sum += src[(oy * k + ky) * W + ox * k + kx] } }
                    dst[oy * OW + ox] = sum * scale
                }
            }
        }
    }
    return y
}

public func avgPool2dBackward(kernel k: Int, gradOutput dy: Tensor, gradInput dx: Tensor) {
    precondition(dy.n == dx.n && dy.c == dx.c && dy.h == dx.h / k && dy.w == dx.w / k,
                 "avgPool2d backward: \(dy.shape) into \(dx.shape) with kernel \(k)")
    let (N, C, H, W, OH, OW) = (dx.n, dx.c, dx.h, dx.w, dy.h, dy.w)
    let dxp = dx.data, dyp = dy.data
    let scale = 1 / Float(k * k)
    parallelFor(N * C, itemCost: H * W) { planes in
        for plane in planes {
            let dst = dxp + plane * H * W, src = dyp + plane * OH * OW
            for oy in 0..<OH {
                for ox in 0..<OW {
                    let g = src[oy * OW + ox] * scale
                    for ky in 0..<k { for kx in 0..<k { dst[(oy * k + ky) * W + ox * k + kx] += g } }
                }
            }
        }
    }
}

public func globalAvgPoolForward(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4 && x.h * x.w > 0, "globalAvgPool: input \(x.shape)")
    let (N, C, HW) = (x.n, x.c, x.h * x.w)
    let y = Tensor(shape: [N, C, 1, 1])
    for plane in 0..<(N * C) { y.data[plane] = sumOf(x.data + plane * HW, HW) / Float(HW) }
    return y
}

public func globalAvgPoolBackward(gradOutput dy: Tensor, gradInput dx: Tensor) {
    precondition(dy.count == dx.n * dx.c, "globalAvgPool backward: \(dy.shape) into \(dx.shape)")
    let HW = dx.h * dx.w
    for plane in 0..<(dx.n * dx.c) {
        let g = dy.data[plane] / Float(HW), dst = dx.data + plane * HW
        for i in 0..<HW { dst[i] += g }
    }
}

/// avg_pool2d(x, window, stride 1, padding window / 2, count_include_pad=False) for an odd `window`: each output is
/// the mean of the valid pixels of the window around it. Separable running sums, so the cost per pixel does not grow
/// with the window.
public func boxMeanValidForward(_ x: Tensor, window: Int) -> Tensor {
    precondition(x.rank == 4 && window > 0 && window % 2 == 1, "boxMeanValid: \(x.shape), window \(window)")
    let (h, w, radius) = (x.h, x.w, window / 2)
    let out = Tensor(uninitializedShape: x.shape)
    parallelFor(x.n * x.c, itemCost: 4 * h * w) { planes in
        var prefix = [Float](repeating: 0, count: w + 1)
        var columns = [Float](repeating: 0, count: w)
        let rows = Tensor(uninitializedShape: [h, w])
        for plane in planes {
            let src = x.data + plane * h * w, dst = out.data + plane * h * w, mid = rows.data
            for y in 0..<h {
                let row = src + y * w
                for i in 0..<w { prefix[i + 1] = prefix[i] + row[i] }
                for i in 0..<w {
                    let lo = max(0, i - radius), hi = min(w - 1, i + radius)
                    mid[y * w + i] = (prefix[hi + 1] - prefix[lo]) / Float(hi - lo + 1)
                }
            }
            // The window's rows lo...hi, summed per column; sliding down one row adds one row and drops one.
            for i in 0..<w { columns[i] = 0 }
            for y in 0...min(h - 1, radius) { for i in 0..<w { columns[i] += mid[y * w + i] } }
            for y in 0..<h {
                let lo = max(0, y - radius), hi = min(h - 1, y + radius), scale = 1 / Float(hi - lo + 1)
                for i in 0..<w { dst[y * w + i] = columns[i] * scale }
                if y + radius + 1 < h { for i in 0..<w { columns[i] += mid[(y + radius + 1) * w + i] } }
                if y - radius >= 0 { for i in 0..<w { columns[i] -= mid[(y - radius) * w + i] } }
            }
        }
    }
    return out
}

/// Backward of `boxMeanValidForward` (the input gradient is accumulated into `dx`). The forward is a clipped row
/// mean then a clipped column mean, each output divided by its own window's valid count; window membership is
/// symmetric, so the adjoint divides each output gradient by its counts and then sums it over the same clipped
/// windows.
public func boxMeanValidBackward(window: Int, gradOutput dy: Tensor, gradInput dx: Tensor) {
    precondition(dy.rank == 4 && dy.shape == dx.shape && window > 0 && window % 2 == 1,
                 "boxMeanValid backward: \(dy.shape) into \(dx.shape), window \(window)")
    let (h, w, radius) = (dy.h, dy.w, window / 2)
    func count(_ i: Int, _ size: Int) -> Float { Float(min(size - 1, i + radius) - max(0, i - radius) + 1) }
    let rowScale = (0..<w).map { 1 / count($0, w) }, columnScale = (0..<h).map { 1 / count($0, h) }
    parallelFor(dy.n * dy.c, itemCost: 4 * h * w) { planes in
        var prefix = [Float](repeating: 0, count: w + 1)
        var columns = [Float](repeating: 0, count: w)
        let mid = Tensor(uninitializedShape: [h, w])
        for plane in planes {
            let src = dy.data + plane * h * w, dst = dx.data + plane * h * w, m = mid.data
            // Adjoint of the column mean: each row of dy over its count, summed over the rows whose window holds y.
            for i in 0..<w { columns[i] = 0 }
            for y in 0...min(h - 1, radius) { for i in 0..<w { columns[i] += src[y * w + i] * columnScale[y] } }
            for y in 0..<h {
                for i in 0..<w { m[y * w + i] = columns[i] }
                if y + radius + 1 < h { for i in 0..<w { columns[i] += src[(y + radius + 1) * w + i] * columnScale[y + radius + 1] } }
                if y - radius >= 0 { for i in 0..<w { columns[i] -= src[(y - radius) * w + i] * columnScale[y - radius] } }
            }
            // Adjoint of the row mean, the same along each row.
            for y in 0..<h {
                let row = m + y * w
                for i in 0..<w { prefix[i + 1] = prefix[i] + row[i] * rowScale[i] }
                for i in 0..<w {
                    let lo = max(0, i - radius), hi = min(w - 1, i + radius)
                    dst[y * w + i] += prefix[hi + 1] - prefix[lo]
                }
            }
        }
    }
}
