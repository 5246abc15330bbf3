import Dispatch

/// The guided filter of He, Sun and Tang (ECCV 2010, "Guided Image Filtering"): each output pixel is a local
/// linear function of the guide image's colour, a . I + b, fitted to the input in a (2r+1)^2 window with
/// regularisation eps, and the coefficients averaged over the windows that hold the pixel. Used to snap soft
/// label maps computed at feature resolution onto the edges of the full-resolution frame: where the frame has an
/// edge, the output follows it; where it is flat, the output is a box blur of the input.
///
/// Windows are clipped at the image border (means over the pixels inside), as OpenCV's ximgproc does with
/// BORDER_REFLECT only approximately; the clipped mean keeps a constant input constant exactly.
///
/// What depends on the guide alone (its window means and the inverse of its window covariance) is computed once
/// per frame, in `init`, and serves every map filtered with it.
public struct GuidedFilter: Sendable {
    public let width: Int, height: Int, radius: Int
    /// The guide's colour planes in 0...1 (3 x pixels) and their window means (3 x pixels).
    let guide: [Float], means: [Float]
    /// Per pixel, the inverse of the guide's window covariance plus eps on the diagonal: its six distinct entries
    /// (rr, rg, rb, gg, gb, bb) as six planes.
    let inverse: [Float]

    /// Prepares the filter for a frame (packed RGB); eps is in colour units (0...1) squared. The colour form
    /// (the paper's eq. 14, a 3x3 covariance per window) keeps an edge between two colours of equal brightness
    /// (red on grey), which a grey guide would blur.
    public init(rgb: [UInt8], width: Int, height: Int, radius: Int, epsilon: Float) {
        let n = width * height
        precondition(rgb.count == 3 * n, "guided filter: the guide is not width x height")
        self.width = width
        self.height = height
        self.radius = radius
        // The three channels, then the products of channel pairs (rr, rg, rb, gg, gb, bb): their window means are
        // taken at once.
        let planes = [Float](unsafeUninitializedCapacity: 9 * n) { planes, initialized in
            rgb.withUnsafeBufferPointer { rgb in
                // Bands of pixels on the cores, each writing its own (every value is written).
                nonisolated(unsafe) let (rgb, planes) = (rgb, planes)
                forEachBand(of: n) { pixels in for i in pixels {
                    let r = Float(rgb[3 * i]) / 255, g = Float(rgb[3 * i + 1]) / 255, b = Float(rgb[3 * i + 2]) / 255
                    planes[i] = r; planes[n + i] = g; planes[2 * n + i] = b
                    planes[3 * n + i] = r * r; planes[4 * n + i] = r * g; planes[5 * n + i] = r * b
                    planes[6 * n + i] = g * g; planes[7 * n + i] = g * b; planes[8 * n + i] = b * b
                } }
            }
            initialized = 9 * n
        }
        let guide = Array(planes[0..<(3 * n)])
        let boxed = Self.boxMeans(planes, planes: 9, width: width, height: height, radius: radius)
        var inverse = [Float](repeating: 0, count: 6 * n)
        boxed.withUnsafeBufferPointer { s in
            inverse.withUnsafeMutableBufferPointer { out in
                // Bands of pixels on the cores, each writing its own.
                nonisolated(unsafe) let (s, out) = (s, out)
                forEachBand(of: n) { pixels in for k in pixels {
                    let mr = s[k], mg = s[n + k], mb = s[2 * n + k]
                    let rr = s[3 * n + k] - mr * mr + epsilon, rg = s[4 * n + k] - mr * mg
                    let rb = s[5 * n + k] - mr * mb, gg = s[6 * n + k] - mg * mg + epsilon
                    let gb = s[7 * n + k] - mg * mb, bb = s[8 * n + k] - mb * mb + epsilon
                    // Adjugate over determinant of the symmetric matrix.
                    let c00 = gg * bb - gb * gb, c01 = rb * gb - rg * bb, c02 = rg * gb - rb * gg
                    let c11 = rr * bb - rb * rb, c12 = rb * rg - rr * gb, c22 = rr * gg - rg * rg
                    let determinant = rr * c00 + rg * c01 + rb * c02
                    let scale: Float = abs(determinant) > 1e-20 ? 1 / determinant : 0
                    out[k] = c00 * scale; out[n + k] = c01 * scale; out[2 * n + k] = c02 * scale
                    out[3 * n + k] = c11 * scale; out[4 * n + k] = c12 * scale; out[5 * n + k] = c22 * scale
                } }
            }
        }
        self.guide = guide
        means = Array(boxed[0..<(3 * n)])
        self.inverse = inverse
    }

