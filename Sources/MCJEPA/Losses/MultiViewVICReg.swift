import NN

// VICReg with multi-crop (DINO / VICRegL style): two global views of each item and M smaller local views, every
// view's embeddings [B, D] in the same item order. With V = 2 + M views and P = 1 + 2M positive pairs (the two
// global views, and every local view with each global view):
//   invariance  = mean over the P pairs of MSE(pair)
//   variance    = mean over the V views of the variance term of that view's batch
//   covariance  = 2 x mean over the V views of the covariance term of that view's batch
// With M = 0 these are `vicregTerms` exactly (covariance there is the sum over the two views), and so are the
// gradients, bit for bit: the weights 1/P, 1/V and 2/V are then 1, 1/2 and 1, and the sums run in the same order.
// Averaging instead of summing keeps the loss's scale, and so the tuned weights (25/25/1), the same for any M.

/// Multi-view VICReg terms, the gradients of the weighted total with respect to every view's embeddings, and the
/// local views' mean invariance against the global ones (nil without local views), for the log.
public struct MultiViewVICRegTerms {
    public var invariance: Float, variance: Float, covariance: Float
    public var localInvariance: Float?
    public var gradFirst: Tensor, gradSecond: Tensor
    public var gradLocals: [Tensor]
}

public func vicregMultiViewTerms(_ first: Tensor, _ second: Tensor, locals: [Tensor], config: LossConfig)
    -> (terms: MultiViewVICRegTerms, total: Float) {
    precondition(first.shape == second.shape && first.rank == 2, "vicreg: embeddings \(first.shape) and \(second.shape)")
    for local in locals { precondition(local.shape == first.shape, "vicreg: local embeddings \(local.shape), global \(first.shape)") }
    let views = [first, second] + locals
    let grads = views.map { Tensor(shape: $0.shape) }
    let count = first.count
    let pairs = [(0, 1)] + locals.indices.flatMap { [($0 + 2, 0), ($0 + 2, 1)] }
    // Each pair's weight in the total's invariance (1 with M = 0, written so that it is then exactly 1).
    let pairWeight = config.vicregInv / Float(pairs.count)
    var invariance = 0.0, localInvariance = 0.0
    for (a, b) in pairs {
        let za = views[a], zb = views[b], ga = grads[a], gb = grads[b]
        var mse = 0.0
        for i in 0..<count {
            let d = za.data[i] - zb.data[i]
            mse += Double(d) * Double(d)
            let g = pairWeight * 2 * d / Float(count)
            ga.data[i] += g
            gb.data[i] -= g
        }
        invariance += mse / Double(count)
        if a >= 2 { localInvariance += mse / Double(count) }
    }
    // Variance and covariance per view, on that view's batch (feature-major samples).
    let varianceScale = config.vicregVar / Float(views.count), covarianceScale = config.vicregCov * 2 / Float(views.count)
    var variances: Float = 0, covariances: Float = 0
    for (view, grad) in zip(views, grads) {
        let samples = transposed(view)
        let (v, gv) = varianceLoss(samples: samples), (c, gc) = covarianceLoss(samples: samples)
        variances += v; covariances += c
        let g = Tensor(shape: samples.shape)
        accumulate(g, gv, scale: varianceScale); accumulate(g, gc, scale: covarianceScale)
        accumulate(grad, transposed(g))
    }
    let terms = MultiViewVICRegTerms(
        invariance: Float(invariance / Double(pairs.count)), variance: variances / Float(views.count),
        covariance: 2 * covariances / Float(views.count),
        localInvariance: locals.isEmpty ? nil : Float(localInvariance / Double(pairs.count - 1)),
        gradFirst: grads[0], gradSecond: grads[1], gradLocals: Array(grads.dropFirst(2)))
    let total = config.vicregInv * terms.invariance + config.vicregVar * terms.variance + config.vicregCov * terms.covariance
    return (terms, total)
}
