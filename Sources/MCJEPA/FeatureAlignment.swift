import NN

/// The last step of the network's flow at inference: a parameter-free Gauss-Newton (Lucas-Kanade) correction of the
/// decoder's full-size flow on the encoder's level-1 features (stride 2). Mirrors Reference/mcjepa/alignment.py.
///
/// Why: the decoder stops at 1/8, where the features are aliased: warping frame 2's level-3 features by the exact
/// motion of a sub-cell translation still leaves 11-20% of their norm as residual, so the decoder regresses sub-cell
/// motion with 0.6-1.5 px of noise even on a translated photo. Level 1 is four times finer, and a least-squares step
/// on its features over a window removes much of that noise with nothing to train.
///
/// Each iteration, at level 1 (the full-size flow averaged over 2x2 blocks, in level-1 pixels):
/// r = warp(f2, flow) - f1; gx, gy the central differences of warp(f2, flow) (0 on the border); m = 1 where p + flow(p)
/// falls inside frame 2's grid, else 0; A = box(m sum_c [gx gx, gx gy; gx gy, gy gy]) + damping C I,
/// b = box(m sum_c [gx r, gy r]) over a `window`-wide window of the valid pixels; flow += clamp(-A^-1 b, +-maxStep).
/// The correction (flow - start) goes back to full size (`upsampleFlow`) and is added to the decoder's flow, so the
/// decoder's motion edges stay.
/// Training runs it only with `TrainerOptions.trainThroughAlignment` (`backward` is its exact gradient).
public enum FeatureAlignment {
    /// The encoder level whose features it aligns (stride 2).
    public static let level = 1
    /// Window width in level-1 pixels (22 input pixels): enough texture for a well-posed 2x2 system.
    public static let window = 11
    /// Per channel, in squared feature units (the level-1 features are layer-normalised).
    public static let damping: Float = 1e-2
    /// Largest step per iteration, in level-1 pixels: a Gauss-Newton step is trusted only near its linearisation.
    public static let maxStep: Float = 1
    /// What `FlowEstimator` runs unless told otherwise.
    public static let defaultIterations = 3
    /// What a command accepts for `--alignment-iterations`.
    public static let iterationRange = 0...16

    /// `full`: [N, 2, H, W] flow in input pixels; `features1`, `features2`: the frames' level-1 features
    /// [N, C, H/2, W/2]. Returns `full` itself when `iterations` is 0.
    public static func align(_ full: Tensor, features1: Tensor, features2: Tensor, iterations: Int) -> Tensor {
        align(full, features1: features1, features2: features2, iterations: iterations, recording: false).aligned
    }

    /// What `backward` needs from a forward pass: the inputs and, per iteration, the level-1 flow it started from,
    /// frame 2's warped features and the box-averaged sums of its 2x2 system.
    public struct Record {
        let full: Tensor, features1: Tensor, features2: Tensor
        var flows: [Tensor] = [], warped: [Tensor] = [], boxed: [Tensor] = []
    }

    /// `align`, keeping what `backward` needs when `recording` (nil otherwise: inference keeps nothing).
    public static func align(_ full: Tensor, features1: Tensor, features2: Tensor, iterations: Int,
                             recording: Bool) -> (aligned: Tensor, record: Record?) {
        precondition(full.rank == 4 && full.c == 2 && features1.shape == features2.shape
                     && features1.n == full.n && features1.h * 2 == full.h && features1.w * 2 == full.w,
                     "align: flow \(full.shape) and level-1 features \(features1.shape), \(features2.shape)")
        precondition(iterations >= 0, "align: \(iterations) iterations")
        var record = recording ? Record(full: full, features1: features1, features2: features2) : nil
        guard iterations > 0 else { return (full, record) }
        let start = halfSizeMean(full)
        let flow = start.copy()
        for _ in 0..<iterations {
            if recording { record!.flows.append(flow.copy()) }
            let (warped, boxed) = step(flow, features1, features2)
            if recording { record!.warped.append(warped); record!.boxed.append(boxed) }
        }
        accumulate(flow, start, scale: -1)
        return (add(full, upsampleFlow(flow, height: full.h, width: full.w)), record)
    }