    /// Filters one map (width x height) in place.
    public func apply(_ map: UnsafeMutableBufferPointer<Float>) {
        let n = width * height
        precondition(map.count == n, "guided filter: the map is not width x height")
        guard radius > 0, n > 0 else { return }
        // The map and its products with the three channels, boxed together.
        let planes = [Float](unsafeUninitializedCapacity: 4 * n) { planes, initialized in
            guide.withUnsafeBufferPointer { g in
                nonisolated(unsafe) let (g, planes, map) = (g, planes, map)
                forEachBand(of: n) { pixels in for k in pixels {
                    let p = map[k]
                    planes[k] = p
                    planes[n + k] = g[k] * p
                    planes[2 * n + k] = g[n + k] * p
                    planes[3 * n + k] = g[2 * n + k] * p
                } }
            }
            initialized = 4 * n
        }
        let stats = Self.boxMeans(planes, planes: 4, width: width, height: height, radius: radius)
        // The window's linear coefficients a (3 planes) and b, boxed in their turn.
        var coefficients = [Float](repeating: 0, count: 4 * n)
        stats.withUnsafeBufferPointer { s in
            means.withUnsafeBufferPointer { m in
                inverse.withUnsafeBufferPointer { v in
                    coefficients.withUnsafeMutableBufferPointer { out in
                        nonisolated(unsafe) let (s, m, v, out) = (s, m, v, out)
                        forEachBand(of: n) { pixels in for k in pixels {
                            let meanP = s[k]
                            let cr = s[n + k] - m[k] * meanP
                            let cg = s[2 * n + k] - m[n + k] * meanP
                            let cb = s[3 * n + k] - m[2 * n + k] * meanP
                            let ar = v[k] * cr + v[n + k] * cg + v[2 * n + k] * cb
                            let ag = v[n + k] * cr + v[3 * n + k] * cg + v[4 * n + k] * cb
                            let ab = v[2 * n + k] * cr + v[4 * n + k] * cg + v[5 * n + k] * cb
                            out[k] = ar; out[n + k] = ag; out[2 * n + k] = ab
                            out[3 * n + k] = meanP - ar * m[k] - ag * m[n + k] - ab * m[2 * n + k]
                        } }
                    }
                }
            }
        }
        let averaged = Self.boxMeans(coefficients, planes: 4, width: width, height: height, radius: radius)
        averaged.withUnsafeBufferPointer { a in
            guide.withUnsafeBufferPointer { g in
                nonisolated(unsafe) let (a, g, map) = (a, g, map)
                forEachBand(of: n) { pixels in for k in pixels {
                    map[k] = a[k] * g[k] + a[n + k] * g[n + k] + a[2 * n + k] * g[2 * n + k] + a[3 * n + k]
                } }
            }
        }
    }

    /// Filters `count` planar maps (count x height x width) in place, guided by a frame (packed RGB).
    public static func filter(_ maps: inout [Float], count: Int, rgb: [UInt8], width: Int, height: Int,
                              radius: Int, epsilon: Float) {
        let n = width * height
        precondition(rgb.count == 3 * n && maps.count == count * n, "guided filter: sizes do not match")
        guard radius > 0, n > 0 else { return }
        let filter = GuidedFilter(rgb: rgb, width: width, height: height, radius: radius, epsilon: epsilon)
        maps.withUnsafeMutableBufferPointer { all in
            for m in 0..<count { filter.apply(UnsafeMutableBufferPointer(rebasing: all[(m * n)..<((m + 1) * n)])) }
        }
    }

