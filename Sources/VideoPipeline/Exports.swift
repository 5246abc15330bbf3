// VideoPipeline is the umbrella for applications: `import VideoPipeline` brings the types its API speaks in
// (FlowEstimator and RefinementMethod, FlowField and FlowFile, VideoFrame and FrameInput) without more imports.
@_exported import FlowIO
@_exported import FlowRefinement
@_exported import MCJEPA
@_exported import VideoIO
