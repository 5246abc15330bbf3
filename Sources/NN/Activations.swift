import Foundation

// Element-wise activations over tensors of any shape: GELU (exact erf form, torch's default) and leaky ReLU.
// Backward: dx += dy * f'(x).

private let invSqrt2 = Float(0.5.squareRoot())

public func geluForward(_ x: Tensor) -> Tensor {
    let y = Tensor(uninitializedShape: x.shape)
    let xp = x.data, yp = y.data
    parallelFor(x.count, itemCost: 4) { range in
        for i in range { let v = xp[i]; yp[i] = 0.5 * v * (1 + fastErf(v * invSqrt2)) }
    }
    return y
}

/// d/dx [x * Phi(x)] = Phi(x) + x * phi(x), Phi the standard normal CDF and phi its density.
public func geluBackward(input x: Tensor, gradOutput dy: Tensor, gradInput dx: Tensor) {
    checkShape(dy, x.shape, "gelu gradOutput")
    checkShape(dx, x.shape, "gelu gradInput")
    let xp = x.data, dyp = dy.data, dxp = dx.data
    let invSqrt2Pi = Float(1 / (2 * Double.pi).squareRoot())
    parallelFor(x.count, itemCost: 4) { range in
        for i in range {
            let v = xp[i]
            let cdf = 0.5 * (1 + fastErf(v * invSqrt2))
            let pdf = invSqrt2Pi * fastExp(-0.5 * v * v)
            dxp[i] += dyp[i] * (cdf + v * pdf)
        }
    }
}

public func leakyReLUForward(_ x: Tensor, slope: Float = 0.01) -> Tensor {
    let y = Tensor(uninitializedShape: x.shape)
    let xp = x.data, yp = y.data
    parallelFor(x.count, itemCost: 2) { range in
        for i in range { let v = xp[i]; yp[i] = v > 0 ? v : v * slope }
    }
    return y
}

/// Gradient 1 for x > 0, slope otherwise (torch uses the slope at exactly 0 too).
public func leakyReLUBackward(input x: Tensor, slope: Float = 0.01, gradOutput dy: Tensor, gradInput dx: Tensor) {
    checkShape(dy, x.shape, "leakyReLU gradOutput")
    checkShape(dx, x.shape, "leakyReLU gradInput")
    let xp = x.data, dyp = dy.data, dxp = dx.data
    parallelFor(x.count, itemCost: 2) { range in
        for i in range { dxp[i] += xp[i] > 0 ? dyp[i] : dyp[i] * slope }
    }
}
