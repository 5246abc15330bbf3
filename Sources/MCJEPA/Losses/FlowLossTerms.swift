import Foundation
import NN

// The unsupervised flow losses of Reference/mcjepa/losses.py, each a forward that returns its value and the
// gradients of that value with respect to the inputs that carry gradients in the reference.
// Conventions: images RGB in [0, 1], flows [N,2,H,W] in pixels (channel 0 = u), masks [N,1,H,W] with
// 1 = visible. Sums are accumulated in Double so that the values match PyTorch's to float32 rounding.

let maskEpsilon: Double = 1e-6

/// torch's d|x|/dx: sign(x), 0 at 0.
@inline(__always) func signOf(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }

/// Forward-backward consistency (UnFlow): 1 where |f + b'|^2 < alpha1 (|f|^2 + |b'|^2) + alpha2 with
/// b' = backwardWarp(bw, fw). Also returns the smallest distance of any pixel to the threshold (how close the
/// nearest pixel is to flipping). No gradient flows through the mask.
public func occlusionMask(forward fw: Tensor, backward bw: Tensor, alpha1: Float, alpha2: Float) -> (mask: Tensor, margin: Float) {
    let warped = backwardWarp(bw, fw)
    let (N, H, W) = (fw.n, fw.h, fw.w), plane = H * W
    let mask = Tensor(shape: [N, 1, H, W])
    var margin = Float.infinity
    for n in 0..<N {
        let u = fw.data + n * 2 * plane, v = u + plane, bu = warped.data + n * 2 * plane, bv = bu + plane
        for i in 0..<plane {
            let du = u[i] + bu[i], dv = v[i] + bv[i]
            let diff = du * du + dv * dv
            let bound = alpha1 * ((u[i] * u[i] + v[i] * v[i]) + (bu[i] * bu[i] + bv[i] * bv[i])) + alpha2
            mask.data[n * plane + i] = diff < bound ? 1 : 0
            margin = min(margin, abs(diff - bound))
        }
    }
    return (mask, margin)
}

/// ARFlow's photometric loss on interior pixels: per pixel l1Weight * mean_c |t - r| + ssimWeight * mean_c
/// (1 - SSIM) / 2 (3x3 windows), masked mean with the mask's interior. Returns dL/dreconstruction (the target is
/// an input image, it needs none).
public func photometricLoss(target: Tensor, reconstruction: Tensor, mask: Tensor, l1Weight: Float, ssimWeight: Float)
    -> (value: Float, gradReconstruction: Tensor) {
    let (N, C, H, W) = (target.n, target.c, target.h, target.w), plane = H * W
    let ssim = validSSIMLossMap(target, reconstruction)  // [N,C,H-2,W-2]: pixel (y, x) at (y-1, x-1)
    let (vh, vw) = (H - 2, W - 2)
    var weighted = 0.0, maskSum = 0.0
    for n in 0..<N {
        for y in 1..<(H - 1) {
            for x in 1..<(W - 1) {
                let m = mask.data[n * plane + y * W + x]
                maskSum += Double(m)
                guard m != 0 else { continue }
                var l1: Float = 0, s: Float = 0
                for c in 0..<C {
                    let i = (n * C + c) * plane + y * W + x
                    l1 += abs(target.data[i] - reconstruction.data[i])
                    s += ssim.data[((n * C + c) * vh + y - 1) * vw + x - 1]
                }
                weighted += Double(m * (l1Weight * (l1 / Float(C)) + ssimWeight * (s / Float(C))))
            }
        }
    }
    let denominator = maskSum + maskEpsilon
    let grad = Tensor(shape: reconstruction.shape), gradSSIM = Tensor(shape: ssim.shape)
    for n in 0..<N {
        for y in 1..<(H - 1) {
            for x in 1..<(W - 1) {
                let m = mask.data[n * plane + y * W + x]
                guard m != 0 else { continue }
                let d = Float(Double(m) / denominator) / Float(C)
                for c in 0..<C {
                    let i = (n * C + c) * plane + y * W + x
                    grad.data[i] = l1Weight * d * signOf(reconstruction.data[i] - target.data[i])
                    gradSSIM.data[((n * C + c) * vh + y - 1) * vw + x - 1] = ssimWeight * d
                }
            }
        }
    }
    validSSIMLossMapBackward(target, reconstruction, gradOutput: gradSSIM, gradY: grad)
    return (Float(weighted / denominator), grad)
}

