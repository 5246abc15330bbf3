/// A sparse grid of arrows drawn on the frame: each starts at a grid point and ends where that point moves to.
public enum FlowArrows {
    /// Draws one arrow every `spacing` pixels (grid centred in each cell), scaled by `scale` (1 = true length),
    /// skipping unknown flow and motions shorter than `minLength` px after scaling. The flow may have another
    /// size than the frame: grid points are mapped to flow pixels and vectors rescaled to frame pixels.
    /// Arrows are coloured by the colour wheel at `maxFlow` (direction = hue), or in `color` when given.
    public static func draw(on frame: inout FlowRGBImage, flow: FlowField, spacing: Int = 16, scale: Float = 1,
                            maxFlow: Float? = nil, color: (UInt8, UInt8, UInt8)? = nil, minLength: Float = 0.5) {
        guard flow.width > 0, flow.height > 0, frame.width > 0, frame.height > 0 else { return }
        let step = max(spacing, 2)
        let sx = Float(flow.width) / Float(frame.width), sy = Float(flow.height) / Float(frame.height)
        let normaliser = maxFlow ?? (flow.maxMagnitude > 0 ? flow.maxMagnitude : 1)
        var y = step / 2
        while y < frame.height {
            var x = step / 2
            while x < frame.width {
                defer { x += step }
                let fx = min(flow.width - 1, Int(Float(x) * sx)), fy = min(flow.height - 1, Int(Float(y) * sy))
                let i = fy * flow.width + fx
                guard flow.valid[i] else { continue }
                let dx = flow.u[i] / sx * scale, dy = flow.v[i] / sy * scale
                guard (dx * dx + dy * dy).squareRoot() >= minLength else { continue }
                let ink = color ?? darkened(FlowColor.color(u: flow.u[i] / normaliser, v: flow.v[i] / normaliser))
                arrow(on: &frame, from: (Float(x), Float(y)), to: (Float(x) + dx, Float(y) + dy), ink)
            }
            y += step
        }
    }

    /// Small motions are near-white on the wheel and would vanish on bright frames; keep at least some depth.
    private static func darkened(_ c: (UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8) {
        (UInt8(Int(c.0) * 3 / 4), UInt8(Int(c.1) * 3 / 4), UInt8(Int(c.2) * 3 / 4))
    }

    /// A shaft plus two head strokes at +-25 degrees, head length a third of the shaft (at most 6 px).
    static func arrow(on image: inout FlowRGBImage, from start: (Float, Float), to end: (Float, Float),
                      _ color: (UInt8, UInt8, UInt8)) {
        Line.draw(on: &image, from: start, to: end, color)
        let dx = end.0 - start.0, dy = end.1 - start.1
        let length = (dx * dx + dy * dy).squareRoot()
        guard length >= 2 else { return }
        let head = min(6, length / 3)
        let ux = dx / length, uy = dy / length
        let cosA: Float = 0.906, sinA: Float = 0.423  // 25 degrees
        for side: Float in [-1, 1] {
            let hx = -(ux * cosA - side * uy * sinA), hy = -(uy * cosA + side * ux * sinA)
            Line.draw(on: &image, from: end, to: (end.0 + hx * head, end.1 + hy * head), color)
        }
    }
}

/// Bresenham's line rasteriser with clipping to the image (points outside are skipped, not wrapped).
enum Line {
    static func draw(on image: inout FlowRGBImage, from start: (Float, Float), to end: (Float, Float),
                     _ color: (UInt8, UInt8, UInt8)) {
        guard start.0.isFinite, start.1.isFinite, end.0.isFinite, end.1.isFinite else { return }
        // Keep integer coordinates bounded: a wild vector must not overflow or loop for ages.
        let limit = Float(4 * max(image.width, image.height) + 16)
        var x0 = Int(min(max(start.0, -limit), limit).rounded()), y0 = Int(min(max(start.1, -limit), limit).rounded())
        let x1 = Int(min(max(end.0, -limit), limit).rounded()), y1 = Int(min(max(end.1, -limit), limit).rounded())
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let stepX = x0 < x1 ? 1 : -1, stepY = y0 < y1 ? 1 : -1
        var error = dx + dy
        while true {
            if x0 >= 0, y0 >= 0, x0 < image.width, y0 < image.height { image.setPixel(x: x0, y: y0, color) }
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x0 += stepX }
            if e2 <= dx { error += dx; y0 += stepY }
        }
    }
}
