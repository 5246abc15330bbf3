// Conv2d: dense and grouped 2-D convolution over NCHW tensors, forward and backward.
// Dimension letters: N batch, C input channels, H x W input size, O output channels, KH x KW kernel size,
// OH x OW output size, P = OH * OW output pixels, G groups (each maps C/G = CG inputs to O/G = OG outputs),
// KD = CG * KH * KW (the im2col column height, i.e. the GEMM's inner dimension).
// Weights are (O, CG, KH, KW) and bias (O), as in PyTorch.
//
// Four forward paths: 1x1 stride-1 unpadded convolutions are one sgemm on the input as it lies (no im2col);
// depthwise convolutions (G == C == O) run a direct loop (DepthwiseConv2d.swift); ungrouped stride-1 convolutions
// with few outputs (O KH KW <= C, e.g. a flow head's 3x3 conv to 2 channels) are one sgemm to O KH KW channels (one
// per output and tap) whose shifted planes are summed, since im2col's column (C KH KW rows) would be the larger
// matrix; everything else is im2col over bands of output rows + sgemm. The backward is im2col + sgemm, col2im for
// the input gradient (or the direct loop for depthwise).
// Backward functions ACCUMULATE (+=) into the gradient tensors they are given (nil = not needed), so a tensor
// used by several layers collects all its gradients; the caller zeroes them once per step.

