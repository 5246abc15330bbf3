import Foundation
import NN

/// Synthetic pairs with exact flow from still photos (data.py `SyntheticPairs`): 2-3 layers (a background and
/// 1-2 elliptical cut-outs), each a photo moved by its own random similarity transform plus translation. Frame t
/// shows texture point A_t^-1 p at pixel p, so the flow of frame 0 is A1 A0^-1 p - p for the top layer at p.
/// Differences from the reference: samples outside the texture clamp to its edge (cv2 reflects), and textures are
/// resized bilinearly. Extensions (defaults = the reference): translations skewed towards small ones
/// (`shiftPower`), up to `maxLayers` layers, a texture margin that grows
/// with `maxShift` beyond 32 px (so that large moves do not sample past the photo's edge), and optional
/// photometric `jitter` (contrast, brightness, saturation shared by both frames, plus a small per-frame brightness
/// change and noise) so that a supervised warm-up does not assume exact brightness constancy, and optional
/// `motionBlur`: each frame averaged along its own motion over a random exposure, as a camera's shutter does
/// (Sintel's "final" pass and most real video), which affine layers of sharp photos never show; and irregular
/// cut-outs (`shape: .blob`, see `SyntheticShape`) with wider rotations and scalings (`maxRotation`, `maxZoom`),
/// closer to FlyingChairs' objects than ellipses are.
public final class SyntheticPairSource: ConcurrentTrainingPairSource {
    public let name = "synthetic"
    public let height: Int, width: Int
    public let maxShift: Float
    public let shiftPower: Float
    public let maxLayers: Int
    public let jitter: Bool
    /// Longest exposure as a fraction of the frame interval (0: sharp frames). Each pair draws its exposure
    /// uniformly in [0, motionBlur], so a blurred pair's streaks are up to this fraction of its motion.
    public let motionBlur: Float
    /// The cut-outs' outline.
    public let shape: SyntheticShape
    /// Largest rotation (degrees) and log-scale change of a layer between the two frames.
    public let maxRotation: Float, maxZoom: Float
    private let margin: Int
    private let textures: [Tensor]  // [1,3,height+margin,width+margin]

    public init(photos: [FrameImage], height: Int, width: Int, maxShift: Float = 12, shiftPower: Float = 1, maxLayers: Int = 3,
                jitter: Bool = false, motionBlur: Float = 0, shape: SyntheticShape = .ellipse, maxRotation: Float = 5, maxZoom: Float = 0.05) {
        precondition(!photos.isEmpty, "synthetic pairs need at least one photo")
        precondition(motionBlur >= 0 && motionBlur <= 1, "motion blur is an exposure fraction in [0, 1]")
        precondition(maxLayers >= 2, "synthetic pairs need a background and at least one layer")
        self.height = height; self.width = width; self.maxShift = maxShift; self.shiftPower = shiftPower; self.maxLayers = maxLayers; self.jitter = jitter
        self.motionBlur = motionBlur
        precondition(maxRotation >= 0 && maxZoom >= 0, "rotation and zoom ranges are magnitudes")
        self.shape = shape; self.maxRotation = maxRotation; self.maxZoom = maxZoom
        let margin = max(64, Int((2 * maxShift).rounded(.up)))
        self.margin = margin
        textures = photos.map {
            resizeBilinearForward(Tensor(shape: [1, 3, $0.height, $0.width], values: $0.planar), height: height + margin, width: width + margin)
        }
    }

    /// 2x3 affine [a b c; d e f] as a tuple of rows.
    typealias Affine = (Double, Double, Double, Double, Double, Double)

    static func compose(_ m: Affine, _ n: Affine) -> Affine {  // m * n
        (m.0 * n.0 + m.1 * n.3, m.0 * n.1 + m.1 * n.4, m.0 * n.2 + m.1 * n.5 + m.2,
         m.3 * n.0 + m.4 * n.3, m.3 * n.1 + m.4 * n.4, m.3 * n.2 + m.4 * n.5 + m.5)
    }

    static func inverse(_ m: Affine) -> Affine {
        let det = m.0 * m.4 - m.1 * m.3
        let a = m.4 / det, b = -m.1 / det, d = -m.3 / det, e = m.0 / det
        return (a, b, -(a * m.2 + b * m.5), d, e, -(d * m.2 + e * m.5))
    }

    private func motion(_ rng: inout TrainingRNG, cx: Double, cy: Double) -> Affine {
        let angle = Double(rng.uniform(-maxRotation, maxRotation)) * .pi / 180, scale = exp(Double(rng.uniform(-maxZoom, maxZoom)))
        let tx = translation(&rng), ty = translation(&rng)
        let c = scale * cos(angle), s = scale * sin(angle)
        return (c, -s, cx - c * cx + s * cy + tx, s, c, cy - s * cx - c * cy + ty)
    }

