/// A dense optical-flow field: for each pixel of frame 1, the displacement (u right, v down, in pixels) to its
/// position in frame 2, and whether that displacement is known (ground truth is often sparse or occluded).
/// Arrays are row-major: index = y * width + x.
public struct FlowField: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var u: [Float]
    public var v: [Float]
    /// false where the flow is unknown; u and v there are meaningless (kept as 0 by the readers).
    public var valid: [Bool]

    public init(width: Int, height: Int, u: [Float], v: [Float], valid: [Bool]? = nil) {
        precondition(width >= 0 && height >= 0, "negative flow size")
        precondition(u.count == width * height && v.count == width * height, "u/v size does not match \(width)x\(height)")
        precondition(valid == nil || valid!.count == width * height, "validity size does not match \(width)x\(height)")
        self.width = width
        self.height = height
        self.u = u
        self.v = v
        self.valid = valid ?? [Bool](repeating: true, count: width * height)
    }

    /// An all-zero, all-valid field (the zero-motion baseline).
    public static func zero(width: Int, height: Int) -> FlowField {
        let n = width * height
        return FlowField(width: width, height: height, u: [Float](repeating: 0, count: n),
                         v: [Float](repeating: 0, count: n))
    }

    public var pixelCount: Int { width * height }
    public var validCount: Int { valid.reduce(0) { $0 + ($1 ? 1 : 0) } }

    public func magnitude(at index: Int) -> Float { (u[index] * u[index] + v[index] * v[index]).squareRoot() }

    /// Per-pixel |(u, v)|, 0 where unknown.
    public func magnitudes() -> [Float] {
        (0..<pixelCount).map { valid[$0] ? magnitude(at: $0) : 0 }
    }

    /// The largest |(u, v)| over known pixels (0 if none): the natural normaliser for one picture.
    public var maxMagnitude: Float {
        var best: Float = 0
        for i in 0..<pixelCount where valid[i] {
            let m = magnitude(at: i)
            if m.isFinite && m > best { best = m }
        }
        return best
    }

    /// A copy with every displacement multiplied by (sx, sy); validity is unchanged.
    public func scaled(x sx: Float, y sy: Float) -> FlowField {
        FlowField(width: width, height: height, u: u.map { $0 * sx }, v: v.map { $0 * sy }, valid: valid)
    }

    /// The field at another resolution. Displacements are in pixels, so they are multiplied by the size ratio.
    /// Sampling is bilinear at pixel centres (PyTorch's align_corners=False) and uses only known neighbours,
    /// renormalising their weights, so sparse ground truth (KITTI) does not shrink to nothing; a pixel is known
    /// if any neighbour with non-zero weight is.
    public func resized(width newWidth: Int, height newHeight: Int) -> FlowField {
        precondition(newWidth > 0 && newHeight > 0, "resize to an empty size")
        guard width > 0, height > 0 else { return FlowField.zero(width: newWidth, height: newHeight) }
        let sx = Float(newWidth) / Float(width), sy = Float(newHeight) / Float(height)
        let n = newWidth * newHeight
        var outU = [Float](repeating: 0, count: n), outV = outU
        var outValid = [Bool](repeating: false, count: n)
        for oy in 0..<newHeight {
            let fy = min(max((Float(oy) + 0.5) / sy - 0.5, 0), Float(height - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, height - 1), wy = fy - Float(y0)
            for ox in 0..<newWidth {
                let fx = min(max((Float(ox) + 0.5) / sx - 0.5, 0), Float(width - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, width - 1), wx = fx - Float(x0)
                var su: Float = 0, sv: Float = 0, sw: Float = 0
                // The four neighbours unrolled (a literal array of them here was a heap allocation per pixel).
                @inline(__always) func add(_ index: Int, _ weight: Float) {
                    guard weight > 0 && valid[index] else { return }
                    su += weight * u[index]
                    sv += weight * v[index]
                    sw += weight
                }
                add(y0 * width + x0, (1 - wx) * (1 - wy))
                add(y0 * width + x1, wx * (1 - wy))
                add(y1 * width + x0, (1 - wx) * wy)
                add(y1 * width + x1, wx * wy)
                let o = oy * newWidth + ox
                if sw > 0 {
                    outU[o] = su / sw * sx
                    outV[o] = sv / sw * sy
                    outValid[o] = true
                }
            }
        }
        return FlowField(width: newWidth, height: newHeight, u: outU, v: outV, valid: outValid)
    }

    /// The rectangle [x, x+width) x [y, y+height); displacements are unchanged (cropping does not rescale).
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) throws -> FlowField {
        guard x >= 0, y >= 0, cropWidth >= 0, cropHeight >= 0, x + cropWidth <= width, y + cropHeight <= height else {
            throw FlowIOError(file: "", reason: "crop \(cropWidth)x\(cropHeight)+\(x)+\(y) lies outside the \(width)x\(height) flow")
        }
        var outU = [Float](), outV = [Float](), outValid = [Bool]()
        outU.reserveCapacity(cropWidth * cropHeight)
        outV.reserveCapacity(cropWidth * cropHeight)
        outValid.reserveCapacity(cropWidth * cropHeight)
        for row in y..<(y + cropHeight) {
            let range = (row * width + x)..<(row * width + x + cropWidth)
            outU += u[range]
            outV += v[range]
            outValid += valid[range]
        }
        return FlowField(width: cropWidth, height: cropHeight, u: outU, v: outV, valid: outValid)
    }
}
