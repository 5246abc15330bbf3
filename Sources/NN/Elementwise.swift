// Element-wise operations and reductions the losses need, over tensors of any shape (same-shape operands).
// Forward functions return new tensors; backward helpers accumulate (+=) like every backward in this module.
// add, subtract and scale need no helper of their own: their backward is `accumulate(grad, g, scale: +-1 or s)`.

private func sameShape(_ a: Tensor, _ b: Tensor, _ what: String) {
    precondition(a.shape == b.shape, "\(what): shapes \(a.shape) and \(b.shape) differ")
}

@inline(__always)
private func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
    let y = Tensor(uninitializedShape: a.shape)
    let ap = a.data, yp = y.data
    for i in 0..<a.count { yp[i] = f(ap[i]) }
    return y
}

@inline(__always)
private func zip2(_ a: Tensor, _ b: Tensor, _ what: String, _ f: (Float, Float) -> Float) -> Tensor {
    sameShape(a, b, what)
    let y = Tensor(uninitializedShape: a.shape)
    let ap = a.data, bp = b.data, yp = y.data
    for i in 0..<a.count { yp[i] = f(ap[i], bp[i]) }
    return y
}

public func add(_ a: Tensor, _ b: Tensor) -> Tensor { zip2(a, b, "add") { $0 + $1 } }
public func subtract(_ a: Tensor, _ b: Tensor) -> Tensor { zip2(a, b, "subtract") { $0 - $1 } }
public func multiply(_ a: Tensor, _ b: Tensor) -> Tensor { zip2(a, b, "multiply") { $0 * $1 } }
public func scale(_ a: Tensor, by s: Float) -> Tensor { map(a) { $0 * s } }
public func absolute(_ a: Tensor) -> Tensor { map(a) { abs($0) } }
public func square(_ a: Tensor) -> Tensor { map(a) { $0 * $0 } }
/// sqrt(x + eps): the eps keeps the gradient finite at 0 (Charbonnier-style losses use it).
public func squareRoot(_ a: Tensor, eps: Float = 0) -> Tensor { map(a) { ($0 + eps).squareRoot() } }

/// dst += s * src (the building block of every element-wise backward).
public func accumulate(_ dst: Tensor, _ src: Tensor, scale s: Float = 1) {
    sameShape(dst, src, "accumulate")
    let dp = dst.data, sp = src.data
    for i in 0..<dst.count { dp[i] += s * sp[i] }
}

/// Backward of multiply: da += g * b, db += g * a.
public func multiplyBackward(_ a: Tensor, _ b: Tensor, gradOutput g: Tensor, gradA: Tensor?, gradB: Tensor?) {
    sameShape(a, b, "multiply backward"); sameShape(a, g, "multiply backward")
    let ap = a.data, bp = b.data, gp = g.data
    if let gradA { let d = gradA.data; for i in 0..<a.count { d[i] += gp[i] * bp[i] } }
    if let gradB { let d = gradB.data; for i in 0..<a.count { d[i] += gp[i] * ap[i] } }
}

/// Backward of absolute: dx += g * sign(x), with subgradient 0 at x == 0 (as torch.abs).
public func absoluteBackward(_ x: Tensor, gradOutput g: Tensor, gradInput dx: Tensor) {
    sameShape(x, g, "abs backward")
    let xp = x.data, gp = g.data, dp = dx.data
    for i in 0..<x.count { let v = xp[i]; dp[i] += v > 0 ? gp[i] : (v < 0 ? -gp[i] : 0) }
}

/// Backward of square: dx += 2 x g.
public func squareBackward(_ x: Tensor, gradOutput g: Tensor, gradInput dx: Tensor) {
    sameShape(x, g, "square backward")
    let xp = x.data, gp = g.data, dp = dx.data
    for i in 0..<x.count { dp[i] += 2 * xp[i] * gp[i] }
}

/// Backward of squareRoot: dx += g / (2 sqrt(x + eps)).
public func squareRootBackward(_ x: Tensor, eps: Float = 0, gradOutput g: Tensor, gradInput dx: Tensor) {
    sameShape(x, g, "sqrt backward")
    let xp = x.data, gp = g.data, dp = dx.data
    for i in 0..<x.count { dp[i] += gp[i] / (2 * (xp[i] + eps).squareRoot()) }
}

/// Sum of all elements, accumulated in Double so large tensors do not lose the small terms.
public func sum(_ a: Tensor) -> Float {
    var total: Double = 0
    let ap = a.data
    var i = 0
    while i < a.count {
        let chunk = min(4096, a.count - i)
        total += Double(sumOf(ap + i, chunk))
        i += chunk
    }
    return Float(total)
}

public func mean(_ a: Tensor) -> Float { a.count == 0 ? 0 : sum(a) / Float(a.count) }

/// Backward of sum/mean to a scalar loss: dx += g (sum) or g / count (mean).
public func sumBackward(gradOutput g: Float, gradInput dx: Tensor) {
    let dp = dx.data
    for i in 0..<dx.count { dp[i] += g }
}

public func meanBackward(gradOutput g: Float, gradInput dx: Tensor) {
    sumBackward(gradOutput: g / Float(max(dx.count, 1)), gradInput: dx)
}