    /// One translation component: uniform in +-maxShift, or with `shiftPower` p > 1, maxShift x u^p with a random
    /// sign (u uniform in [0, 1)): mostly small motions with a long tail of large ones, as in real video.
    private func translation(_ rng: inout TrainingRNG) -> Double {
        guard shiftPower != 1 else { return Double(rng.uniform(-maxShift, maxShift)) }
        let signed = rng.uniform(-1, 1)
        return Double(maxShift * (signed < 0 ? -1 : 1) * pow(abs(signed), shiftPower))
    }

    public func sample(_ rng: inout TrainingRNG) throws -> TrainingSample {
        let (frames, flow) = render(&rng, firstFrameOnly: false)
        return TrainingSample(first: FrameImage(width: width, height: height, planar: frames[0]),
                              second: FrameImage(width: width, height: height, planar: frames[1]), flow: flow)
    }

    /// The first frame of the pair `sample` would make from the same generator state, without rendering,
    /// blurring or jittering the second (it draws nothing that the first frame depends on).
    public func sampleFrame(_ rng: inout TrainingRNG) throws -> FrameImage {
        FrameImage(width: width, height: height, planar: render(&rng, firstFrameOnly: true).frames[0])
    }

    /// Both frames (or the first only; the second stays empty) and frame 1's exact flow.
    private func render(_ rng: inout TrainingRNG, firstFrameOnly: Bool) -> (frames: [[Float]], flow: [Float]) {
        let (h, w) = (height, width), plane = h * w
        let th = h + margin, tw = w + margin, half = Float(margin / 2)
        var frames = [[Float](repeating: 0, count: 3 * plane), [Float](repeating: 0, count: firstFrameOnly ? 0 : 3 * plane)]
        var flow = [Float](repeating: 0, count: 2 * plane)
        // Frame 1's own motion (the displacement that brought each of its pixels there), for its motion blur.
        var arrival = [Float](repeating: 0, count: motionBlur > 0 && !firstFrameOnly ? 2 * plane : 0)
        let layers = 2 + rng.below(maxLayers - 1)
        for layer in 0..<layers {
            let texture = textures[rng.below(textures.count)]
            let a0: Affine = (1, 0, -Double(rng.uniform(0, Float(margin))), 0, 1, -Double(rng.uniform(0, Float(margin))))
            let a1 = Self.compose(motion(&rng, cx: Double(w) / 2, cy: Double(h) / 2), a0)
            // The cut-out's outline in texture coordinates (the background layer covers everything).
            let outline = CutoutOutline(shape, frameWidth: w, frameHeight: h, half: half, rng: &rng)
            func inside(_ x: Double, _ y: Double) -> Bool { layer == 0 || outline.contains(x, y) }
            let moved = Self.compose(a1, Self.inverse(a0)), cameFrom = Self.compose(a0, Self.inverse(a1))
            let poses: [Affine] = firstFrameOnly ? [a0] : [a0, a1]
            for (t, a) in poses.enumerated() {
                let inv = Self.inverse(a)
                frames[t].withUnsafeMutableBufferPointer { frame in
                    flow.withUnsafeMutableBufferPointer { flow in arrival.withUnsafeMutableBufferPointer { arrival in
                        for y in 0..<h {
                            for x in 0..<w {
                                let px = Double(x), py = Double(y)
                                let sx = inv.0 * px + inv.1 * py + inv.2, sy = inv.3 * px + inv.4 * py + inv.5
                                guard inside(sx.rounded(), sy.rounded()) else { continue }
                                // Bilinear sample, clamped to the texture.
                                let cx = min(max(sx, 0), Double(tw - 1)), cy = min(max(sy, 0), Double(th - 1))
                                let x0 = min(Int(cx), tw - 2), y0 = min(Int(cy), th - 2)
                                let fx = Float(cx - Double(x0)), fy = Float(cy - Double(y0))
                                for c in 0..<3 {
                                    let base = texture.data + c * th * tw + y0 * tw + x0
                                    let top = (1 - fx) * base[0] + fx * base[1], bottom = (1 - fx) * base[tw] + fx * base[tw + 1]
                                    frame[c * plane + y * w + x] = (1 - fy) * top + fy * bottom
                                }
                                if t == 0 {
                                    flow[y * w + x] = Float(moved.0 * px + moved.1 * py + moved.2 - px)
                                    flow[plane + y * w + x] = Float(moved.3 * px + moved.4 * py + moved.5 - py)
                                } else if !arrival.isEmpty {
                                    arrival[y * w + x] = Float(px - (cameFrom.0 * px + cameFrom.1 * py + cameFrom.2))
                                    arrival[plane + y * w + x] = Float(py - (cameFrom.3 * px + cameFrom.4 * py + cameFrom.5))
                                }
                            }
                        }
                    } }
                }
            }
        }
        if motionBlur > 0 {
            // Drawn after the geometry, so a seed gives the same flow with or without blur.
            let exposure = rng.uniform(0, motionBlur)
            frames[0] = Self.blurAlongMotion(frames[0], motion: flow, exposure: exposure, height: h, width: w)
            if !firstFrameOnly {
                frames[1] = Self.blurAlongMotion(frames[1], motion: arrival, exposure: exposure, height: h, width: w)
            }
        }
        // Frame 0 is jittered first, so its draws do not depend on whether frame 1 follows.
        if jitter { Self.photometricJitter(&frames, plane: plane, rng: &rng) }
        return (frames, flow)
    }

