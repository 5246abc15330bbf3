import NN

// VICReg's variance and covariance regularisers on samples stored feature-major: `samples` is [D, M], row d
// holding feature d of all M samples (the natural layout of NCHW feature maps, where each channel plane is a
// row of pixels). The reference (losses.py) works on [M, D]; the maths is the same.

let stdEpsilon: Double = 1e-4

/// mean_d relu(1 - sqrt(var_d + 1e-4)), unbiased variance (M - 1). Returns dL/dsamples.
public func varianceLoss(samples x: Tensor) -> (value: Float, grad: Tensor) {
    let (D, M) = (x.shape[0], x.shape[1])
    precondition(M >= 2, "variance loss needs at least two samples, got \(M)")
    let grad = Tensor(shape: x.shape)
    var value = 0.0
    for d in 0..<D {
        let row = x.data + d * M, g = grad.data + d * M
        var mean = 0.0
        for i in 0..<M { mean += Double(row[i]) }
        mean /= Double(M)
        var ss = 0.0
        for i in 0..<M { let c = Double(row[i]) - mean; ss += c * c }
        let std = (ss / Double(M - 1) + stdEpsilon).squareRoot()
        guard 1 - std > 0 else { continue }
        value += 1 - std
        // d/dx_i of -std / D = -(x_i - mean) / ((M - 1) std D)
        let k = -1 / (Double(M - 1) * std * Double(D))
        for i in 0..<M { g[i] = Float(k * (Double(row[i]) - mean)) }
    }
    return (Float(value / Double(D)), grad)
}

/// Sum of squared off-diagonal entries of the unbiased covariance matrix, divided by D. Returns dL/dsamples.
public func covarianceLoss(samples x: Tensor) -> (value: Float, grad: Tensor) {
    let (D, M) = (x.shape[0], x.shape[1])
    precondition(M >= 2, "covariance loss needs at least two samples, got \(M)")
    let centered = x.copy()
    for d in 0..<D {
        let row = centered.data + d * M
        var mean = 0.0
        for i in 0..<M { mean += Double(row[i]) }
        let m = Float(mean / Double(M))
        for i in 0..<M { row[i] -= m }
    }
    let cov = matmulForward(centered, centered, transposeB: true)  // [D, D], still to divide by M - 1
    let norm = Float(M - 1)
    var value = 0.0
    let dCov = Tensor(shape: [D, D])
    for i in 0..<D {
        for j in 0..<D where i != j {
            let c = cov.data[i * D + j] / norm
            value += Double(c) * Double(c)
            // dL/dcov_ij = 2 cov_ij / D; cov = X X^T / (M - 1) gives dX = (G + G^T) X / (M - 1) = 2 G X / (M - 1).
            dCov.data[i * D + j] = 2 * (2 * c / Float(D)) / norm
        }
    }
    let grad = matmulForward(dCov, centered)
    // Centering's backward subtracts each row's mean gradient (zero up to rounding, as rows of X are centred).
    for d in 0..<D {
        let row = grad.data + d * M
        var mean = 0.0
        for i in 0..<M { mean += Double(row[i]) }
        let m = Float(mean / Double(M))
        for i in 0..<M { row[i] -= m }
    }
    return (Float(value / Double(D)), grad)
}

/// Every pixel of every image of every map is one sample: maps [N,C,H,W] (same C) -> [C, sum N*H*W].
func pixelsAsSamples(_ maps: [Tensor]) -> Tensor {
    let C = maps[0].c
    let M = maps.reduce(0) { $0 + $1.n * $1.h * $1.w }
    let out = Tensor(shape: [C, M])
    var offset = 0
    for map in maps {
        let plane = map.h * map.w
        for n in 0..<map.n {
            for c in 0..<C { (out.data + c * M + offset).update(from: map.data + (n * C + c) * plane, count: plane) }
            offset += plane
        }
    }
    return out
}

/// The adjoint of `pixelsAsSamples`: splits [C, M] gradients back into NCHW maps shaped like `like`.
func samplesAsPixels(_ grad: Tensor, like maps: [Tensor]) -> [Tensor] {
    let C = grad.shape[0], M = grad.shape[1]
    var offset = 0
    return maps.map { map in
        let out = Tensor(shape: map.shape), plane = map.h * map.w
        for n in 0..<map.n {
            for c in 0..<C { (out.data + (n * C + c) * plane).update(from: grad.data + c * M + offset, count: plane) }
            offset += plane
        }
        return out
    }
}

/// [B, D] rows -> [D, B] (feature-major samples).
func transposed(_ x: Tensor) -> Tensor {
    let (B, D) = (x.shape[0], x.shape[1])
    let out = Tensor(shape: [D, B])
    for b in 0..<B { for d in 0..<D { out.data[d * B + b] = x.data[b * D + d] } }
    return out
}

/// VICReg on two views' embeddings [B, D]: invariance (MSE), variance (mean of the two views), covariance (sum).
public struct VICRegTerms {
    public var invariance: Float, variance: Float, covariance: Float
    public var gradA: Tensor, gradB: Tensor
}

/// VICReg's variance (mean of the two views') and covariance (sum) terms of two views' embeddings [B, D], with the
/// gradients of their weighted share of the total (vicregVar x variance + vicregCov x covariance) added to `gradA` and
/// `gradB` ([B, D]).
func twoViewVarianceCovariance(_ za: Tensor, _ zb: Tensor, config: LossConfig, gradA: Tensor,
                               gradB: Tensor) -> (variance: Float, covariance: Float) {
    let ta = transposed(za), tb = transposed(zb)
    let (va, gva) = varianceLoss(samples: ta), (vb, gvb) = varianceLoss(samples: tb)
    let (ca, gca) = covarianceLoss(samples: ta), (cb, gcb) = covarianceLoss(samples: tb)
    // Gradients of the weighted total, back in [B, D] layout.
    let ga = Tensor(shape: ta.shape), gb = Tensor(shape: tb.shape)
    accumulate(ga, gva, scale: config.vicregVar / 2); accumulate(ga, gca, scale: config.vicregCov)
    accumulate(gb, gvb, scale: config.vicregVar / 2); accumulate(gb, gcb, scale: config.vicregCov)
    accumulate(gradA, transposed(ga)); accumulate(gradB, transposed(gb))
    return ((va + vb) / 2, ca + cb)
}

public func vicregTerms(_ za: Tensor, _ zb: Tensor, config: LossConfig) -> (terms: VICRegTerms, total: Float) {
    precondition(za.shape == zb.shape && za.rank == 2, "vicreg: embeddings \(za.shape) and \(zb.shape)")
    let count = za.count
    var mse = 0.0
    let gradA = Tensor(shape: za.shape), gradB = Tensor(shape: zb.shape)
    for i in 0..<count {
        let d = za.data[i] - zb.data[i]
        mse += Double(d) * Double(d)
        let g = config.vicregInv * 2 * d / Float(count)
        gradA.data[i] = g
        gradB.data[i] = -g
    }
    let (variance, covariance) = twoViewVarianceCovariance(za, zb, config: config, gradA: gradA, gradB: gradB)
    let terms = VICRegTerms(invariance: Float(mse / Double(count)), variance: variance, covariance: covariance,
                            gradA: gradA, gradB: gradB)
    let total = config.vicregInv * terms.invariance + config.vicregVar * terms.variance + config.vicregCov * terms.covariance
    return (terms, total)
}
