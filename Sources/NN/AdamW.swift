import Foundation

// AdamW (Loshchilov & Hutter), with torch.optim.AdamW semantics and defaults:
//   p -= lr * weightDecay * p                      (decoupled decay, applied before the Adam step)
//   m = beta1 m + (1 - beta1) g ; v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// and a learning-rate schedule with linear warm-up followed by a cosine decay.

public final class AdamW {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public private(set) var step = 0
    /// First and second moments, one pair per parameter tensor, in the order the parameters were given.
    public private(set) var firstMoments: [Tensor]
    public private(set) var secondMoments: [Tensor]

    public init(parameterShapes: [[Int]], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 1e-2) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        firstMoments = parameterShapes.map { Tensor(shape: $0) }
        secondMoments = parameterShapes.map { Tensor(shape: $0) }
    }

    /// Restores a saved optimizer state (for resumable training).
    public func restore(step: Int, firstMoments: [Tensor], secondMoments: [Tensor]) {
        precondition(firstMoments.map(\.shape) == self.firstMoments.map(\.shape)
                     && secondMoments.map(\.shape) == self.secondMoments.map(\.shape), "AdamW restore: shapes differ")
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// One update of every parameter from its gradient. `decay[i] == false` exempts a tensor from weight decay.
    /// `learningRateScales[i]`, when given, multiplies the learning rate (step and decay) element by element for
    /// tensor i: new weights in a warm-started network can learn faster than the ones carried over.
    /// `updating[i] == false` leaves tensor i and its moments exactly as they are (a frozen parameter: no step, no
    /// decay); its gradient is not read.
    public func update(parameters: [Tensor], gradients: [Tensor], decay: [Bool]? = nil, learningRateScales: [Tensor?]? = nil,
                       updating: [Bool]? = nil) {
        precondition(parameters.count == firstMoments.count && gradients.count == parameters.count,
                     "AdamW: \(parameters.count) parameters, \(gradients.count) gradients, \(firstMoments.count) states")
        step += 1
        let lr = learningRate, b1 = beta1, b2 = beta2, epsilon = eps
        let correction1 = 1 - Float(pow(Double(b1), Double(step)))
        let correction2Root = Float((1 - pow(Double(b2), Double(step))).squareRoot())
        let stepSize = lr / correction1
        for index in parameters.indices where updating?[index] ?? true {
            let p = parameters[index], g = gradients[index], m = firstMoments[index], v = secondMoments[index]
            precondition(p.shape == g.shape && p.shape == m.shape, "AdamW: parameter \(index) shape \(p.shape), gradient \(g.shape)")
            let decayRate = (decay?[index] ?? true) ? weightDecay : 0
            let shrink = 1 - lr * decayRate
            let pp = p.data, gp = g.data, mp = m.data, vp = v.data
            let scales = learningRateScales?[index]
            precondition(scales == nil || scales!.shape == p.shape, "AdamW: learning-rate scales of parameter \(index) have shape \(scales!.shape)")
            parallelFor(p.count, itemCost: 2) { range in
                for i in range {
                    let grad = gp[i]
                    mp[i] = b1 * mp[i] + (1 - b1) * grad
                    vp[i] = b2 * vp[i] + (1 - b2) * grad * grad
                    let denominator = vp[i].squareRoot() / correction2Root + epsilon
                    if let scales {
                        let k = scales.data[i]
                        pp[i] = pp[i] * (1 - lr * k * decayRate) - k * stepSize * mp[i] / denominator
                    } else {
                        pp[i] = pp[i] * shrink - stepSize * mp[i] / denominator
                    }
                }
            }
        }
    }
}

/// Learning rate at `step` (0-based): linear warm-up from baseLR/warmupSteps to baseLR over warmupSteps steps,
/// then a half cosine from baseLR down to minLR at totalSteps (and minLR after it).
public func cosineLearningRate(step: Int, baseLR: Float, warmupSteps: Int, totalSteps: Int, minLR: Float = 0) -> Float {
    if step < warmupSteps { return baseLR * Float(step + 1) / Float(warmupSteps) }
    let decaySteps = max(1, totalSteps - warmupSteps)
    let progress = min(1, Float(step - warmupSteps) / Float(decaySteps))
    return minLR + 0.5 * (baseLR - minLR) * (1 + cos(Float.pi * progress))
}
