/// The guided filter of He, Sun and Tang (ECCV 2010, "Guided Image Filtering"): each output pixel is a local
/// linear function of the guide image's colour, a . I + b, fitted to the input in a (2r+1)^2 window with
/// regularisation eps, and the coefficients averaged over the windows that hold the pixel. Used to snap soft
/// label maps computed at feature resolution onto the edges of the full-resolution frame: where the frame has an
/// edge, the output follows it; where it is flat, the output is a box blur of the input.
///
/// Windows are clipped at the image border (means over the pixels inside), as OpenCV's ximgproc does with
/// BORDER_REFLECT only approximately; the clipped mean keeps a constant input constant exactly.
public enum GuidedFilter {
    /// Filters `count` planar maps (count x height x width) in place, guided by a frame (packed RGB). The colour
    /// form (the paper's eq. 14, a 3x3 covariance per window) keeps an edge between two colours of equal
    /// brightness (red on grey), which a grey guide would blur. eps is in colour units (0...1) squared.
    public static func filter(_ maps: inout [Float], count: Int, rgb: [UInt8], width: Int, height: Int,
                              radius: Int, epsilon: Float) {
        let n = width * height
        precondition(rgb.count == 3 * n && maps.count == count * n, "guided filter: sizes do not match")
        guard radius > 0, n > 0 else { return }
        func box(_ values: [Float]) -> [Float] { boxMean(values, width: width, height: height, radius: radius) }
        let channels = (0..<3).map { c in (0..<n).map { Float(rgb[3 * $0 + c]) / 255 } }
        let means = channels.map(box)
        // The window covariance of the guide plus eps on the diagonal, inverted once for every map.
        let pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
        let products = pairs.map { (i, j) in box((0..<n).map { channels[i][$0] * channels[j][$0] }) }
        var inverse = [[Float]](repeating: [Float](repeating: 0, count: n), count: 6)
        for k in 0..<n {
            let rr = products[0][k] - means[0][k] * means[0][k] + epsilon
            let rg = products[1][k] - means[0][k] * means[1][k]
            let rb = products[2][k] - means[0][k] * means[2][k]
            let gg = products[3][k] - means[1][k] * means[1][k] + epsilon
            let gb = products[4][k] - means[1][k] * means[2][k]
            let bb = products[5][k] - means[2][k] * means[2][k] + epsilon
            // Adjugate over determinant of the symmetric matrix.
            let c00 = gg * bb - gb * gb, c01 = rb * gb - rg * bb, c02 = rg * gb - rb * gg
            let c11 = rr * bb - rb * rb, c12 = rb * rg - rr * gb, c22 = rr * gg - rg * rg
            let determinant = rr * c00 + rg * c01 + rb * c02
            let scale: Float = abs(determinant) > 1e-20 ? 1 / determinant : 0
            inverse[0][k] = c00 * scale; inverse[1][k] = c01 * scale; inverse[2][k] = c02 * scale
            inverse[3][k] = c11 * scale; inverse[4][k] = c12 * scale; inverse[5][k] = c22 * scale
        }
        for m in 0..<count {
            let p = Array(maps[(m * n)..<((m + 1) * n)])
            let meanP = box(p)
            let cross = (0..<3).map { c in box((0..<n).map { channels[c][$0] * p[$0] }) }
            var a = [[Float]](repeating: [Float](repeating: 0, count: n), count: 3)
            var b = [Float](repeating: 0, count: n)
            for k in 0..<n {
                let cr = cross[0][k] - means[0][k] * meanP[k]
                let cg = cross[1][k] - means[1][k] * meanP[k]
                let cb = cross[2][k] - means[2][k] * meanP[k]
                let ar = inverse[0][k] * cr + inverse[1][k] * cg + inverse[2][k] * cb
                let ag = inverse[1][k] * cr + inverse[3][k] * cg + inverse[4][k] * cb
                let ab = inverse[2][k] * cr + inverse[4][k] * cg + inverse[5][k] * cb
                a[0][k] = ar; a[1][k] = ag; a[2][k] = ab
                b[k] = meanP[k] - ar * means[0][k] - ag * means[1][k] - ab * means[2][k]
            }
            let meanA = a.map(box), meanB = box(b)
            for k in 0..<n {
                maps[m * n + k] = meanA[0][k] * channels[0][k] + meanA[1][k] * channels[1][k]
                    + meanA[2][k] * channels[2][k] + meanB[k]
            }
        }
    }

    /// Mean over the (2r+1)^2 window clipped to the image, by running sums along rows then columns (O(1) per
    /// pixel whatever r). Sums are accumulated in Double so long rows do not drift.
    static func boxMean(_ values: [Float], width: Int, height: Int, radius r: Int) -> [Float] {
        var rows = [Float](repeating: 0, count: values.count)
        var prefix = [Double](repeating: 0, count: max(width, height) + 1)
        for y in 0..<height {
            let base = y * width
            for x in 0..<width { prefix[x + 1] = prefix[x] + Double(values[base + x]) }
            for x in 0..<width {
                let lo = max(0, x - r), hi = min(width, x + r + 1)
                rows[base + x] = Float((prefix[hi] - prefix[lo]) / Double(hi - lo))
            }
        }
        var out = [Float](repeating: 0, count: values.count)
        for x in 0..<width {
            for y in 0..<height { prefix[y + 1] = prefix[y] + Double(rows[y * width + x]) }
            for y in 0..<height {
                let lo = max(0, y - r), hi = min(height, y + r + 1)
                out[y * width + x] = Float((prefix[hi] - prefix[lo]) / Double(hi - lo))
            }
        }
        return out
    }
}