    /// The exact gradient of a recorded `align` with respect to its full-size flow and both feature maps, given
    /// `gradOutput` (d loss / d aligned flow). Through every iteration: the step's clamp passes no gradient where it
    /// clamped, and the in-frame mask, being piecewise constant, none at all.
    public static func backward(_ record: Record, gradOutput: Tensor)
        -> (gradFlow: Tensor, gradFeatures1: Tensor, gradFeatures2: Tensor) {
        let full = record.full
        precondition(gradOutput.shape == full.shape, "align backward: gradient \(gradOutput.shape) for flow \(full.shape)")
        let gradFlow = gradOutput.copy()
        let gradF1 = Tensor(shape: record.features1.shape), gradF2 = Tensor(shape: record.features2.shape)
        guard let first = record.flows.first else { return (gradFlow, gradF1, gradF2) }
        // aligned = full + upsample(flow_K - start), flow_0 = start = avg_pool2d(full, 2) / 2.
        let gradLevel = Tensor(shape: first.shape)
        upsampleFlowBackward(gradOutput: gradOutput, into: gradLevel)
        let gradStart = Tensor(shape: first.shape)
        accumulate(gradStart, gradLevel, scale: -1)
        for k in stride(from: record.flows.count - 1, through: 0, by: -1) {
            // flow_{k+1} = flow_k + clamp(step(flow_k)): gradLevel is d/d flow_{k+1} and becomes d/d flow_k.
            stepBackward(flow: record.flows[k], warped: record.warped[k], boxed: record.boxed[k],
                         f1: record.features1, f2: record.features2, gradNext: gradLevel,
                         gradF1: gradF1, gradF2: gradF2)
        }
        accumulate(gradStart, gradLevel)
        scaleInPlace(gradStart, 0.5)
        avgPool2dBackward(kernel: 2, gradOutput: gradStart, gradInput: gradFlow)
        return (gradFlow, gradF1, gradF2)
    }

    /// avg_pool2d(flow, 2) / 2: the flow at level 1, in level-1 pixels.
    static func halfSizeMean(_ full: Tensor) -> Tensor {
        let mean = avgPool2dForward(full, kernel: 2)
        scaleInPlace(mean, 0.5)
        return mean
    }

    /// Whether level-1 pixel (x, y) moved by (u, v) samples inside the [0, width-1] x [0, height-1] grid.
    @inline(__always)
    static func samplesInside(x: Int, y: Int, u: Float, v: Float, width: Int, height: Int) -> Bool {
        let (sx, sy) = (Float(x) + u, Float(y) + v)
        return sx >= 0 && sx <= Float(width - 1) && sy >= 0 && sy <= Float(height - 1)
    }

    /// The unclamped step -A^-1 b of one pixel from its box-averaged sums (`sums[k * plane]`: gx gx, gy gy, gx gy,
    /// gx r, gy r), with A's damped entries and determinant, which the backward needs too.
    @inline(__always)
    static func solve(_ sums: UnsafeMutablePointer<Float>, plane: Int, diagonal: Float)
        -> (step: (du: Float, dv: Float), sxx: Float, syy: Float, sxy: Float, det: Float) {
        let sxx = sums[0] + diagonal, syy = sums[plane] + diagonal, sxy = sums[2 * plane]
        let bx = sums[3 * plane], by = sums[4 * plane]
        let det = sxx * syy - sxy * sxy  // > 0: the damping makes A positive definite
        return ((-(syy * bx - sxy * by) / det, -(sxx * by - sxy * bx) / det), sxx, syy, sxy, det)
    }

    /// One Gauss-Newton step on `flow` ([N, 2, h, w], level-1 pixels), in place. Returns frame 2's warped features
    /// and the box-averaged sums [N, 5, h, w] (gx gx, gy gy, gx gy, gx r, gy r, without the damping).
    @discardableResult
    static func step(_ flow: Tensor, _ f1: Tensor, _ f2: Tensor) -> (warped: Tensor, boxed: Tensor) {
        let warped = backwardWarp(f2, flow)
        let (n, c, h, w) = (f1.n, f1.c, f1.h, f1.w)
        let plane = h * w
        // The five per-pixel sums over channels: gx gx, gy gy, gx gy, gx r, gy r; each row of each item is one task.
        let sums = Tensor(shape: [n, 5, h, w])
        parallelFor(n * h, itemCost: 12 * c * w) { rows in
            for task in rows {
                let (item, y) = (task / h, task % h)
                let s = sums.data + item * 5 * plane + y * w
                let f = warped.data + item * c * plane + y * w, a = f1.data + item * c * plane + y * w
                let hasRows = y > 0 && y < h - 1
                let u = flow.data + item * 2 * plane + y * w, v = u + plane
                for x in 0..<w {
                    // Where the sample falls outside frame 2's grid the warp read zeros, not features: no say.
                    guard samplesInside(x: x, y: y, u: u[x], v: v[x], width: w, height: h) else {
                        for k in 0..<5 { s[k * plane + x] = 0 }
                        continue
                    }
                    // Channels innermost with the five sums in registers: one store each per pixel.
                    var (sxx, syy, sxy, sxr, syr): (Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0)
                    let hasColumns = x > 0 && x < w - 1
                    for ch in 0..<c {
                        let p = f + ch * plane + x
                        let gx: Float = hasColumns ? 0.5 * (p[1] - p[-1]) : 0
                        let gy: Float = hasRows ? 0.5 * (p[w] - p[-w]) : 0
                        let r = p[0] - a[ch * plane + x]
                        sxx += gx * gx; syy += gy * gy; sxy += gx * gy; sxr += gx * r; syr += gy * r
                    }
                    s[x] = sxx; s[plane + x] = syy; s[2 * plane + x] = sxy; s[3 * plane + x] = sxr; s[4 * plane + x] = syr
                }
            }
        }
        let boxed = boxMeanValidForward(sums, window: window)
        let diagonal = damping * Float(c)
        for item in 0..<n {
            let s = boxed.data + item * 5 * plane, u = flow.data + item * 2 * plane, v = u + plane
            for i in 0..<plane {
                let (du, dv) = solve(s + i, plane: plane, diagonal: diagonal).step
                u[i] += min(max(du, -maxStep), maxStep)
                v[i] += min(max(dv, -maxStep), maxStep)
            }
        }
        return (warped, boxed)
    }

