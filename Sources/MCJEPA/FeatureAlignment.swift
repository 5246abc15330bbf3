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
/// b = box(m sum_c [gx r, gy r]) over a `window`-wide window of the valid pixels; flow += clamp(-A^-1 b, +-maxStep). The correction (flow - start) goes back to full
/// size (`upsampleFlow`) and is added to the decoder's flow, so the decoder's motion edges stay.
/// Training does not run it: it has no weights, and the losses see the decoder's flow.
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
        precondition(full.rank == 4 && full.c == 2 && features1.shape == features2.shape
                     && features1.n == full.n && features1.h * 2 == full.h && features1.w * 2 == full.w,
                     "align: flow \(full.shape) and level-1 features \(features1.shape), \(features2.shape)")
        precondition(iterations >= 0, "align: \(iterations) iterations")
        guard iterations > 0 else { return full }
        let start = halfSizeMean(full)
        let flow = start.copy()
        for _ in 0..<iterations { step(flow, features1, features2) }
        accumulate(flow, start, scale: -1)
        return add(full, upsampleFlow(flow, height: full.h, width: full.w))
    }

    /// avg_pool2d(flow, 2) / 2: the flow at level 1, in level-1 pixels.
    static func halfSizeMean(_ full: Tensor) -> Tensor {
        let mean = avgPool2dForward(full, kernel: 2)
        for i in 0..<mean.count { mean.data[i] *= 0.5 }
        return mean
    }

    /// One Gauss-Newton step on `flow` ([N, 2, h, w], level-1 pixels), in place.
    static func step(_ flow: Tensor, _ f1: Tensor, _ f2: Tensor) {
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
                    let (sx, sy) = (Float(x) + u[x], Float(y) + v[x])
                    guard sx >= 0 && sx <= Float(w - 1) && sy >= 0 && sy <= Float(h - 1) else {
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
                let sxx = s[i] + diagonal, syy = s[plane + i] + diagonal, sxy = s[2 * plane + i]
                let bx = s[3 * plane + i], by = s[4 * plane + i]
                let det = sxx * syy - sxy * sxy  // > 0: the damping makes A positive definite
                let du = -(syy * bx - sxy * by) / det
                let dv = -(sxx * by - sxy * bx) / det
                u[i] += min(max(du, -maxStep), maxStep)
                v[i] += min(max(dv, -maxStep), maxStep)
            }
        }
    }
}
