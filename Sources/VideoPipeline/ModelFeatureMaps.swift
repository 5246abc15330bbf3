import MCJEPA
import Segmentation

/// A level of the model's features as Segmentation's `FeatureMap`, on a grid aligned with the frame (the
/// network's own map covers a padded, possibly shrunk frame; see `FrameFeatures.frameAligned`).
public func frameAlignedFeatures(_ features: FrameFeatures, level: Int, stride: Int? = nil) -> (map: FeatureMap, stride: Int) {
    let grid = features.frameAligned(level: level, stride: stride)
    return (FeatureMap(channels: grid.channels, height: grid.height, width: grid.width, values: grid.values), grid.stride)
}

/// Which encoder levels a frame's descriptor is made of, and the level whose grid they share: one level (`--level`),
/// or several (`--levels`, a "hypercolumn": fine levels for boundaries, coarse ones for identity).
public struct FeatureLevels: Sendable, Equatable, CustomStringConvertible {
    /// The level whose frame-aligned grid (stride 2^grid frame pixels, times the shrink factor) the map has.
    public let grid: Int
    /// The levels joined, ascending, each once.
    public let levels: [Int]

    /// One level on its own grid: the map is that level's, as it always was.
    public static func single(_ level: Int) -> FeatureLevels { FeatureLevels(grid: level, levels: [level]) }

    /// `levels` (any order, each once) on `grid`'s grid; all within 1...`ModelConfig.levelCount`.
    public init(grid: Int, levels: [Int]) {
        let range = 1...ModelConfig.levelCount
        precondition(range.contains(grid) && !levels.isEmpty && levels.allSatisfy(range.contains)
                     && Set(levels).count == levels.count, "bad feature levels \(levels) on level \(grid)")
        self.grid = grid
        self.levels = levels.sorted()
    }

    public var isSingle: Bool { levels == [grid] }

    /// "level 3", or "levels 2+3+4 on level 3's grid".
    public var description: String {
        isSingle ? "level \(grid)" : "levels \(levels.map(String.init).joined(separator: "+")) on level \(grid)'s grid"
    }

    /// The frame's descriptor map and its stride in frame pixels. One level on its own grid is
    /// `frameAlignedFeatures(_:level:)` unchanged. Several: each level brought to the grid of level `grid` (a
    /// finer level area-averaged over each cell, a coarser one sampled bilinearly at the cell centres), then
    /// joined by `FeatureMap.joined`: each level's vector scaled to unit length per cell and by 1/sqrt(count),
    /// so that the cosine of two cells is the mean of the levels' cosines. Each level weighs the same whatever
    /// its channel count (16 at stride 4 against 64 at stride 16 in `tiny`) or its scale.
    public func map(_ features: FrameFeatures) -> (map: FeatureMap, stride: Int) {
        let base = frameAlignedFeatures(features, level: grid)
        if isSingle { return base }
        let maps = levels.map { level -> FeatureMap in
            if level == grid { return base.map }
            let samples = level < grid ? 1 << (grid - level) : 1
            let resampled = features.frameAligned(level: level, stride: base.stride, samplesPerCell: samples)
            return FeatureMap(channels: resampled.channels, height: resampled.height, width: resampled.width,
                              values: resampled.values)
        }
        return (FeatureMap.joined(maps), base.stride)
    }
}
