import CSIMDMath
import Dispatch

/// Variational refinement of a dense flow field at one resolution: the flow W is moved by the increment dW that
/// minimises, around W, the energy of Brox et al. (2004) as OpenCV's `VariationalRefinement` (the last stage of
/// DIS) states it:
///
///     E(dW) = sum  delta * Psi(E_I) + gamma * Psi(E_G) + alpha * Psi(E_S)
///
/// E_I: brightness constancy, I1(p + W + dW) - I0(p), linearised and normalised by |grad I|^2 + zeta^2;
/// E_G: gradient constancy, the same for the image's x and y derivatives; E_S: |grad (W + dW)|^2;
/// Psi(s^2) = sqrt(s^2 + epsilon^2), a robust (Charbonnier) penalty.
///
/// The frame I1 is warped by W once; then `fixedPointIterations` times the robust weights are recomputed from the
/// current dW (lagged non-linearity) and the linear system for dW is relaxed by `sorIterations` red-black SOR
/// sweeps. The linearisation only holds for small increments, so large corrections need a coarse-to-fine
/// schedule (`CoarseToFineRefinement`).
///
/// Frames are width x height, pixel p = y * width + x; images are luma on the 0...255 scale (`GrayImage`).
public struct VariationalRefinement: Equatable, Sendable {
    /// alpha: weight of the flow's smoothness.
    public var smoothnessWeight: Float = 20
    /// delta: weight of brightness constancy.
    public var brightnessWeight: Float = 5
    /// gamma: weight of gradient constancy (robust to additive brightness changes).
    public var gradientWeight: Float = 10
    public var fixedPointIterations = 5
    public var sorIterations = 5
    /// omega: SOR over-relaxation, in (0, 2).
    public var relaxation: Float = 1.6
    /// Rows are split over this many threads (the red and black halves of a sweep are each independent).
    public var threads = 1

    /// zeta: keeps the data-term normalisation finite in flat regions and regularises the increment.
    static let zeta: Float = 0.1
    /// epsilon of the robust penalty.
    static let epsilon: Float = 0.001

    /// The defaults are OpenCV's (alpha 20, delta 5, gamma 10, 5 fixed-point and 5 SOR iterations, omega 1.6).
    public init(threads: Int = 1) {
        self.threads = threads
    }

    /// Refines the flow (`u` right, `v` down, in pixels) from `first` to `second` in place.
    public func refine(u: inout [Float], v: inout [Float], from first: GrayImage, to second: GrayImage) {
        precondition(first.width == second.width && first.height == second.height,
                     "refinement: frames are \(first.width)x\(first.height) and \(second.width)x\(second.height)")
        precondition(u.count == first.width * first.height && v.count == u.count,
                     "refinement: flow of \(u.count) values for \(first.width)x\(first.height) frames")
        let system = LinearisedSystem(first: first, second: second, u: u, v: v)
        for _ in 0..<fixedPointIterations {
            system.setDataTerm(brightnessWeight: brightnessWeight, gradientWeight: gradientWeight, threads: threads)
            system.addSmoothnessTerm(smoothnessWeight: smoothnessWeight, threads: threads)
            for _ in 0..<sorIterations { system.relax(omega: relaxation, threads: threads) }
            system.applyIncrement()
        }
        u = system.refinedU
        v = system.refinedV
    }
}

/// The buffers of one refinement, in one allocation with a named view each (they live for one `refine` call):
/// image derivatives at the linearisation point W, the 2x2 system per pixel (A11 A12; A12 A22) dW = (b1, b2)
/// plus the smoothness couplings, and the increment dW.
///
/// Every view has width + 1 + `lanePadding` zeros before and after it, and the coupling weights are 0 for pairs
/// that do not exist (past the last column or row): a neighbour across the border then contributes 0 x 0, so the
/// inner loops need no border branches.
final class LinearisedSystem {
    let width: Int, height: Int
    private let storage: UnsafeMutablePointer<Float>
    /// The flow being refined (the linearisation point) and W + dW after the last fixed-point iteration.
    let baseU, baseV, currentU, currentV: UnsafeMutablePointer<Float>
    let du, dv: UnsafeMutablePointer<Float>
    /// Ix, Iy: derivatives of the mean of I0 and the warped I1; Iz: warped I1 - I0; the rest their derivatives.
    let ix, iy, iz, ixx, ixy, iyy, ixz, iyz: UnsafeMutablePointer<Float>
    /// The system; after `addSmoothnessTerm` the diagonals hold their reciprocals (SOR only divides by them).
    let a11, a12, a22, b1, b2: UnsafeMutablePointer<Float>
    /// Smoothness coupling of pixel p with its right neighbour p + 1 and with its lower neighbour p + width.
    let right, down: UnsafeMutablePointer<Float>

