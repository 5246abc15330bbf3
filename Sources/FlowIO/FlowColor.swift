import Foundation

/// The Middlebury flow colour coding (Baker et al., "A Database and Evaluation Methodology for Optical Flow",
/// and its Python port `flow_viz.py` used by RAFT): hue from the direction, saturation from the magnitude.
/// Arithmetic follows the reference on float32 flow step by step: radius, angle and interpolation weight in
/// Float, colour channels in Double (NumPy promotes them against the float64 wheel), so pictures match it.
public enum FlowColor {
    /// 55 colours around the wheel: red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11, blue-magenta 13,
    /// magenta-red 6 (more steps where the eye separates hues better).
    public static let wheel: [(Double, Double, Double)] = {
        var colors = [(Double, Double, Double)]()
        func ramp(_ i: Int, _ n: Int) -> Double { (255.0 * Double(i) / Double(n)).rounded(.down) }
        for i in 0..<15 { colors.append((255, ramp(i, 15), 0)) }
        for i in 0..<6 { colors.append((255 - ramp(i, 6), 255, 0)) }
        for i in 0..<4 { colors.append((0, 255, ramp(i, 4))) }
        for i in 0..<11 { colors.append((0, 255 - ramp(i, 11), 255)) }
        for i in 0..<13 { colors.append((ramp(i, 13), 0, 255)) }
        for i in 0..<6 { colors.append((255, 0, 255 - ramp(i, 6))) }
        return colors
    }()

    /// The wheel flattened to r, g, b triples divided by 255, for the per-pixel loop.
    private static let unitWheel: [Double] = wheel.flatMap { [$0.0 / 255.0, $0.1 / 255.0, $0.2 / 255.0] }

    /// The colour of one displacement already divided by the normaliser: |(u, v)| <= 1 spans white to full
    /// colour; beyond 1 the full colour is dimmed by 0.75 so out-of-range motion stands out.
    public static func color(u: Float, v: Float) -> (UInt8, UInt8, UInt8) {
        unitWheel.withUnsafeBufferPointer { color(u: u, v: v, unitWheel: $0) }
    }

    @inline(__always)
    private static func color(u: Float, v: Float, unitWheel: UnsafeBufferPointer<Double>) -> (UInt8, UInt8, UInt8) {
        guard u.isFinite, v.isFinite else { return (0, 0, 0) }
        let count = unitWheel.count / 3
        let radius = (u * u + v * v).squareRoot()
        // Float atan2 returns slightly more than pi in magnitude for some inputs (e.g. v = 0, u > 0), which
        // would put k0 at -1; NumPy's float32 arctan2 gives exactly -pi there, so clamp to match it.
        let angle = min(max(atan2(-v, -u) / Float.pi, -1), 1)
        let position = (angle + 1) / 2 * Float(count - 1)
        let k0 = Int(position.rounded(.down))
        let k1 = k0 + 1 == count ? 0 : k0 + 1
        let f = Double(position - Float(k0))
        @inline(__always) func channel(_ c: Int) -> UInt8 {
            var value = (1 - f) * unitWheel[3 * k0 + c] + f * unitWheel[3 * k1 + c]
            value = radius <= 1 ? 1 - Double(radius) * (1 - value) : value * 0.75
            return UInt8((255 * value).rounded(.down))
        }
        return (channel(0), channel(1), channel(2))
    }

    /// Colour-codes a flow with displacements divided by `maxFlow` (> 0); unknown flow is black.
    /// Rows are coloured in parallel (each pixel is independent).
    public static func render(_ flow: FlowField, maxFlow: Float) -> FlowRGBImage {
        let divisor = max(maxFlow, Float.leastNormalMagnitude)
        let width = flow.width
        var rgb = [UInt8](repeating: 0, count: flow.pixelCount * 3)
        let bands = min(flow.height, 16)
        guard bands > 0 else { return FlowRGBImage(width: flow.width, height: flow.height, rgb: rgb) }
        flow.u.withUnsafeBufferPointer { u in
            flow.v.withUnsafeBufferPointer { v in
                flow.valid.withUnsafeBufferPointer { valid in
                    unitWheel.withUnsafeBufferPointer { wheel in
                        rgb.withUnsafeMutableBufferPointer { out in
                            // Each band reads the shared inputs and writes only its own rows of `out`.
                            nonisolated(unsafe) let (u, v, valid, wheel, out) = (u, v, valid, wheel, out)
                            DispatchQueue.concurrentPerform(iterations: bands) { band in
                                let rows = (band * flow.height / bands)..<((band + 1) * flow.height / bands)
                                for i in (rows.lowerBound * width)..<(rows.upperBound * width) where valid[i] {
                                    let c = color(u: u[i] / divisor, v: v[i] / divisor, unitWheel: wheel)
                                    out[3 * i] = c.0
                                    out[3 * i + 1] = c.1
                                    out[3 * i + 2] = c.2
                                }
                            }
                        }
                    }
                }
            }
        }
        return FlowRGBImage(width: flow.width, height: flow.height, rgb: rgb)
    }

    /// Colour-codes one picture on its own, normalised by its largest known magnitude (+1e-5 as in the
    /// reference). For a video use `render(_:normalizer:)` so colours keep their meaning across frames.
    public static func render(_ flow: FlowField) -> FlowRGBImage {
        render(flow, maxFlow: flow.maxMagnitude + 1e-5)
    }

    /// Colour-codes a video frame's flow with a normaliser shared by all frames (it sees this flow first).
    public static func render(_ flow: FlowField, normalizer: inout RunningMaxNormalizer) -> FlowRGBImage {
        render(flow, maxFlow: normalizer.observe(flow))
    }
}

/// The normaliser for a flow video: the largest magnitude seen so far (never less than `floor`). It only
/// grows, so a colour never means a larger motion in a later frame than in an earlier one, and quiet frames
/// after busy ones do not flare up to full saturation (which a per-frame maximum would do).
public struct RunningMaxNormalizer: Sendable {
    public private(set) var maxFlow: Float

    /// `floor` keeps a still opening scene from being normalised by a near-zero maximum (noise as colour).
    public init(floor: Float = 1) {
        maxFlow = max(floor, Float.leastNormalMagnitude)
    }

    /// Includes this flow's largest known magnitude and returns the normaliser to use for it.
    @discardableResult
    public mutating func observe(_ flow: FlowField) -> Float {
        maxFlow = max(maxFlow, flow.maxMagnitude)
        return maxFlow
    }
}
