import FlowIO
import FlowRefinement
import NN

/// Two frames of any size -> the full-resolution flow from the first to the second (pixels of the frames).
/// Pads to a multiple of 64 (edge replication) and crops back, as the reference's `estimate_flow`; with
/// `maxSide` the flow is estimated on shrunk frames and resized back with its values scaled by the size ratio.
///
/// With `flipAverage`, the flow is the mean of the pair's flow and the mirrored pair's flow mirrored back (u
/// negated): a test-time augmentation that cancels part of the network's left/right bias, for twice the work.
/// On the built-in weights it helps the network alone a little on flow-dev (EPE against DIS medium's, geometric mean
/// over the pairs: 1.94x -> 1.86x) and not the refined flow (0.81x either way, with the search's previous parameters).
///
/// The network's flow ends in `FeatureAlignment` (`alignmentIterations` Gauss-Newton steps on the level-1 features;
/// 0 gives the decoder's flow alone), on each pair of the flip average separately. By default it runs only when no
/// refiner follows: the seeded search does the same job at full resolution on the frames, and seeding it with the
/// aligned flow did not help (flow-dev, EPE against DIS medium's in geometric mean: 0.811x against 0.808x).
///
/// With `refinement`, the network's flow (after flip averaging, at the frames' full size) seeds a refiner on the
/// frames' luma: `SeededDISSearch` (OpenCV's DIS started from the network's flow, the default of `flow`) or
/// `CoarseToFineRefinement` (a variational refinement). The network finds the motion, the refiner sharpens it to
/// sub-pixel precision and motion edges, which the network's 1/8-resolution decoder blurs.
public final class FlowEstimator {
    public let encoder: ContentEncoder
    public let flipAverage: Bool
    public let alignmentIterations: Int
    public let refinement: (any FlowRefiner)?
    public var model: MCJEPAModel { encoder.model }

    public init(model: MCJEPAModel, maxSide: Int? = nil, flipAverage: Bool = false,
                alignmentIterations: Int? = nil, refinement: (any FlowRefiner)? = nil) {
        let iterations = alignmentIterations ?? (refinement == nil ? FeatureAlignment.defaultIterations : 0)
        precondition(FeatureAlignment.iterationRange.contains(iterations),
                     "alignment iterations \(iterations) not in \(FeatureAlignment.iterationRange)")
        encoder = ContentEncoder(model: model, maxSide: maxSide)
        self.flipAverage = flipAverage
        self.alignmentIterations = iterations
        self.refinement = refinement
    }

    public func features(_ frame: FrameImage) -> FrameFeatures {
        var features = encoder.features(frame, mirrored: flipAverage)
        if refinement != nil { features.luma = GrayImage(width: frame.width, height: frame.height, planarRGB: frame.planar) }
        return features
    }

    /// Flow from the frame of `first` to that of `second` (swap them for backward flow).
    public func flow(from first: FrameFeatures, to second: FrameFeatures) -> FlowField {
        precondition(first.width == second.width && first.height == second.height,
                     "flow: frames are \(first.width)x\(first.height) and \(second.width)x\(second.height)")
        precondition(!flipAverage || (first.mirroredPyramid != nil && second.mirroredPyramid != nil),
                     "flow: flip averaging needs features from this estimator's features(_:)")
        let full = first.padder.unpad(networkFlow(first.pyramid, second.pyramid))
        let (w, h) = (first.inferenceWidth, first.inferenceHeight)
        var u = Array(UnsafeBufferPointer(start: full.data, count: w * h))
        var v = Array(UnsafeBufferPointer(start: full.data + w * h, count: w * h))
        if flipAverage, let mirrored1 = first.mirroredPyramid, let mirrored2 = second.mirroredPyramid {
            // The mirrored pair's flow at x is the pair's at W - 1 - x, with u pointing the other way.
            let mirrored = first.padder.unpad(networkFlow(mirrored1, mirrored2))
            for y in 0..<h {
                let mu = mirrored.data + y * w, mv = mirrored.data + w * h + y * w
                for x in 0..<w {
                    u[y * w + x] = 0.5 * (u[y * w + x] - mu[w - 1 - x])
                    v[y * w + x] = 0.5 * (v[y * w + x] + mv[w - 1 - x])
                }
            }
        }
        var field = FlowField(width: w, height: h, u: u, v: v)
        if w != first.width || h != first.height { field = field.resized(width: first.width, height: first.height) }
        guard let refinement else { return field }
        guard let luma1 = first.luma, let luma2 = second.luma else {
            preconditionFailure("flow: refinement needs features from this estimator's features(_:)")
        }
        return refinement.refine(field, from: luma1, to: luma2)
    }

    /// The decoder's full-size flow on padded frames, aligned on their level-1 features.
    private func networkFlow(_ pyramid1: [Tensor], _ pyramid2: [Tensor]) -> Tensor {
        FeatureAlignment.align(model.flow(pyramid1, pyramid2).full, features1: pyramid1[FeatureAlignment.level - 1],
                               features2: pyramid2[FeatureAlignment.level - 1], iterations: alignmentIterations)
    }

    /// Convenience for one isolated pair (encodes both frames).
    public func flow(_ first: FrameImage, _ second: FrameImage) -> FlowField {
        flow(from: features(first), to: features(second))
    }
}