    /// Each pixel averaged over the points it passes during the exposure, centred on the frame's time: samples
    /// of the sharp frame at p + s m(p) for s in [-exposure/2, exposure/2], one per pixel of streak length (at most
    /// 16), bilinear and clamped to the frame. Sampling along the pixel's own motion ignores what moves across it,
    /// so a layer's edge is smeared on its own side only: close enough to a shutter for training.
    static func blurAlongMotion(_ frame: [Float], motion: [Float], exposure: Float, height h: Int, width w: Int) -> [Float] {
        let plane = h * w
        var blurred = frame
        frame.withUnsafeBufferPointer { sharp in
            blurred.withUnsafeMutableBufferPointer { out in
                for y in 0..<h {
                    for x in 0..<w {
                        let p = y * w + x
                        let mx = motion[p] * exposure, my = motion[plane + p] * exposure
                        let samples = min(16, Int((mx * mx + my * my).squareRoot().rounded(.up)) + 1)
                        guard samples > 1 else { continue }
                        var sum: (Float, Float, Float) = (0, 0, 0)
                        for k in 0..<samples {
                            let s = Float(k) / Float(samples - 1) - 0.5
                            let sx = min(max(Float(x) + s * mx, 0), Float(w - 1)), sy = min(max(Float(y) + s * my, 0), Float(h - 1))
                            let x0 = min(Int(sx), w - 2), y0 = min(Int(sy), h - 2)
                            let fx = sx - Float(x0), fy = sy - Float(y0)
                            func tap(_ c: Int) -> Float {
                                let base = c * plane + y0 * w + x0
                                let top = (1 - fx) * sharp[base] + fx * sharp[base + 1]
                                let bottom = (1 - fx) * sharp[base + w] + fx * sharp[base + w + 1]
                                return (1 - fy) * top + fy * bottom
                            }
                            sum.0 += tap(0); sum.1 += tap(1); sum.2 += tap(2)
                        }
                        let n = Float(samples)
                        out[p] = sum.0 / n; out[plane + p] = sum.1 / n; out[2 * plane + p] = sum.2 / n
                    }
                }
            }
        }
        return blurred
    }

    /// Contrast and brightness x[0.7, 1.3] / +-0.08 and saturation x[0.6, 1.4] for both frames, then per frame a
    /// brightness change of +-0.02 and uniform noise of up to +-0.02; clamped to [0, 1].
    static func photometricJitter(_ frames: inout [[Float]], plane: Int, rng: inout TrainingRNG) {
        let contrast = rng.uniform(0.7, 1.3), brightness = rng.uniform(-0.08, 0.08), saturation = rng.uniform(0.6, 1.4)
        for t in frames.indices where !frames[t].isEmpty {
            let shift = brightness + rng.uniform(-0.02, 0.02), noise = rng.uniform(0, 0.02)
            frames[t].withUnsafeMutableBufferPointer { rgb in
                for p in 0..<plane {
                    let r = rgb[p], g = rgb[plane + p], b = rgb[2 * plane + p]
                    let gray = 0.299 * r + 0.587 * g + 0.114 * b
                    for c in 0..<3 {
                        let value = gray + saturation * (rgb[c * plane + p] - gray)
                        let jittered = (value - 0.5) * contrast + 0.5 + shift + noise * (2 * rng.uniform() - 1)
                        rgb[c * plane + p] = min(max(jittered, 0), 1)
                    }
                }
            }
        }
    }
}