    init(first: GrayImage, second: GrayImage, u: [Float], v: [Float]) {
        let (w, h) = (first.width, first.height), n = w * h
        width = w
        height = h
        let views = 21, pad = w + 1 + Self.lanePadding, stride = n + 2 * pad
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: views * stride)
        buffer.initialize(repeating: 0, count: views * stride)
        storage = buffer
        func view(_ i: Int) -> UnsafeMutablePointer<Float> { buffer + i * stride + pad }
        (baseU, baseV, currentU, currentV, du, dv) = (view(0), view(1), view(2), view(3), view(4), view(5))
        (ix, iy, iz, ixx, ixy, iyy, ixz, iyz) = (view(6), view(7), view(8), view(9), view(10), view(11), view(12), view(13))
        (a11, a12, a22, b1, b2, right, down) = (view(14), view(15), view(16), view(17), view(18), view(19), view(20))
        for p in 0..<n {
            baseU[p] = u[p]; baseV[p] = v[p]; currentU[p] = u[p]; currentV[p] = v[p]
        }
        let warped = warpBilinear(second, u: u, v: v)
        var mean = [Float](repeating: 0, count: n)
        for p in 0..<n {
            mean[p] = 0.5 * (first.pixels[p] + warped[p])
            iz[p] = warped[p] - first.pixels[p]
        }
        mean.withUnsafeBufferPointer { mean in
            derivativeX(mean.baseAddress!, into: ix, width: w, height: h)
            derivativeY(mean.baseAddress!, into: iy, width: w, height: h)
        }
        derivativeX(iz, into: ixz, width: w, height: h)
        derivativeY(iz, into: iyz, width: w, height: h)
        derivativeX(ix, into: ixx, width: w, height: h)
        derivativeY(ix, into: ixy, width: w, height: h)
        derivativeY(iy, into: iyy, width: w, height: h)
    }

    deinit { storage.deallocate() }

    /// Extra padding so that SIMD loops may run up to 7 elements past the last pixel.
    static let lanePadding = 8

    /// Sets A and b to the data terms linearised at the current increment (robust weights from dW).
    ///
    /// Eight pixels at a time in SIMD registers: auto-vectorised when inlined, this loop ran 3-4x slower inside
    /// the closure that threads run, where the compiler could not prove its 15 buffers distinct. Chunks start at
    /// multiples of 8, and the last one may run into the views' padding (`lanePadding`), which nothing reads.
    func setDataTerm(brightnessWeight: Float, gradientWeight: Float, threads: Int) {
        typealias Lanes = SIMD8<Float>
        let zeta2 = Lanes(repeating: VariationalRefinement.zeta * VariationalRefinement.zeta)
        let epsilon2 = Lanes(repeating: VariationalRefinement.epsilon * VariationalRefinement.epsilon)
        let delta = Lanes(repeating: brightnessWeight / 2), gamma = Lanes(repeating: gradientWeight / 2)
        let (ix, iy, iz, ixx, ixy, iyy, ixz, iyz) = (self.ix, self.iy, self.iz, self.ixx, self.ixy, self.iyy, self.ixz, self.iyz)
        let (du, dv, a11, a12, a22, b1, b2) = (self.du, self.dv, self.a11, self.a12, self.a22, self.b1, self.b2)
        let chunks = (width * height + Lanes.scalarCount - 1) / Lanes.scalarCount
        forEachBand(chunks, threads: threads, minimumPerBand: 256) { range in
            @inline(__always) func load(_ view: UnsafeMutablePointer<Float>, _ p: Int) -> Lanes {
                UnsafeRawPointer(view + p).loadUnaligned(as: Lanes.self)
            }
            @inline(__always) func store(_ value: Lanes, _ view: UnsafeMutablePointer<Float>, _ p: Int) {
                UnsafeMutableRawPointer(view + p).storeBytes(of: value, as: Lanes.self)
            }
            for chunk in range {
                let p = chunk * Lanes.scalarCount
                let (ix, iy, iz, du, dv) = (load(ix, p), load(iy, p), load(iz, p), load(du, p), load(dv, p))
                // Brightness constancy, normalised by the gradient's squared norm.
                let norm = ix * ix + iy * iy + zeta2
                let residual = iz + ix * du + iy * dv
                var weight = delta / csimd_sqrt8(residual * residual / norm + epsilon2) / norm
                var s11 = weight * ix * ix + zeta2, s12 = weight * ix * iy, s22 = weight * iy * iy + zeta2
                var r1 = -weight * iz * ix, r2 = -weight * iz * iy
                // Gradient constancy, each derivative normalised by its own gradient's squared norm.
                let (ixx, ixy, iyy, ixz, iyz) = (load(ixx, p), load(ixy, p), load(iyy, p), load(ixz, p), load(iyz, p))
                let normX = ixx * ixx + ixy * ixy + zeta2, normY = iyy * iyy + ixy * ixy + zeta2
                let residualX = ixz + ixx * du + ixy * dv, residualY = iyz + ixy * du + iyy * dv
                weight = gamma / csimd_sqrt8(residualX * residualX / normX + residualY * residualY / normY + epsilon2)
                s11 += weight * (ixx * ixx / normX + ixy * ixy / normY)
                s12 += weight * (ixx * ixy / normX + ixy * iyy / normY)
                s22 += weight * (ixy * ixy / normX + iyy * iyy / normY)
                r1 -= weight * (ixx * ixz / normX + ixy * iyz / normY)
                r2 -= weight * (ixy * ixz / normX + iyy * iyz / normY)
                store(s11, a11, p); store(s12, a12, p); store(s22, a22, p); store(r1, b1, p); store(r2, b2, p)
            }
        }
    }

    /// Adds the smoothness term: each pixel's robust weight from the forward differences of W + dW couples it to
    /// its right and lower neighbours; a pair (p, q) of weight c adds c to both diagonals and c (W_q - W_p) to p's
    /// right-hand side (the opposite to q's). Then the diagonals are replaced by their reciprocals.
    func addSmoothnessTerm(smoothnessWeight: Float, threads: Int) {
        let epsilon2 = VariationalRefinement.epsilon * VariationalRefinement.epsilon
        let alpha = smoothnessWeight / 2
        let (w, h) = (width, height)
        let (u, v, right, down) = (currentU, currentV, self.right, self.down)
        forEachBand(h, threads: threads) { rows in
            // Eight pixels at a time in C (CSIMDMath): Swift's square root keeps this loop scalar.
            for y in rows { csimd_smoothness_row(u, v, right, down, w, y, y < h - 1 ? 1 : 0, alpha, epsilon2) }
        }
        let (baseU, baseV, a11, a22, b1, b2) = (self.baseU, self.baseV, self.a11, self.a22, self.b1, self.b2)
        forEachBand(h, threads: threads) { rows in
            for p in (rows.lowerBound * w)..<(rows.upperBound * w) {
                let (cr, cl, cd, cu) = (right[p], right[p - 1], down[p], down[p - w])
                b1[p] += cr * (baseU[p + 1] - baseU[p]) - cl * (baseU[p] - baseU[p - 1])
                    + cd * (baseU[p + w] - baseU[p]) - cu * (baseU[p] - baseU[p - w])
                b2[p] += cr * (baseV[p + 1] - baseV[p]) - cl * (baseV[p] - baseV[p - 1])
                    + cd * (baseV[p + w] - baseV[p]) - cu * (baseV[p] - baseV[p - w])
                let coupling = cr + cl + cd + cu
                a11[p] = 1 / (a11[p] + coupling)
                a22[p] = 1 / (a22[p] + coupling)
            }
        }
    }

    /// One red-black SOR sweep: the pixels with x + y even ("red"), then the odd ones ("black"), each colour
    /// depending only on the other. It is computed as a wavefront in one pass over memory instead of two: the black
    /// pixels of row y - 1 are final as soon as the red ones of row y are, so each band of rows updates red row y
    /// then black row y - 1; only the black rows at the bands' edges, whose red neighbours belong to the next band,
    /// wait for all bands. The result is that of the two plain passes, bit for bit.
    func relax(omega: Float, threads: Int) {
        let w = width
        let (du, dv, right, down, a11, a12, a22, b1, b2) = (self.du, self.dv, self.right, self.down, self.a11, self.a12,
                                                           self.a22, self.b1, self.b2)
        // The row kernel is C (CSIMDMath): eight pixels of a colour at a time, with the scalar loop's rounding.
        @inline(__always) func relaxRow(_ y: Int, black: Bool) {
            csimd_sor_row(du, dv, right, down, a11, a12, a22, b1, b2, w, y * w + ((y + (black ? 1 : 0)) & 1), (y + 1) * w, omega)
        }
        let bands = rowBands(height, threads: threads)
        runConcurrently(bands) { rows in
            for y in rows {
                relaxRow(y, black: false)
                if y - 1 > rows.lowerBound { relaxRow(y - 1, black: true) }
            }
        }
        for rows in bands {
            relaxRow(rows.lowerBound, black: true)
            if rows.count > 1 { relaxRow(rows.upperBound - 1, black: true) }
        }
    }

    func applyIncrement() {
        for p in 0..<(width * height) {
            currentU[p] = baseU[p] + du[p]
            currentV[p] = baseV[p] + dv[p]
        }
    }

    var refinedU: [Float] { Array(UnsafeBufferPointer(start: currentU, count: width * height)) }
    var refinedV: [Float] { Array(UnsafeBufferPointer(start: currentV, count: width * height)) }
}