/// Masked mean over pixels of mean_c (target - warped)^2; gradients for both sides.
public func featureRegressionLoss(target: Tensor, warped: Tensor, mask: Tensor)
    -> (value: Float, gradTarget: Tensor, gradWarped: Tensor) {
    let (N, C, H, W) = (target.n, target.c, target.h, target.w), plane = H * W
    var total = 0.0, maskSum = 0.0
    for n in 0..<N {
        for p in 0..<plane {
            let m = mask.data[n * plane + p]
            maskSum += Double(m)
            guard m != 0 else { continue }
            var s: Float = 0
            for c in 0..<C {
                let d = target.data[(n * C + c) * plane + p] - warped.data[(n * C + c) * plane + p]
                s += d * d
            }
            total += Double(m * s / Float(C))
        }
    }
    let denominator = maskSum + maskEpsilon
    let gradTarget = Tensor(shape: target.shape), gradWarped = Tensor(shape: warped.shape)
    for n in 0..<N {
        for p in 0..<plane {
            let m = mask.data[n * plane + p]
            guard m != 0 else { continue }
            let k = 2 * Float(Double(m) / denominator) / Float(C)
            for c in 0..<C {
                let i = (n * C + c) * plane + p
                let g = k * (target.data[i] - warped.data[i])
                gradTarget.data[i] = g
                gradWarped.data[i] = -g
            }
        }
    }
    return (Float(total / denominator), gradTarget, gradWarped)
}

/// Edge-aware second-order smoothness (ARFlow's smooth_grad_2nd); `image` at the flow's resolution.
/// wx = exp(-edge * mean_c |I[x+1] - I[x]|), d2x = F[x+2] - 2 F[x+1] + F[x];
/// loss = mean(wx[x+1] |d2x|) / 2 + mean(wy[y+1] |d2y|) / 2. Returns dL/dflow.
public func smoothnessLoss(flow: Tensor, image: Tensor, edge: Float) -> (value: Float, gradFlow: Tensor) {
    let (N, H, W, C) = (flow.n, flow.h, flow.w, image.c), plane = H * W
    precondition(image.n == N && image.h == H && image.w == W, "smoothness: image \(image.shape) vs flow \(flow.shape)")
    let grad = Tensor(shape: flow.shape)
    // One pass per axis: (step between neighbours, count of second differences along rows/columns).
    var value = 0.0
    for axis in 0..<2 {
        let stride = axis == 0 ? 1 : W
        let (rows, cols) = axis == 0 ? (H, W - 2) : (H - 2, W)
        guard rows > 0 && cols > 0 else { continue }
        let count = Double(N * 2 * rows * cols)
        var sum = 0.0
        let scale = Float(0.5 / count)
        for n in 0..<N {
            for y in 0..<rows {
                for x in 0..<cols {
                    let p = y * W + x
                    // Edge weight between pixels p + stride and p + 2 stride (wx[..., 1:]).
                    var edgeSum: Float = 0
                    for c in 0..<C {
                        let img = image.data + (n * C + c) * plane
                        edgeSum += abs(img[p + 2 * stride] - img[p + stride])
                    }
                    let weight = Float(exp(Double(-edge * (edgeSum / Float(C)))))
                    for c in 0..<2 {
                        let f = flow.data + (n * 2 + c) * plane, g = grad.data + (n * 2 + c) * plane
                        let d2 = f[p + 2 * stride] - 2 * f[p + stride] + f[p]
                        sum += Double(weight * abs(d2))
                        let s = scale * weight * signOf(d2)
                        g[p + 2 * stride] += s
                        g[p + stride] -= 2 * s
                        g[p] += s
                    }
                }
            }
        }
        value += sum / count / 2
    }
    return (Float(value), grad)
}

/// Forward-backward cycle consistency: mean over all pixels of mask * mean_uv |fw + backwardWarp(bw, fw)|,
/// divided by the pixel count (not by sum(mask)). Gradients for both flows.
public func cycleLoss(forward fw: Tensor, backward bw: Tensor, mask: Tensor) -> (value: Float, gradForward: Tensor, gradBackward: Tensor) {
    let warped = backwardWarp(bw, fw)
    let (N, H, W) = (fw.n, fw.h, fw.w), plane = H * W
    let count = Double(N * plane)
    let dResidual = Tensor(shape: fw.shape)
    var sum = 0.0
    for n in 0..<N {
        for p in 0..<plane {
            let m = mask.data[n * plane + p]
            guard m != 0 else { continue }
            var s: Float = 0
            for c in 0..<2 {
                let i = (n * 2 + c) * plane + p
                let r = fw.data[i] + warped.data[i]
                s += abs(r)
                dResidual.data[i] = Float(Double(m) / count) / 2 * signOf(r)
            }
            sum += Double(m * s / 2)
        }
    }
    let gradForward = dResidual.copy(), gradBackward = Tensor(shape: bw.shape)
    backwardWarpBackward(image: bw, flow: fw, gradOutput: dResidual, gradImage: gradBackward, gradFlow: gradForward)
    return (Float(sum / count), gradForward, gradBackward)
}