    /// Filters soft label maps that sum to one at every pixel (count x height x width), in place. The filter is
    /// linear in its input and keeps a constant input exactly, so the filtered maps still sum to one: the first
    /// count - 1 are filtered and the last is one minus their sum, the same result for one map less of work (half
    /// the work for an object and its background).
    public static func filterProbabilities(_ maps: inout [Float], count: Int, rgb: [UInt8], width: Int, height: Int,
                                           radius: Int, epsilon: Float) {
        let n = width * height
        precondition(rgb.count == 3 * n && maps.count == count * n, "guided filter: sizes do not match")
        guard radius > 0, n > 0, count > 1 else { return }
        let filter = GuidedFilter(rgb: rgb, width: width, height: height, radius: radius, epsilon: epsilon)
        maps.withUnsafeMutableBufferPointer { all in
            for m in 0..<(count - 1) { filter.apply(UnsafeMutableBufferPointer(rebasing: all[(m * n)..<((m + 1) * n)])) }
            let last = (count - 1) * n
            nonisolated(unsafe) let all = all
            forEachBand(of: n) { pixels in for k in pixels {
                var others: Float = 0
                for m in 0..<(count - 1) { others += all[m * n + k] }
                all[last + k] = 1 - others
            } }
        }
    }

    /// Mean over the (2r+1)^2 window clipped to the image, of one map.
    static func boxMean(_ values: [Float], width: Int, height: Int, radius r: Int) -> [Float] {
        boxMeans(values, planes: 1, width: width, height: height, radius: r)
    }

