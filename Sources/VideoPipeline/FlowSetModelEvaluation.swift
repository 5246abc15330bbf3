import Dispatch
import FlowIO
import Foundation
import MCJEPA
import VideoIO

extension FlowSetEvaluation {
    /// `eval flow` without `--pred`: the model's flow for every pair of `set`, PAIR/img1.png -> PAIR/img2.png,
    /// computed as `flow IMG1 IMG2` computes it (the two images as a `FrameInput` through `FlowPairs`: read, the
    /// estimator's features, flow and refinement), then scored as a folder of predictions is.
    /// - Returns: the report, labelled `name`, and the wall-clock seconds the pairs took (images read and flow
    ///   estimated).
    /// - Throws: `VideoIOError` naming an image that cannot be read (or a pair of two sizes), `FlowIOError` naming
    ///   a ground truth that cannot be used.
    public static func evaluate(set: URL, estimator: FlowEstimator, name: String) async throws -> (report: Report, seconds: Double) {
        var results: [PairResult] = [], seconds = 0.0
        for (pair, truth) in try pairs(in: set) {
            let folder = truth.deletingLastPathComponent()
            let source = FrameInput.imagePair(folder.appendingPathComponent("img1.png").path,
                                              folder.appendingPathComponent("img2.png").path)
            let start = DispatchTime.now().uptimeNanoseconds
            var flow: FlowField?
            for try await event in FlowPairs(source: source, estimator: estimator, options: FlowPairOptions(sceneCutThreshold: nil)) {
                if case .pair(let computed) = event { flow = computed.forward }
            }
            seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard let flow else { throw VideoPipelineError(path: source.displayPath, reason: "no pair of images read") }
            results.append(try score(flow, pair: pair, groundTruth: truth, estimatedFrom: folder))
        }
        return (report(set: set, prediction: name, pairs: results), seconds)
    }
}
