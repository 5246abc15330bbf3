import Foundation

/// The forward-backward consistency check (UnFlow, Meister et al. 2018; the training's occlusion masks use the
/// same test): a pixel x of the first frame is trusted when the backward flow at the place it moves to brings it
/// back, |f(x) + b(x + f(x))|^2 < alpha1 (|f(x)|^2 + |b(x + f(x))|^2) + alpha2. Where it fails, the pixel is
/// occluded in the second frame (or the flow there is wrong). Pixels that move out of the frame fail.
public enum ForwardBackwardCheck {
    public static let alpha1: Float = 0.01
    public static let alpha2: Float = 0.5

    /// Per pixel of the first frame: the squared round-trip error d^2 = |f + b'|^2 and the tolerance
    /// t = alpha1 (|f|^2 + |b'|^2) + alpha2 (b' = the backward flow sampled bilinearly at x + f(x)). d^2 is
    /// infinite for pixels that leave the frame.
    public static func errors(forward: FlowField, backward: FlowField) -> (squaredError: [Float], tolerance: [Float]) {
        precondition(forward.width == backward.width && forward.height == backward.height,
                     "forward-backward check: flows are \(forward.width)x\(forward.height) and \(backward.width)x\(backward.height)")
        let (w, h) = (forward.width, forward.height)
        var squared = [Float](repeating: .infinity, count: w * h), tolerance = [Float](repeating: alpha2, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                let fu = forward.u[i], fv = forward.v[i]
                let tx = Float(x) + fu, ty = Float(y) + fv
                guard tx >= 0, ty >= 0, tx <= Float(w - 1), ty <= Float(h - 1) else { continue }
                let x0 = min(w - 2, Int(tx)), y0 = min(h - 2, Int(ty))
                let ax = tx - Float(max(0, x0)), ay = ty - Float(max(0, y0))
                let (bu, bv) = w < 2 || h < 2 ? (backward.u[i], backward.v[i])
                    : (bilinear(backward.u, w, max(0, x0), max(0, y0), ax, ay), bilinear(backward.v, w, max(0, x0), max(0, y0), ax, ay))
                let du = fu + bu, dv = fv + bv
                squared[i] = du * du + dv * dv
                tolerance[i] = alpha1 * (fu * fu + fv * fv + bu * bu + bv * bv) + alpha2
            }
        }
        return (squared, tolerance)
    }

    /// 255 where the first frame's pixel is occluded (fails the check), 0 where it is visible.
    public static func occlusion(forward: FlowField, backward: FlowField) -> [UInt8] {
        let (squared, tolerance) = errors(forward: forward, backward: backward)
        return zip(squared, tolerance).map { $0 < $1 ? 0 : 255 }
    }

    /// Confidence in 0...1 per pixel: exp(-d^2 / t), 1 for a perfect round trip, exp(-1) = 0.37 exactly at the
    /// occlusion threshold (so confidence < 0.37 is the occlusion mask), 0 for pixels that leave the frame.
    public static func confidence(forward: FlowField, backward: FlowField) -> [Float] {
        let (squared, tolerance) = errors(forward: forward, backward: backward)
        return zip(squared, tolerance).map { squared, tolerance in
            squared.isFinite ? Float(exp(Double(-squared / tolerance))) : 0
        }
    }

    @inline(__always)
    private static func bilinear(_ plane: [Float], _ w: Int, _ x0: Int, _ y0: Int, _ ax: Float, _ ay: Float) -> Float {
        let i = y0 * w + x0
        let top = plane[i] * (1 - ax) + plane[i + 1] * ax
        let bottom = plane[i + w] * (1 - ax) + plane[i + w + 1] * ax
        return top * (1 - ay) + bottom * ay
    }
}
