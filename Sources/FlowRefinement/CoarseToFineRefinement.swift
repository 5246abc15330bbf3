import FlowIO

/// Variational refinement of an initial flow over an image pyramid: the flow is shrunk to 1/`coarsestScale` of the
/// frame size, refined there, enlarged to twice the size, refined again, and so on up to full resolution.
///
/// Why a pyramid: one refinement linearises the images around the initial flow, so it can only correct errors of
/// about a pixel. At 1/16 size an error of 16 px is one pixel, so a coarse-to-fine schedule corrects the
/// network's medium errors as well as its sub-pixel ones (the network's flow comes from a 1/8-resolution decoder
/// through x8 bilinear upsampling, which blurs motion edges and fine motion).
///
/// The schedule (start at 1/16, OpenCV's refinement constants) was chosen by its figures on held-out synthetic
/// pairs; flow-dev ranks the alternatives the same way and tuned nothing (`Sources/MCJEPA/Weights/README.md`).
public struct CoarseToFineRefinement: Equatable, Sendable {
    /// The refinement run at every level.
    public var refinement = VariationalRefinement()
    /// The first level's size is the frame's divided by this (a power of two).
    public var coarsestScale = 16
    /// Levels whose shorter side would fall below this many pixels are skipped.
    public var minimumSide = 16

    public init(refinement: VariationalRefinement = VariationalRefinement(), coarsestScale: Int = 16) {
        precondition(coarsestScale >= 1 && coarsestScale & (coarsestScale - 1) == 0, "coarsestScale must be a power of two")
        self.refinement = refinement
        self.coarsestScale = coarsestScale
    }

    /// The pyramid's divisors for a frame size, coarsest first, ending with 1 (full resolution).
    public func scales(width: Int, height: Int) -> [Int] {
        var scale = coarsestScale
        while scale > 1 && min(width, height) / scale < minimumSide { scale /= 2 }
        var scales: [Int] = []
        while scale >= 1 { scales.append(scale); scale /= 2 }
        return scales
    }

    /// `flow` (from `first` to `second`, the frames' size) refined; validity is kept from the input.
    public func refine(_ flow: FlowField, from first: GrayImage, to second: GrayImage) -> FlowField {
        precondition(flow.width == first.width && flow.height == first.height,
                     "refinement: \(flow.width)x\(flow.height) flow for \(first.width)x\(first.height) frames")
        let (w, h) = (first.width, first.height)
        var level: FlowField?
        for scale in scales(width: w, height: h) {
            let (lw, lh) = (max(1, w / scale), max(1, h / scale))
            var current: FlowField
            if let previous = level {
                current = previous.resized(width: lw, height: lh)
            } else {
                // The initial flow at the coarsest size: area-averaged like the images, displacements rescaled.
                let sx = Float(lw) / Float(w), sy = Float(lh) / Float(h)
                current = FlowField(width: lw, height: lh,
                                    u: areaShrink(flow.u, width: w, height: h, to: lw, lh).map { $0 * sx },
                                    v: areaShrink(flow.v, width: w, height: h, to: lw, lh).map { $0 * sy })
            }
            let a = scale == 1 ? first : first.areaShrunk(width: lw, height: lh)
            let b = scale == 1 ? second : second.areaShrunk(width: lw, height: lh)
            refinement.refine(u: &current.u, v: &current.v, from: a, to: b)
            level = current
        }
        var refined = level!
        refined.valid = flow.valid
        return refined
    }
}
