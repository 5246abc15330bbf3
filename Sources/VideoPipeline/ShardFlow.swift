import Dataset
import FlowIO
import MCJEPA
import VideoIO

extension PreprocessOptions {
    /// `preprocess --flow`: every sample also stores its pair's flow as `<key>.flow.npy` (H x W x 2 float32, in
    /// pixels of the stored frames), computed by `estimator` as `flow` computes a pair's (each frame's features,
    /// the flow, the estimator's refinement). The pairs are the sampler's, a few per shot at its stride, so each is
    /// estimated on its own rather than streamed through `FlowPairs`, which would estimate every pair of the video.
    /// With `maskInconsistent`, pixels that fail the forward-backward check are stored as NaN (unknown), so training
    /// learns the flow only where it is self-consistent (`FlowEstimator.consistentFlow`: twice the time).
    public mutating func storeFlow(of estimator: FlowEstimator, maskInconsistent: Bool = false) {
        // The preprocessor asks for one pair's flow at a time, so the estimator is never used by two callers at once.
        nonisolated(unsafe) let estimator = estimator
        pairFlow = { first, second in
            try FlowFile.encode(maskInconsistent ? estimator.consistentFlow(from: first, to: second)
                                                 : estimator.flow(from: first, to: second), format: .npy)
        }
    }
}
