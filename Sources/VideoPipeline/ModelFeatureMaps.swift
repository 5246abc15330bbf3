import MCJEPA
import Segmentation

/// A level of the model's features as Segmentation's `FeatureMap`, on a grid aligned with the frame (the
/// network's own map covers a padded, possibly shrunk frame; see `FrameFeatures.frameAligned`).
public func frameAlignedFeatures(_ features: FrameFeatures, level: Int, stride: Int? = nil) -> (map: FeatureMap, stride: Int) {
    let grid = features.frameAligned(level: level, stride: stride)
    return (FeatureMap(channels: grid.channels, height: grid.height, width: grid.width, values: grid.values), grid.stride)
}