    /// Mean over the (2r+1)^2 window clipped to the image, of `planes` maps (planes x height x width): running sums
    /// along each row, then down the columns a row at a time (O(1) per pixel whatever r, and memory read in
    /// order). Sums are kept in Double so that adding and removing along a long row or column does not drift
    /// (the filter subtracts squared means from means of squares, where a drift of 1e-5 would show). Rows, then
    /// bands of columns, are spread over the cores.
    static func boxMeans(_ values: [Float], planes: Int, width: Int, height: Int, radius r: Int) -> [Float] {
        let n = width * height
        precondition(values.count == planes * n, "box mean: sizes do not match")
        guard n > 0 else { return [Float](repeating: 0, count: values.count) }
        // Every value of both is written below (all rows, then every column band of every plane): no zero fill.
        var rows = [Float](unsafeUninitializedCapacity: values.count) { $1 = values.count }
        var out = [Float](unsafeUninitializedCapacity: values.count) { $1 = values.count }
        // 1 / (the window's extent) along a row and down a column: multiplications instead of divisions.
        let across = (0..<width).map { 1 / Double(min(width, $0 + r + 1) - max(0, $0 - r)) }
        let down = (0..<height).map { 1 / Double(min(height, $0 + r + 1) - max(0, $0 - r)) }
        let rowChunks = min(planes * height, 16), bands = min(width, 8)
        values.withUnsafeBufferPointer { input in
            rows.withUnsafeMutableBufferPointer { rowMeans in
                out.withUnsafeMutableBufferPointer { output in
                    // Each job writes its own rows, then its own columns: shared pointers, disjoint writes.
                    nonisolated(unsafe) let (input, rowMeans, output) = (input.baseAddress!, rowMeans.baseAddress!,
                                                                        output.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: rowChunks) { chunk in
                        across.withUnsafeBufferPointer { across in
                            var row = planes * height * chunk / rowChunks
                            let end = planes * height * (chunk + 1) / rowChunks
                            while row < end {
                                let lanes = min(4, end - row)
                                rowMeans4(input + row * width, rowMeans + row * width, rows: lanes, width: width,
                                          radius: r, across: across.baseAddress!)
                                row += lanes
                            }
                        }
                    }
                    DispatchQueue.concurrentPerform(iterations: planes * bands) { job in
                        let plane = job / bands, band = job % bands
                        let x0 = width * band / bands, count = width * (band + 1) / bands - x0
                        let source = rowMeans + plane * n + x0, target = output + plane * n + x0
                        let sums = UnsafeMutablePointer<Double>.allocate(capacity: count)
                        defer { sums.deallocate() }
                        sums.initialize(repeating: 0, count: count)
                        for y in 0..<min(r, height) { for x in 0..<count { sums[x] += Double(source[y * width + x]) } }
                        for y in 0..<height {
                            let scale = down[y], row = target + y * width
                            // One pass over the band per row: the same additions, in the same order, as adding the
                            // entering row, subtracting the leaving one and scaling in three passes.
                            switch (y + r < height, y - r - 1 >= 0) {
                            case (true, true):
                                let entering = source + (y + r) * width, leaving = source + (y - r - 1) * width
                                for x in 0..<count {
                                    let sum = sums[x] + Double(entering[x]) - Double(leaving[x])
                                    sums[x] = sum
                                    row[x] = Float(sum * scale)
                                }
                            case (true, false):
                                let entering = source + (y + r) * width
                                for x in 0..<count {
                                    let sum = sums[x] + Double(entering[x])
                                    sums[x] = sum
                                    row[x] = Float(sum * scale)
                                }
                            case (false, true):
                                let leaving = source + (y - r - 1) * width
                                for x in 0..<count {
                                    let sum = sums[x] - Double(leaving[x])
                                    sums[x] = sum
                                    row[x] = Float(sum * scale)
                                }
                            case (false, false):
                                for x in 0..<count { row[x] = Float(sums[x] * scale) }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Window means along up to four consecutive rows at once (`rows` of them, `width` apart), one row per lane
    /// of a SIMD4<Double> running sum. Each lane adds and subtracts what a loop over its row alone would, in the
    /// same order, so the means are the same to the bit; the four rows' additions overlap instead of each waiting
    /// on the previous one. x + r enters the window while it is inside the row and x - r - 1 leaves it once it is:
    /// three stretches of x instead of two tests at every pixel.
    @inline(__always)
    static func rowMeans4(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                          radius r: Int, across: UnsafePointer<Double>) {
        // Lanes past `rows` repeat the first row and are not stored.
        let s1 = source + (rows > 1 ? width : 0), s2 = source + (rows > 2 ? 2 * width : 0)
        let s3 = source + (rows > 3 ? 3 * width : 0)
        @inline(__always) func load(_ x: Int) -> SIMD4<Double> {
            SIMD4(Double(source[x]), Double(s1[x]), Double(s2[x]), Double(s3[x]))
        }
        @inline(__always) func store(_ sum: SIMD4<Double>, _ x: Int) {
            let mean = sum * across[x]
            target[x] = Float(mean[0])
            if rows > 1 { target[width + x] = Float(mean[1]) }
            if rows > 2 { target[2 * width + x] = Float(mean[2]) }
            if rows > 3 { target[3 * width + x] = Float(mean[3]) }
        }
        var sum = SIMD4<Double>()
        for x in 0..<min(r, width) { sum += load(x) }
        let entering = max(0, width - r), leaving = min(width, r + 1)
        var x = 0
        while x < min(entering, leaving) { sum += load(x + r); store(sum, x); x += 1 }
        while x < entering { sum += load(x + r); sum -= load(x - r - 1); store(sum, x); x += 1 }  // both
        while x < leaving { store(sum, x); x += 1 }  // neither: a row shorter than the window
        while x < width { sum -= load(x - r - 1); store(sum, x); x += 1 }
    }
}
