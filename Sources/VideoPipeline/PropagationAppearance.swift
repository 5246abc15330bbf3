import MCJEPA
import Segmentation

/// What the appearance step of flow-guided propagation compares from frame to frame (the affinity of
/// `LabelPropagation`: cosine similarity of cell descriptors, temperature, top-k).
///
/// The model's stride-8 features and raw colour fail differently: colour confuses an object with background of
/// its colour, and the features blur the colour edges that separate an object from what touches it. `both` asks
/// each cell to match on both; `separate` keeps them apart and lets the fusion pick per pixel. How each fares
/// under the current defaults, and why the default is what it is, is in the model card's video object
/// segmentation section (Sources/MCJEPA/Weights/README.md); figures are not repeated here, as they go stale.
public enum PropagationAppearance: String, CaseIterable, Sendable {
    /// The model's features at the propagation level alone.
    case features
    /// Colour patches alone (`ColourPatchFeatures`: the mean colour of each cell's four quadrants), no model.
    case colour
    /// Both, joined with equal weight (`FeatureMap.joined`): each part scaled to length 1/sqrt(2) per cell, so
    /// the cosine of two cells is the mean of the features' cosine and the colour's, and their affinity
    /// exp(cos / T) the geometric mean of the two affinities, whatever each part's channel count or scale.
    case both
    /// Both as two separate cues, each propagated on its own with its own memory, their label maps joined as the
    /// propagation's `FlowGuidedPropagation.Fusion` says (by confidence: per pixel, the one surer of its label
    /// weighs more).
    case separate

    /// What `propagate` and `eval vos` use unless told otherwise.
    public static let `default`: PropagationAppearance = .both

    /// A frame's descriptor maps (one per appearance cue, all on the frame-aligned grid of `levels.grid`; the
    /// model's part is made of `levels`), and that grid's stride in frame pixels. `rgb` is the frame, packed RGB
    /// at its full size (`features.width` x `features.height`).
    public func cues(_ features: FrameFeatures, levels: FeatureLevels, rgb: [UInt8]) -> (maps: [FeatureMap], stride: Int) {
        let model = levels.map(features)
        if self == .features { return ([model.map], model.stride) }
        // The grid's stride is at least 2 (level >= 1, frames are only ever shrunk for the network), as the
        // quadrants need; the colour map has ceil(size / stride) cells per side, the frame-aligned grid's count.
        let colour = ColourPatchFeatures.features(rgb: rgb, width: features.width, height: features.height,
                                                  stride: model.stride)
        switch self {
        case .features, .colour: return ([colour], model.stride)
        case .both: return ([FeatureMap.joined([model.map, colour])], model.stride)
        case .separate: return ([model.map, colour], model.stride)
        }
    }
}