/// Rows (or other items) 0..<count in up to `threads` contiguous bands; one band when there are few: a band of
/// fewer than `minimumPerBand` items is not worth a thread hand-off.
private func rowBands(_ count: Int, threads: Int, minimumPerBand: Int = 16) -> [Range<Int>] {
    let bands = min(max(1, threads), max(1, count / minimumPerBand))
    return (0..<bands).map { (count * $0 / bands)..<(count * ($0 + 1) / bands) }
}

/// Runs `body` on each band, concurrently when there are several.
private func runConcurrently(_ bands: [Range<Int>], _ body: (Range<Int>) -> Void) {
    if bands.count == 1 { body(bands[0]); return }
    withoutActuallyEscaping(body) { body in
        // Bands are disjoint: each call writes only its own rows.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: bands.count) { body(bands[$0]) }
    }
}

/// Items 0..<count in bands (`rowBands`), run concurrently.
private func forEachBand(_ count: Int, threads: Int, minimumPerBand: Int = 16, _ body: (Range<Int>) -> Void) {
    runConcurrently(rowBands(count, threads: threads, minimumPerBand: minimumPerBand), body)
}

/// I(x + u, y + v) by bilinear interpolation, coordinates outside the frame taking the nearest border pixel.
func warpBilinear(_ image: GrayImage, u: [Float], v: [Float]) -> [Float] {
    let (w, h) = (image.width, image.height)
    var out = [Float](repeating: 0, count: w * h)
    image.pixels.withUnsafeBufferPointer { src in
        for y in 0..<h {
            for x in 0..<w {
                let p = y * w + x
                let sx = Float(x) + u[p], sy = Float(y) + v[p]
                guard sx.isFinite && sy.isFinite else { out[p] = src[p]; continue }
                let fx = sx.rounded(.down), fy = sy.rounded(.down)
                let ax = sx - fx, ay = sy - fy
                // Clamped in Float first, so a wild flow cannot overflow the Int conversion.
                let x0 = Int(min(max(fx, 0), Float(w - 1))), x1 = Int(min(max(fx + 1, 0), Float(w - 1)))
                let y0 = Int(min(max(fy, 0), Float(h - 1))), y1 = Int(min(max(fy + 1, 0), Float(h - 1)))
                let top = (1 - ax) * src[y0 * w + x0] + ax * src[y0 * w + x1]
                let bottom = (1 - ax) * src[y1 * w + x0] + ax * src[y1 * w + x1]
                out[p] = (1 - ay) * top + ay * bottom
            }
        }
    }
    return out
}

/// f(x + 1) - f(x - 1) with the border replicated (OpenCV's Sobel with ksize 1: no 1/2, no smoothing).
func derivativeX(_ f: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, width w: Int, height h: Int) {
    for y in 0..<h {
        for x in 0..<w { out[y * w + x] = f[y * w + min(x + 1, w - 1)] - f[y * w + max(x - 1, 0)] }
    }
}

/// f(y + 1) - f(y - 1) with the border replicated.
func derivativeY(_ f: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, width w: Int, height h: Int) {
    for y in 0..<h {
        let below = min(y + 1, h - 1) * w, above = max(y - 1, 0) * w
        for x in 0..<w { out[y * w + x] = f[below + x] - f[above + x] }
    }
}