public struct Conv2dConfig: Equatable, Sendable {
    public var stride: Int
    public var padding: Int
    public var dilation: Int
    public var groups: Int

    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        precondition(stride >= 1 && padding >= 0 && dilation >= 1 && groups >= 1, "invalid conv config")
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    /// Output extent along one axis, as PyTorch computes it.
    public func outputSize(input: Int, kernel: Int) -> Int {
        (input + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1
    }
}

/// Output shape (N, O, OH, OW) of a convolution.
public func conv2dOutputShape(input: [Int], weight: [Int], config: Conv2dConfig) -> [Int] {
    [input[0], weight[0], config.outputSize(input: input[2], kernel: weight[2]),
     config.outputSize(input: input[3], kernel: weight[3])]
}

private func validateConv(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ config: Conv2dConfig) {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d: input \(x.shape) and weight \(weight.shape) must be 4-D")
    precondition(x.c % config.groups == 0 && weight.shape[0] % config.groups == 0
                 && weight.shape[1] == x.c / config.groups,
                 "conv2d: weight \(weight.shape) does not fit input \(x.shape) with \(config.groups) groups")
    if let bias { precondition(bias.count == weight.shape[0], "conv2d: bias \(bias.shape) for weight \(weight.shape)") }
    let outShape = conv2dOutputShape(input: x.shape, weight: weight.shape, config: config)
    precondition(outShape[2] > 0 && outShape[3] > 0, "conv2d: input \(x.shape) too small for weight \(weight.shape)")
}

private func isPointwise(_ weight: Tensor, _ config: Conv2dConfig) -> Bool {
    weight.shape[2] == 1 && weight.shape[3] == 1 && config.stride == 1 && config.padding == 0 && config.groups == 1
}

/// Whether the tap planes (O KH KW of them) are fewer than the input channels, for an ungrouped stride-1 kernel larger
/// than 1x1: then `tapPlanesForward` moves less memory than im2col.
private func hasFewOutputs(_ x: Tensor, _ weight: Tensor, _ config: Conv2dConfig) -> Bool {
    config.groups == 1 && config.stride == 1 && weight.shape[2] * weight.shape[3] > 1
        && weight.shape[0] * weight.shape[2] * weight.shape[3] <= x.c
}

/// y[n, o, oy, ox] = sum over taps (ky, kx) of z[n, o KK + ky KW + kx, oy - pad + ky dil, ox - pad + kx dil] (taps
/// outside the input read zero), z = W' x one sgemm over the input pixels, W'[o KK + k, c] = weight[o, c, k].
private func tapPlanesForward(input x: Tensor, weight: Tensor, config: Conv2dConfig, output y: Tensor) {
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let (O, KH, KW, OH, OW) = (y.c, weight.shape[2], weight.shape[3], y.h, y.w)
    let KK = KH * KW, pad = config.padding, dil = config.dilation
    let taps = Tensor(uninitializedShape: [O * KK, C])
    let wp = weight.data, tp = taps.data
    for o in 0..<O { for c in 0..<C { for k in 0..<KK { tp[(o * KK + k) * C + c] = wp[(o * C + c) * KK + k] } } }
    withScratch(O * KK * H * W) { z in
        nonisolated(unsafe) let (z, yp) = (z, y.data)  // each task writes its own output planes
        for n in 0..<N {
            sgemm(m: O * KK, n: H * W, k: C, a: tp, lda: C, b: x.data + n * C * H * W, ldb: H * W, beta: 0, c: z, ldc: H * W)
            parallelFor(O, itemCost: KK * OH * OW) { outputs in
                for o in outputs {
                    let out = yp + (n * O + o) * OH * OW
                    out.update(repeating: 0, count: OH * OW)
                    for ky in 0..<KH {
                        // Output rows whose tap row lies inside the input.
                        let dy = ky * dil - pad
                        let oy0 = max(0, -dy), oy1 = min(OH, H - dy)
                        guard oy0 < oy1 else { continue }
                        for kx in 0..<KW {
                            let dx = kx * dil - pad
                            let ox0 = max(0, -dx), ox1 = min(OW, W - dx)
                            guard ox0 < ox1 else { continue }
                            let plane = z + (o * KK + ky * KW + kx) * H * W
                            for oy in oy0..<oy1 {
                                let src = plane + (oy + dy) * W + dx, dst = out + oy * OW
                                for ox in ox0..<ox1 { dst[ox] += src[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
}

private func isDepthwise(_ x: Tensor, _ weight: Tensor, _ config: Conv2dConfig) -> Bool {
    config.groups > 1 && config.groups == x.c && weight.shape[0] == x.c
}

/// y = conv2d(x, weight) + bias, returns a new (N, O, OH, OW) tensor.
public func conv2dForward(input x: Tensor, weight: Tensor, bias: Tensor?, config: Conv2dConfig = Conv2dConfig()) -> Tensor {
    validateConv(x, weight, bias, config)
    if isDepthwise(x, weight, config) { return depthwiseConv2dForward(input: x, weight: weight, bias: bias, config: config) }
    // Every element is written by sgemm with beta = 0.
    let y = Tensor(uninitializedShape: conv2dOutputShape(input: x.shape, weight: weight.shape, config: config))
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let (O, OH, OW) = (y.c, y.h, y.w)
    let P = OH * OW
    if isPointwise(weight, config) {
        for n in 0..<N {
            sgemm(m: O, n: P, k: C, a: weight.data, lda: C, b: x.data + n * C * H * W, ldb: H * W,
                  beta: 0, c: y.data + n * O * P, ldc: P)
        }
    } else if hasFewOutputs(x, weight, config) {
        tapPlanesForward(input: x, weight: weight, config: config, output: y)
    } else {
        let geometry = Im2colGeometry(x: x, weight: weight, config: config, outH: OH, outW: OW)
        let (G, CG, OG, KD) = (config.groups, C / config.groups, O / config.groups, geometry.columnHeight)
        let rowsPerBand = geometry.rowsPerBand
        withScratch(KD * rowsPerBand * OW) { col in
            for n in 0..<N {
                for g in 0..<G {
                    let xg = x.data + (n * C + g * CG) * H * W
                    for oy0 in stride(from: 0, to: OH, by: rowsPerBand) {
                        let oy1 = min(OH, oy0 + rowsPerBand)
                        geometry.im2col(xg, oy0: oy0, oy1: oy1, col: col)
                        sgemm(m: OG, n: (oy1 - oy0) * OW, k: KD, a: weight.data + g * OG * KD, lda: KD,
                              b: col, ldb: (oy1 - oy0) * OW, beta: 0,
                              c: y.data + (n * O + g * OG) * P + oy0 * OW, ldc: P)
                    }
                }
            }
        }
    }
    if let bias { addChannelBias(y, bias) }
    return y
}

/// A 1x1 convolution of the channel concatenation of `parts` (weight [O, sum of channels, 1, 1]) without building
/// the concatenation: one sgemm per part on the weight's columns of that part. A part whose tensor is nil is left out
/// (its columns unused), `bias` is added when given and `base` ([N, O, H, W]) too: so a part that does not change
/// between calls can be multiplied once and passed back as `base`.
public func pointwiseConvForward(parts: [(tensor: Tensor?, channels: Int)], weight: Tensor, bias: Tensor?,
                                 base: Tensor? = nil) -> Tensor {
    let C = parts.reduce(0) { $0 + $1.channels }, O = weight.shape[0]
    precondition(weight.shape == [O, C, 1, 1], "pointwise conv: weight \(weight.shape) for \(C) input channels")
    guard let first = (parts.compactMap(\.tensor).first ?? base) else { preconditionFailure("pointwise conv: no input") }
    let (N, H, W) = (first.n, first.h, first.w)
    for part in parts {
        if let t = part.tensor { checkShape(t, [N, part.channels, H, W], "pointwise conv part") }
    }
    if let base { checkShape(base, [N, O, H, W], "pointwise conv base") }
    let y = base?.copy() ?? Tensor(shape: [N, O, H, W])
    let P = H * W
    var offset = 0
    for part in parts {
        defer { offset += part.channels }
        guard let t = part.tensor else { continue }
        for n in 0..<N {
            sgemm(m: O, n: P, k: part.channels, a: weight.data + offset, lda: C, b: t.data + n * part.channels * P, ldb: P,
                  beta: 1, c: y.data + n * O * P, ldc: P)
        }
    }
    if let bias { addChannelBias(y, bias) }
    return y
}

/// Accumulates dL/dx, dL/dweight and dL/dbias given dL/dy (any of the three may be nil).
public func conv2dBackward(input x: Tensor, weight: Tensor, config: Conv2dConfig = Conv2dConfig(), gradOutput dy: Tensor,
                           gradInput dx: Tensor?, gradWeight dw: Tensor?, gradBias db: Tensor?) {
    validateConv(x, weight, db, config)
    checkShape(dy, conv2dOutputShape(input: x.shape, weight: weight.shape, config: config), "conv2d gradOutput")
    checkShape(dx, x.shape, "conv2d gradInput")
    checkShape(dw, weight.shape, "conv2d gradWeight")
    if isDepthwise(x, weight, config) {
        depthwiseConv2dBackward(input: x, weight: weight, config: config, gradOutput: dy,
                                gradInput: dx, gradWeight: dw, gradBias: db)
        return
    }
    let (N, C, H, W) = (x.n, x.c, x.h, x.w)
    let (O, OH, OW) = (dy.c, dy.h, dy.w)
    let P = OH * OW
    if isPointwise(weight, config) {
        for n in 0..<N {
            let xn = x.data + n * C * H * W, dyn = dy.data + n * O * P
            // dW (O x C) += dY (O x P) * X^T (P x C)
            if let dw { sgemm(transB: true, m: O, n: C, k: P, a: dyn, lda: P, b: xn, ldb: P, beta: 1, c: dw.data, ldc: C) }
            // dX (C x P) += W^T (C x O) * dY (O x P)
            if let dx {
                sgemm(transA: true, m: C, n: P, k: O, a: weight.data, lda: C, b: dyn, ldb: P,
                      beta: 1, c: dx.data + n * C * H * W, ldc: P)
            }
        }
    } else if dx != nil || dw != nil {
        let geometry = Im2colGeometry(x: x, weight: weight, config: config, outH: OH, outW: OW)
        let (G, CG, OG, KD) = (config.groups, C / config.groups, O / config.groups, geometry.columnHeight)
        let rowsPerBand = geometry.rowsPerBand
        withScratch(KD * rowsPerBand * OW) { col in
            for n in 0..<N {
                for g in 0..<G {
                    let xg = x.data + (n * C + g * CG) * H * W
                    let wg = weight.data + g * OG * KD
                    for oy0 in stride(from: 0, to: OH, by: rowsPerBand) {
                        let oy1 = min(OH, oy0 + rowsPerBand)
                        let width = (oy1 - oy0) * OW
                        let dyBand = dy.data + (n * O + g * OG) * P + oy0 * OW
                        if let dw {
                            // dWg (OG x KD) += dY band (OG x width) * col^T (width x KD)
                            geometry.im2col(xg, oy0: oy0, oy1: oy1, col: col)
                            sgemm(transB: true, m: OG, n: KD, k: width, a: dyBand, lda: P, b: col, ldb: width,
                                  beta: 1, c: dw.data + g * OG * KD, ldc: KD)
                        }
                        if let dx {
                            // dcol (KD x width) = Wg^T (KD x OG) * dY band (OG x width), then scatter-add into dX
                            sgemm(transA: true, m: KD, n: width, k: OG, a: wg, lda: KD, b: dyBand, ldb: P,
                                  beta: 0, c: col, ldc: width)
                            geometry.col2im(col, oy0: oy0, oy1: oy1, into: dx.data + (n * C + g * CG) * H * W)
                        }
                    }
                }
            }
        }
    }
    if let db { accumulateChannelBiasGradient(dy, db) }
}

/// y[n, o, :, :] += bias[o]
func addChannelBias(_ y: Tensor, _ bias: Tensor) {
    let planes = y.shape[0] * y.shape[1], C = y.shape[1], plane = y.count / max(planes, 1)
    let yp = y.data, bp = bias.data
    parallelFor(planes, itemCost: plane) { range in
        for index in range {
            let b = bp[index % C]
            let row = yp + index * plane
            for i in 0..<plane { row[i] += b }
        }
    }
}

/// db[o] += sum over n, pixels of dy[n, o, :, :]
func accumulateChannelBiasGradient(_ dy: Tensor, _ db: Tensor) {
    let N = dy.shape[0], C = dy.shape[1], plane = dy.count / max(N * C, 1)
    let dyp = dy.data, dbp = db.data
    parallelFor(C, itemCost: N * plane) { range in
        for c in range {
            var sum: Float = 0
            for n in 0..<N { sum += sumOf(dyp + (n * C + c) * plane, plane) }
            dbp[c] += sum
        }
    }
}

/// Sum of `count` floats with eight partial sums (vectorisable).
@inline(__always)
func sumOf(_ a: UnsafePointer<Float>, _ count: Int) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
    var i = 0
    while i &+ 8 <= count {
        s0 += a[i]; s1 += a[i &+ 1]; s2 += a[i &+ 2]; s3 += a[i &+ 3]
        s4 += a[i &+ 4]; s5 += a[i &+ 5]; s6 += a[i &+ 6]; s7 += a[i &+ 7]
        i &+= 8
    }
    var tail: Float = 0
    while i < count { tail += a[i]; i &+= 1 }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + tail
}
