import FlowIO
import FlowRefinement
import MCJEPA
import NN
import VideoIO

extension FlowEstimator {
    /// The estimator `mcjepa-video flow` runs: the weights at `weights` (default: the built-in ones), the
    /// network's flow refined on the frames by `refinement` (nil: the network's flow as it is), frames shrunk to
    /// `maxSide` for the network.
    ///
    /// ```swift
    /// let flow = try FlowEstimator.load().flow(fromImage: "frame1.png", toImage: "frame2.png")  // a FlowField
    /// ```
    /// - Throws: `WeightsError` naming the file when it cannot be used; `MissingWeightsError` when `weights` is nil
    ///   and this build has no built-in weights.
    public static func load(weights: String? = nil, maxSide: Int? = nil, refinement: RefinementMethod? = .standard,
                            flipAverage: Bool = false, alignmentIterations: Int? = nil,
                            threads: Int = 2) throws -> FlowEstimator {
        guard let path = weights ?? BuiltInWeights.path else {
            throw MissingWeightsError()
        }
        return FlowEstimator(loaded: try WeightsFile.load(path: path), maxSide: maxSide, refinement: refinement,
                             flipAverage: flipAverage, alignmentIterations: alignmentIterations, threads: threads)
    }

    /// An estimator for loaded weights; sets the network's thread count. `search` replaces the DIS parameters of
    /// a search `refinement` (`--search-options`).
    public convenience init(loaded: LoadedWeights, maxSide: Int? = nil, refinement: RefinementMethod? = .standard,
                            search: SeededDISSearch.Configuration? = nil, flipAverage: Bool = false,
                            alignmentIterations: Int? = nil, threads: Int = 2) {
        setThreads(threads)
        self.init(model: loaded.model, maxSide: maxSide, flipAverage: flipAverage, alignmentIterations: alignmentIterations,
                  refinement: refinement?.refiner(threads: threads, search: search))
    }

    /// The flow from one decoded frame to another (frames of one size), at the frames' size.
    public func flow(from first: VideoFrame, to second: VideoFrame) -> FlowField {
        flow(from: features(FrameImage(first)), to: features(FrameImage(second)))
    }

    /// The flow from one picture to another of the same size.
    public func flow(from first: RGBImage, to second: RGBImage) -> FlowField {
        flow(from: features(FrameImage(first)), to: features(FrameImage(second)))
    }

    /// The flow from one picture to another with the pixels that fail the forward-backward check
    /// (`ForwardBackwardCheck`: occluded in the second picture, or wrong in either direction) marked unknown: a
    /// teacher's flow to distil only where it is self-consistent (`preprocess --flow --mask-inconsistent`). Costs
    /// the backward flow as well; each picture is encoded once.
    public func consistentFlow(from first: RGBImage, to second: RGBImage) -> FlowField {
        let a = features(FrameImage(first)), b = features(FrameImage(second))
        var forward = flow(from: a, to: b)
        let occluded = ForwardBackwardCheck.occlusion(forward: forward, backward: flow(from: b, to: a))
        for (i, mark) in occluded.enumerated() where mark != 0 { forward.valid[i] = false }
        return forward
    }

    /// The flow from one image file to another of the same size.
    /// - Throws: `VideoIOError` naming the image that cannot be read, or the second when the sizes differ.
    public func flow(fromImage first: String, toImage second: String) throws -> FlowField {
        let images = try [first, second].map { try readImage(path: $0) }
        guard images[0].width == images[1].width, images[0].height == images[1].height else {
            throw VideoIOError(path: second, operation: "size change", message:
                "image is \(images[1].width)x\(images[1].height), \(first) \(images[0].width)x\(images[0].height)")
        }
        return flow(from: images[0], to: images[1])
    }
}

extension FrameImage {
    /// A picture as the network's input.
    public init(_ image: RGBImage) { self.init(width: image.width, height: image.height, rgb8: image.rgb) }
}

/// No weights were named and this build has no built-in ones.
public struct MissingWeightsError: Error, CustomStringConvertible {
    public init() {}
    public var description: String { BuiltInWeights.missingMessage }
}
