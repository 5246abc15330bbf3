/// Joining the label maps of several cues (the flow-carried previous masks, feature affinity, colour affinity)
/// pixel by pixel, each weighted by how sure it is there, instead of a fixed average.
///
/// A linear opinion pool: p(l) = sum_c w_c p_c(l) / sum_c w_c, with w_c = reliability_c * (margin_c + floor), where
/// - margin_c is the cue's own sharpness at the pixel: its best label's probability minus the second best's
///   (0: it cannot tell the labels apart, 1: it is certain); a cue that is ambiguous at a pixel (colour where the
///   object and the background share a colour, features across a boundary they blur) yields to one that is not;
/// - reliability_c is what is known about the cue from outside its maps (the flow's forward-backward round trip,
///   `flowReliability`), 1 when nothing is;
/// - the floor (1e-3) keeps the pool an even mean where every cue has margin 0, and is scaled by the reliability,
///   so that a cue with reliability 0 (a pixel whose source left the frame) has no say at all.
/// Every cue's maps must be probabilities (each pixel's labels sum to 1); so is the result.
public enum CueFusion {
    /// One cue: planar label maps (labels x pixels) and, optionally, a reliability per pixel (0...1).
    public struct Cue {
        public var maps: [Float]
        public var reliability: [Float]?

        public init(maps: [Float], reliability: [Float]? = nil) {
            self.maps = maps
            self.reliability = reliability
        }
    }

    /// The weight a cue with margin 0 keeps (before its reliability).
    static let floor: Float = 1e-3

    /// The pool of `cues`, each `count` planar maps of the same pixel count.
    public static func pool(_ cues: [Cue], count labelCount: Int) -> [Float] {
        precondition(!cues.isEmpty && labelCount > 0, "pool: no cues or no labels")
        let size = cues[0].maps.count, pixels = size / labelCount
        precondition(cues.allSatisfy { $0.maps.count == size && ($0.reliability?.count ?? pixels) == pixels },
                     "pool: cues of different sizes")
        // The cues' maps and reliabilities side by side in two flat buffers, read through pointers: the loop runs
        // over every pixel of every frame, and nested arrays of structs cost reference counting per access.
        let cueCount = cues.count
        let maps = cues.flatMap(\.maps)
        let reliabilities = cues.flatMap { $0.reliability ?? [Float](repeating: 1, count: pixels) }
        var out = [Float](repeating: 0, count: size)
        maps.withUnsafeBufferPointer { maps in
            reliabilities.withUnsafeBufferPointer { reliabilities in
                out.withUnsafeMutableBufferPointer { out in
                    // Bands of pixels on the cores (the pool runs between the parallel parts of a frame, where a
                    // single thread would leave the other cores idle); each pixel is computed as before and only
                    // its own values are written.
                    nonisolated(unsafe) let (maps, reliabilities, out) = (maps, reliabilities, out)
                    forEachBand(of: pixels) { band in
                        var weights = [Float](repeating: 0, count: cueCount)
                        for i in band {
                            var total: Float = 0
                            for c in 0..<cueCount {
                                let cue = UnsafeBufferPointer(rebasing: maps[(c * size)..<((c + 1) * size)])
                                weights[c] = reliabilities[c * pixels + i] * (margin(cue, count: labelCount, pixels: pixels, at: i) + floor)
                                total += weights[c]
                            }
                            // No cue has a say (none is reliable here): the plain mean.
                            let even = total > 0 ? 0 : 1 / Float(cueCount), scale = total > 0 ? 1 / total : 0
                            for c in 0..<cueCount {
                                let share = weights[c] * scale + even
                                guard share > 0 else { continue }
                                for l in 0..<labelCount { out[l * pixels + i] += share * maps[c * size + l * pixels + i] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// A pixel's best label probability minus its second best (with one label: the probability itself).
    @inline(__always)
    static func margin(_ maps: UnsafeBufferPointer<Float>, count labelCount: Int, pixels: Int, at i: Int) -> Float {
        var best: Float = -.infinity, second: Float = -.infinity
        for l in 0..<labelCount {
            let value = maps[l * pixels + i]
            if value > best { (best, second) = (value, best) } else if value > second { second = value }
        }
        return labelCount == 1 ? best : best - second
    }

    /// A soft form of the forward-backward check (`FlowLabelWarp.consistent`): with q the round trip's squared
    /// error over the check's tolerance (`FlowLabelWarp.roundTripRatio`; the hard check passes for q <= 1), the
    /// reliability is 1 / (1 + q^2), the logistic of -2 ln q: 1 for a perfect round trip, exactly 1/2 at the hard
    /// check's threshold, and falling smoothly past it, so that a pixel just past the threshold is not trusted
    /// fully one frame and not at all the next.
    @inline(__always)
    public static func flowReliability(roundTripRatio q: Float) -> Float {
        q.isFinite ? 1 / (1 + q * q) : 0
    }
}