    /// Backward of one `step` from `flow` (its value before the step): `gradNext` (d/d flow after the step) becomes
    /// d/d flow before it, in place; the features' gradients accumulate into `gradF1` and `gradF2`.
    static func stepBackward(flow: Tensor, warped: Tensor, boxed: Tensor, f1: Tensor, f2: Tensor, gradNext: Tensor,
                             gradF1: Tensor, gradF2: Tensor) {
        let (n, c, h, w) = (f1.n, f1.c, f1.h, f1.w)
        let plane = h * w
        let diagonal = damping * Float(c)
        // d = -A^-1 b with A symmetric: d/db = -A^-1 g (call it e), d/dA = e d^T, its off-diagonal entries shared.
        let gradBoxed = Tensor(shape: boxed.shape)
        for item in 0..<n {
            let s = boxed.data + item * 5 * plane, g = gradBoxed.data + item * 5 * plane
            let gu = gradNext.data + item * 2 * plane, gv = gu + plane
            for i in 0..<plane {
                let ((du, dv), sxx, syy, sxy, det) = solve(s + i, plane: plane, diagonal: diagonal)
                // torch's clamp passes the gradient within [-maxStep, maxStep], bounds included.
                let pu: Float = abs(du) <= maxStep ? gu[i] : 0, pv: Float = abs(dv) <= maxStep ? gv[i] : 0
                let eu = -(syy * pu - sxy * pv) / det, ev = -(sxx * pv - sxy * pu) / det
                g[i] = eu * du; g[plane + i] = ev * dv; g[2 * plane + i] = eu * dv + ev * du
                g[3 * plane + i] = eu; g[4 * plane + i] = ev
            }
        }
        let gradSums = Tensor(shape: boxed.shape)
        boxMeanValidBackward(window: window, gradOutput: gradBoxed, gradInput: gradSums)
        // Per pixel and channel: d/d gx, d/d gy (of the central differences) and d/d r, zero where the mask is.
        let gradGx = Tensor(shape: f1.shape), gradGy = Tensor(shape: f1.shape)
        let gradWarped = Tensor(shape: f1.shape)
        parallelFor(n * h, itemCost: 12 * c * w) { rows in
            for task in rows {
                let (item, y) = (task / h, task % h)
                let s = gradSums.data + item * 5 * plane + y * w
                let offset = item * c * plane + y * w
                let f = warped.data + offset, a = f1.data + offset
                let dgx = gradGx.data + offset, dgy = gradGy.data + offset, dw = gradWarped.data + offset
                let da = gradF1.data + offset
                let hasRows = y > 0 && y < h - 1
                let u = flow.data + item * 2 * plane + y * w, v = u + plane
                for x in 0..<w {
                    guard samplesInside(x: x, y: y, u: u[x], v: v[x], width: w, height: h) else { continue }
                    let (gxx, gyy, gxy, gxr, gyr) = (s[x], s[plane + x], s[2 * plane + x], s[3 * plane + x], s[4 * plane + x])
                    let hasColumns = x > 0 && x < w - 1
                    for ch in 0..<c {
                        let p = f + ch * plane + x, i = ch * plane + x
                        let gx: Float = hasColumns ? 0.5 * (p[1] - p[-1]) : 0
                        let gy: Float = hasRows ? 0.5 * (p[w] - p[-w]) : 0
                        let r = p[0] - a[i]
                        // Border columns (rows) have gx (gy) = 0 whatever the features: no gradient through them.
                        if hasColumns { dgx[i] = 2 * gxx * gx + gxy * gy + gxr * r }
                        if hasRows { dgy[i] = 2 * gyy * gy + gxy * gx + gyr * r }
                        let dr = gxr * gx + gyr * gy
                        dw[i] = dr
                        da[i] -= dr
                    }
                }
            }
        }
        // The central differences' adjoint, gathered per pixel so that each row task writes only its own row.
        parallelFor(n * h, itemCost: 6 * c * w) { rows in
            for task in rows {
                let (item, y) = (task / h, task % h)
                for ch in 0..<c {
                    let offset = (item * c + ch) * plane + y * w
                    let dgx = gradGx.data + offset, dgy = gradGy.data + offset, dw = gradWarped.data + offset
                    for x in 0..<w {
                        var total: Float = 0
                        if x > 0 { total += 0.5 * dgx[x - 1] }
                        if x < w - 1 { total -= 0.5 * dgx[x + 1] }
                        if y > 0 { total += 0.5 * dgy[x - w] }
                        if y < h - 1 { total -= 0.5 * dgy[x + w] }
                        dw[x] += total
                    }
                }
            }
        }
        backwardWarpBackward(image: f2, flow: flow, gradOutput: gradWarped, gradImage: gradF2, gradFlow: gradNext)
    }
}
