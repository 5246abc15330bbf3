import FlowIO
import MCJEPA
import Segmentation

/// `segment`'s per-frame step, for the command and its benchmark: each frame's encoder features (computed once,
/// by the caller) serve the clustering and, paired with the previous frame's, the network's flow in both
/// directions (motion cue, carrying the segments, occlusion check).
public final class ModelVideoSegmentation {
    public let estimator: FlowEstimator
    public let level: Int
    public let useFlow: Bool
    public let segmenter: VideoSegmenter
    private var previous: FrameFeatures?
    /// The flows between the last frame and the one before (nil on the first frame and without the flow).
    public private(set) var lastFlows: (backward: FlowField, forward: FlowField)?

    /// - Parameters:
    ///   - level: the encoder pyramid level whose features are clustered (stride 2^level).
    ///   - useFlow: false: features alone, no motion cue and no carrying (faster).
    public init(estimator: FlowEstimator, level: Int = 3, useFlow: Bool = true,
                configuration: VideoSegmenter.Configuration = .init()) {
        self.estimator = estimator
        self.level = level
        self.useFlow = useFlow
        segmenter = VideoSegmenter(configuration: configuration)
    }

    /// The next frame's segment ids (1...K per pixel) from its features and packed RGB.
    public func next(_ features: FrameFeatures, rgb: [UInt8]) -> [UInt8] {
        let (map, stride) = frameAlignedFeatures(features, level: level)
        var backward: FlowField?, forward: FlowField?
        if useFlow, let previous {
            backward = estimator.flow(from: features, to: previous)
            forward = estimator.flow(from: previous, to: features)
        }
        previous = features
        lastFlows = backward.flatMap { backward in forward.map { (backward, $0) } }
        return segmenter.segment(map, stride: stride, rgb: rgb, width: features.width, height: features.height,
                                 backward: backward, forward: forward)
    }
}
