import Foundation

/// The outline of a synthetic pair's moving cut-out.
public enum SyntheticShape: String, CaseIterable, Sendable {
    /// An ellipse (the reference's cut-outs): smooth, convex, and as large as a tenth to a third of the frame.
    case ellipse
    /// An irregular outline, closer to FlyingChairs' objects: a star-shaped body (random harmonics of its radius,
    /// so concave bays and lobes), up to five thin limbs sticking out of it (a chair's legs and back), sometimes
    /// a hole through the body (what is seen through a chair's frame), at half to full an ellipse's size.
    case blob
}

/// Whether a texture point lies on a cut-out: an ellipse tested directly, or an irregular outline rasterised once
/// over its bounding box in texture coordinates (the test runs per output pixel and frame, and the blob's polar
/// test is too slow for that).
struct CutoutOutline {
    private let ellipse: (cx: Double, cy: Double, ax: Double, ay: Double, cos: Double, sin: Double)
    private let mask: [Bool]
    private let box: (x0: Int, y0: Int, width: Int, height: Int)

    /// Draws nothing beyond the ellipse's five numbers for `.ellipse`, so earlier runs' pairs are unchanged.
    init(_ shape: SyntheticShape, frameWidth w: Int, frameHeight h: Int, half: Float, rng: inout TrainingRNG) {
        let cx = Double(rng.uniform(half, Float(w) + half)), cy = Double(rng.uniform(half, Float(h) + half))
        var ax = Double(rng.uniform(Float(w) * 0.1, Float(w) * 0.3)), ay = Double(rng.uniform(Float(h) * 0.1, Float(h) * 0.3))
        let theta = Double(rng.uniform(0, 180)) * .pi / 180
        guard shape == .blob else {
            ellipse = (cx, cy, ax, ay, cos(theta), sin(theta)); mask = []; box = (0, 0, 0, 0)
            return
        }
        let size = Double(rng.uniform(0.5, 1))
        ax *= size; ay *= size
        ellipse = (cx, cy, ax, ay, cos(theta), sin(theta))
        // In the body's own frame, scaled so that its mean radius is 1.
        // Harmonics 2 to 5 of the radius; the k-th at most 0.4 / (k - 1), so they sum to at most 0.83.
        let harmonics = (2...5).map { k in (amplitude: Double(rng.uniform(0, 0.4)) / Double(k - 1), phase: Double(rng.uniform(0, 2 * .pi))) }
        let limbs = (0..<rng.below(6)).map { _ -> (cos: Double, sin: Double, length: Double, halfWidth: Double) in
            let angle = Double(rng.uniform(0, 2 * .pi))
            return (cos(angle), sin(angle), Double(rng.uniform(1.2, 2.6)), Double(rng.uniform(0.04, 0.14)))
        }
        let hole: (x: Double, y: Double, radius: Double)? = rng.uniform() < 0.35
            ? (Double(rng.uniform(-0.3, 0.3)), Double(rng.uniform(-0.3, 0.3)), Double(rng.uniform(0.15, 0.35))) : nil
        // Nothing reaches past 2.74 body radii (harmonics sum to at most 0.83; limbs to 2.6 plus their width).
        let reach = 2.75 * max(ax, ay)
        let x0 = Int((cx - reach).rounded(.down)), y0 = Int((cy - reach).rounded(.down))
        let x1 = Int((cx + reach).rounded(.up)), y1 = Int((cy + reach).rounded(.up))
        box = (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
        let (cosTheta, sinTheta) = (cos(theta), sin(theta))
        let phases = harmonics.map { (cos: cos($0.phase), sin: sin($0.phase)) }
        var mask = [Bool](repeating: false, count: box.width * box.height)
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Double(x) - cx, dy = Double(y) - cy
                let u = (dx * cosTheta + dy * sinTheta) / ax, v = (-dx * sinTheta + dy * cosTheta) / ay
                var inside = false
                let radius = (u * u + v * v).squareRoot()
                guard radius <= 2.75 else { continue }
                if radius <= 1.83 {
                    // cos(k phi + phase) from the unit vector (u, v) / radius by repeated complex products:
                    // no atan2 or cos in this loop, which runs over up to 400,000 texture points per cut-out.
                    let c1 = radius > 0 ? u / radius : 1, s1 = radius > 0 ? v / radius : 0
                    var (ck, sk) = (c1, s1)
                    var outline = 1.0
                    for (index, harmonic) in harmonics.enumerated() {  // k = 2, 3, 4, 5
                        (ck, sk) = (ck * c1 - sk * s1, sk * c1 + ck * s1)
                        outline += harmonic.amplitude * (ck * phases[index].cos - sk * phases[index].sin)
                    }
                    inside = radius <= max(0.2, outline)
                    if inside, let hole, (u - hole.x) * (u - hole.x) + (v - hole.y) * (v - hole.y) <= hole.radius * hole.radius {
                        inside = false
                    }
                }
                for limb in limbs where !inside {
                    let along = u * limb.cos + v * limb.sin, across = -u * limb.sin + v * limb.cos
                    inside = along >= 0 && along <= limb.length && abs(across) <= limb.halfWidth
                }
                mask[(y - y0) * box.width + (x - x0)] = inside
            }
        }
        self.mask = mask
    }

    /// `x` and `y` are whole texture coordinates (the caller rounds them).
    func contains(_ x: Double, _ y: Double) -> Bool {
        if mask.isEmpty {
            let dx = x - ellipse.cx, dy = y - ellipse.cy
            let u = dx * ellipse.cos + dy * ellipse.sin, v = -dx * ellipse.sin + dy * ellipse.cos
            return (u * u) / (ellipse.ax * ellipse.ax) + (v * v) / (ellipse.ay * ellipse.ay) <= 1
        }
        let col = Int(x) - box.x0, row = Int(y) - box.y0
        guard col >= 0 && col < box.width && row >= 0 && row < box.height else { return false }
        return mask[row * box.width + col]
    }
}
