import MCJEPA
import Segmentation

/// What the online target model of flow-guided propagation (`TargetModel`, `--target-model`) classifies: each
/// cell's descriptor on the affinity's grid.
public enum TargetModelDescriptors: String, CaseIterable, Sendable {
    /// The model's features, the same map the affinity compares (`FeatureLevels`).
    case features
    /// The model's features and colour patches (`ColourPatchFeatures`) joined with equal weight
    /// (`FeatureMap.joined`): a hyperplane can then use colour where the features blur an edge.
    case both

    /// A frame's descriptor map on `levels.grid`'s frame-aligned grid; `rgb` is the frame, packed RGB at its full
    /// size (`features.width` x `features.height`).
    public func descriptors(_ features: FrameFeatures, levels: FeatureLevels, rgb: [UInt8]) -> FeatureMap {
        let model = levels.map(features)
        switch self {
        case .features: return model.map
        case .both:
            return FeatureMap.joined([model.map, ColourPatchFeatures.features(rgb: rgb, width: features.width,
                                                                              height: features.height, stride: model.stride)])
        }
    }
}
