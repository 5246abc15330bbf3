import FlowIO

/// Carrying soft label maps from the previous frame into the current one along the flow, and telling where
/// that is trustworthy.
public enum FlowLabelWarp {
    /// Backward warp of `count` planar maps (count x height x width) of the previous frame: the current frame's
    /// pixel x takes the bilinear sample of the previous maps at x + backward(x), where `backward` is the flow from
    /// the current frame to the previous one. Returns the warped maps and, per pixel, whether the sample is usable:
    /// inside the previous frame and passing the forward-backward check (not occluded, see `consistent`), and how
    /// well it passes: the round trip's ratio to the check's tolerance (`roundTripRatio`; infinity outside).
    public static func warp(_ maps: [Float], count: Int, backward: FlowField,
                            forward: FlowField) -> (maps: [Float], valid: [Bool], roundTrip: [Float]) {
        let (w, h) = (backward.width, backward.height), n = w * h
        precondition(maps.count == count * n, "warp: maps are not the flow's size")
        precondition(forward.width == w && forward.height == h, "warp: forward and backward flows differ in size")
        var out = [Float](repeating: 0, count: count * n)
        var valid = [Bool](repeating: false, count: n)
        var roundTrip = [Float](repeating: .infinity, count: n)
        guard n > 0 else { return (out, valid, roundTrip) }
        withUnsafePointers(backward.u, backward.v, forward.u, forward.v) { bu, bv, fu, fv in
            maps.withUnsafeBufferPointer { maps in
                out.withUnsafeMutableBufferPointer { out in
                    valid.withUnsafeMutableBufferPointer { valid in
                        roundTrip.withUnsafeMutableBufferPointer { roundTrip in
                            // Bands of rows on the cores; each writes only its own pixels.
                            nonisolated(unsafe) let (maps, bu, bv, fu, fv) = (maps, bu, bv, fu, fv)
                            nonisolated(unsafe) let (out, valid, roundTrip) = (out, valid.baseAddress!, roundTrip.baseAddress!)
                            forEachBand(of: h) { rows in
                                for y in rows {
                                    for x in 0..<w {
                                        let i = y * w + x
                                        let sx = Float(x) + bu[i], sy = Float(y) + bv[i]
                                        guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { continue }
                                        let x0 = min(Int(sx), w - 2 < 0 ? 0 : w - 2), y0 = min(Int(sy), h - 2 < 0 ? 0 : h - 2)
                                        let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                                        let fx = sx - Float(x0), fy = sy - Float(y0)
                                        let w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy
                                        let i00 = y0 * w + x0, i10 = y0 * w + x1, i01 = y1 * w + x0, i11 = y1 * w + x1
                                        // The forward flow where the pixel came from should point back at it.
                                        let u = w00 * fu[i00] + w10 * fu[i10] + w01 * fu[i01] + w11 * fu[i11]
                                        let v = w00 * fv[i00] + w10 * fv[i10] + w01 * fv[i01] + w11 * fv[i11]
                                        valid[i] = consistent(forward: (u, v), backward: (bu[i], bv[i]))
                                        roundTrip[i] = roundTripRatio(forward: (u, v), backward: (bu[i], bv[i]))
                                        for m in 0..<count {
                                            let base = m * n
                                            out[base + i] = w00 * maps[base + i00] + w10 * maps[base + i10]
                                                + w01 * maps[base + i01] + w11 * maps[base + i11]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, valid, roundTrip)
    }

    /// Backward warp of `count` planar maps (count x height x width) of the previous frame along a motion field
    /// (this frame -> previous, as `warp`'s backward flow), without a check: bilinear, with sources past the
    /// border clamped to it. For callers that decide themselves where the result may be trusted.
    public static func sample(_ maps: [Float], count: Int, along motion: FlowField) -> [Float] {
        let (w, h) = (motion.width, motion.height), n = w * h
        precondition(maps.count == count * n, "sample: maps are not the motion's size")
        var out = [Float](repeating: 0, count: count * n)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                let sx = min(max(Float(x) + motion.u[i], 0), Float(w - 1))
                let sy = min(max(Float(y) + motion.v[i], 0), Float(h - 1))
                let x0 = Int(sx), y0 = Int(sy), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                let fx = sx - Float(x0), fy = sy - Float(y0)
                let w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy
                for m in 0..<count {
                    let base = m * n
                    out[base + i] = w00 * maps[base + y0 * w + x0] + w10 * maps[base + y0 * w + x1]
                        + w01 * maps[base + y1 * w + x0] + w11 * maps[base + y1 * w + x1]
                }
            }
        }
        return out
    }

    /// The forward-backward consistency test of Sundaram, Brox and Keutzer (ECCV 2010), with the constants of
    /// UnFlow (Meister et al., AAAI 2018): the round trip |f + b|^2 must stay below 0.01 (|f|^2 + |b|^2) + 0.5.
    /// The same test as the training losses' occlusion mask, so one notion of occlusion runs through the project.
    @inline(__always)
    public static func consistent(forward f: (Float, Float), backward b: (Float, Float)) -> Bool {
        let du = f.0 + b.0, dv = f.1 + b.1
        return du * du + dv * dv <= 0.01 * (f.0 * f.0 + f.1 * f.1 + b.0 * b.0 + b.1 * b.1) + 0.5
    }

    /// The forward-backward round trip's squared error over the tolerance of `consistent`:
    /// |f + b|^2 / (0.01 (|f|^2 + |b|^2) + 0.5); the check passes where it is at most 1.
    @inline(__always)
    public static func roundTripRatio(forward f: (Float, Float), backward b: (Float, Float)) -> Float {
        let du = f.0 + b.0, dv = f.1 + b.1
        return (du * du + dv * dv) / (0.01 * (f.0 * f.0 + f.1 * f.1 + b.0 * b.0 + b.1 * b.1) + 0.5)
    }
}

/// Base addresses of four non-empty arrays for the duration of `body`.
private func withUnsafePointers<R>(_ a: [Float], _ b: [Float], _ c: [Float], _ d: [Float],
                                   _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                            UnsafePointer<Float>) -> R) -> R {
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            c.withUnsafeBufferPointer { c in
                d.withUnsafeBufferPointer { d in body(a.baseAddress!, b.baseAddress!, c.baseAddress!, d.baseAddress!) }
            }
        }
    }
}
