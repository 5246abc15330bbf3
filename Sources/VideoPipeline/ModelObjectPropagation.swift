import Dispatch
import FlowIO
import FlowRefinement
import MCJEPA
import Segmentation

/// How `propagate` and `eval vos` carry the first mask through a video with the model.
public enum PropagationMethod: String, CaseIterable, Sendable {
    /// Motion and appearance: the previous masks carried by the flow where the forward-backward check passes,
    /// corrected by feature affinity, edges refined on the frame (`FlowGuidedPropagation`).
    case flowGuided = "flow-guided"
    /// Feature affinity alone, the protocol of DINO's VOS evaluation that papers report (`LabelPropagation`).
    case features

    /// The refinement of the network's flow this method needs. Masks are carried along the flow, so its precision
    /// shows at every object edge: the network's flow seeding DIS's search (stopped at half resolution, for
    /// speed) took davis-dev J&F from 61.0 (the network's flow) to 63.6; searching to full resolution gave 63.4.
    public var refinement: RefinementMethod? { self == .flowGuided ? .fastSearch : nil }

    /// The encoder levels the affinity compares unless told otherwise. Flow-guided: levels 2 and 3 joined on level
    /// 3's grid (stride 8; level 2 adds finer detail for edges), chosen on the held-out synthetic VOS set
    /// (`Reference/synthetic_vos_set.py`, seed 1: 63.1 -> 65.0 J&F, better on 9 of 12 sequences) for 2-6% fewer
    /// frames per CPU-second. DINO's protocol keeps one level, level 3, as papers report it.
    public var defaultLevels: FeatureLevels {
        self == .flowGuided ? FeatureLevels(grid: 3, levels: [2, 3]) : .single(3)
    }
}

/// One video's object propagation with the model: each frame's encoder features are computed once (by the
/// caller) and serve both the affinity and, paired with the previous frame's, the flow in both directions.
public final class ModelObjectPropagation {
    public let estimator: FlowEstimator
    /// The encoder levels the affinity's model features are made of, and their grid.
    public let levels: FeatureLevels
    public let method: PropagationMethod
    /// What the affinity compares: `appearance` for flow-guided, always the features for `.features` (DINO's
    /// protocol is the measure of the model's features, so nothing else enters it).
    public let appearance: PropagationAppearance
    /// How flow-guided propagation joins its cues (`FlowGuidedPropagation.Fusion`).
    public let fusion: FlowGuidedPropagation.Fusion
    private var previous: FrameFeatures
    private let flowGuided: FlowGuidedPropagation?
    private let featureOnly: LabelPropagation?

    /// Starts from the first frame's features, its pixels (packed RGB, for a colour appearance) and its mask
    /// (object ids per pixel).
    /// - Throws: `SegmentationError` when the mask or the frame does not fit the frame's size.
    public init(estimator: FlowEstimator, levels: FeatureLevels, method: PropagationMethod,
                appearance: PropagationAppearance = .default, fusion: FlowGuidedPropagation.Fusion = .default,
                firstFeatures: FrameFeatures, firstRGB: [UInt8], firstMask: [UInt8], width: Int, height: Int) throws {
        guard firstRGB.count == width * height * 3 else {
            throw SegmentationError(file: "", reason: "first frame holds \(firstRGB.count / 3) pixels, expected \(width)x\(height)")
        }
        self.estimator = estimator
        self.levels = levels
        self.method = method
        self.appearance = method == .features ? .features : appearance
        self.fusion = fusion
        previous = firstFeatures
        let (maps, stride) = self.appearance.cues(firstFeatures, levels: levels, rgb: firstRGB)
        let affinity = LabelPropagation.Configuration(stride: stride)
        switch method {
        case .flowGuided:
            flowGuided = try FlowGuidedPropagation(firstCues: maps, firstMask: firstMask, frameWidth: width,
                                                   frameHeight: height,
                                                   configuration: .init(affinity: affinity, fusion: fusion))
            featureOnly = nil
        case .features:
            featureOnly = try LabelPropagation(firstFeatures: maps[0], firstMask: firstMask, frameWidth: width,
                                               frameHeight: height, configuration: affinity)
            flowGuided = nil
        }
    }

    /// The next frame's mask from its features and packed RGB.
    public func next(_ features: FrameFeatures, rgb: [UInt8]) throws -> [UInt8] {
        guard rgb.count == features.width * features.height * 3 else {
            throw SegmentationError(file: "", reason: "frame holds \(rgb.count / 3) pixels, expected \(features.width)x\(features.height)")
        }
        defer { previous = features }
        if let featureOnly { return try featureOnly.propagate(appearance.cues(features, levels: levels, rgb: rgb).maps[0]) }
        // The affinity needs only this frame's descriptor, the two flows only the two frames. The affinity runs
        // first, alone, its tiles spread over the cores; then the two flows side by side, one per core (each on a
        // single thread: libdispatch runs work started inside `concurrentPerform` inline). Run as three jobs side
        // by side, the affinity, the third, started on whichever core had finished its flow, alone on that core,
        // while the other core idled once its own flow was done: on 2 cores, about 65 ms of CPU per frame (of
        // about 380) ran on one core while the other waited.
        let flowGuided = flowGuided!
        let appearanceMaps = try flowGuided.appearance(appearance.cues(features, levels: levels, rgb: rgb).maps)
        nonisolated(unsafe) var backward: FlowField?, forward: FlowField?
        nonisolated(unsafe) let (estimator, previous, features) = (estimator, previous, features)
        DispatchQueue.concurrentPerform(iterations: 2) { job in
            if job == 0 {
                backward = estimator.flow(from: features, to: previous)
            } else {
                forward = estimator.flow(from: previous, to: features)
            }
        }
        return try flowGuided.propagate(appearanceMaps, rgb: rgb, backward: backward, forward: forward)
    }
}

extension DAVISEvaluation.PredictionSource {
    /// `eval vos` without `--pred`: each sequence segmented as `propagate` segments a video, one frame at a time
    /// (the evaluation runs one sequence at a time, so the estimator is never used by two at once).
    public static func model(_ estimator: FlowEstimator, levels: FeatureLevels, method: PropagationMethod,
                             appearance: PropagationAppearance = .default,
                             fusion: FlowGuidedPropagation.Fusion = .default, name: String) -> Self {
        nonisolated(unsafe) let estimator = estimator
        return .segmenter(name: name) { first, mask in
            let propagation = try ModelObjectPropagation(estimator: estimator, levels: levels, method: method,
                                                         appearance: appearance, fusion: fusion,
                                                         firstFeatures: estimator.features(FrameImage(first)),
                                                         firstRGB: first.rgb, firstMask: mask.labels,
                                                         width: first.width, height: first.height)
            return { try propagation.next(estimator.features(FrameImage($0)), rgb: $0.rgb) }
        }
    }
}
