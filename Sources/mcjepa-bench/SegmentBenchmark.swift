import ArgumentParser
import FlowIO
import Foundation
import MCJEPA
import NN
import Segmentation
import VideoIO
import VideoPipeline

/// `mcjepa-bench segment`: how still `segment`'s segments are, with the built-in weights, against the same
/// clustering without the flow (each frame clustered on its own, from the previous centres) in the same run:
/// - on still clips, the first frame of each Samples/ clip repeated with fresh sensor-like noise on every frame
///   (Gaussian, --noise grey levels of standard deviation per channel, a new draw per frame): the share of pixels
///   whose segment changes from one frame to the next (#25's target: under 0.5%);
/// - on the clips themselves (--frames frames): the share that changes per frame, and the share whose segment
///   differs from the one the flow carries from the previous frame (nearest pixel along the backward flow, where
///   the forward-backward check passes), which is what a viewer sees as colours flickering on moving things.
struct SegmentBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "segment's stability: pixels changing segment per frame on still and moving Samples/ clips.")
    @Argument(help: "Clips (default: Samples/carphone.mp4 Samples/motion.mov).") var clips: [String] = []
    @Option(help: "Frames per clip.") var frames = 30
    @Option(help: "Noise on the still clips: standard deviation in grey levels.") var noise: Float = 2
    @Option(help: "K, the number of segments.") var segments = 5
    @Option(help: "Threads for the network.") var threads = 2

    func run() throws {
        let estimator = try FlowEstimator.load(refinement: nil, threads: threads)
        let paths = clips.isEmpty ? ["Samples/carphone.mp4", "Samples/motion.mov"] : clips
        print("segment stability (K \(segments), built-in weights, \(threads) threads); peer: no flow (each frame clustered alone)")
        for path in paths {
            let reader = try VideoReader(path: path, options: DecodeOptions(threads: threads))
            var moving = [VideoFrame]()
            while moving.count < frames, let frame = try reader.nextFrame() { moving.append(frame) }
            guard let first = moving.first else { throw ValidationError("\(path): no frames") }
            var random = SplitMix64(seed: 25)
            let still = (0..<frames).map { _ in
                VideoFrame(width: first.width, height: first.height, rgb: first.rgb.map { value in
                    UInt8(max(0, min(255, (Float(value) + noise * random.normal()).rounded())))
                })
            }
            let name = (path as NSString).lastPathComponent
            for (clip, label) in [(still, "still \(name) (frame 0, noise \(noise))"), (moving, "moving \(name)")] {
                let ours = measure(clip, estimator: estimator, useFlow: true)
                let peer = measure(clip, estimator: estimator, useFlow: false)
                print(String(format: "  %@, %d frames of %dx%d: %.2f%% of pixels change segment per frame (max %.2f%%), "
                             + "%.2f%% against the flow-carried segments; no flow: %.2f%% (max %.2f%%), %.2f%%",
                             label, clip.count, first.width, first.height, 100 * ours.changed, 100 * ours.worst,
                             100 * ours.againstCarried, 100 * peer.changed, 100 * peer.worst, 100 * peer.againstCarried))
            }
        }
    }

    /// Mean and worst share of pixels whose segment differs from the previous frame's, and mean share differing
    /// from the previous segments carried along the backward flow (pixels passing the forward-backward check).
    func measure(_ clip: [VideoFrame], estimator: FlowEstimator,
                 useFlow: Bool) -> (changed: Double, worst: Double, againstCarried: Double) {
        let segmentation = ModelVideoSegmentation(estimator: estimator, useFlow: true,
                                                  configuration: VideoSegmenter.Configuration(segments: segments))
        let plain = useFlow ? nil : ModelVideoSegmentation(estimator: estimator, useFlow: false,
                                                          configuration: VideoSegmenter.Configuration(segments: segments))
        var previous: [UInt8]?
        var changed = [Double](), carried = [Double]()
        for frame in clip {
            let features = estimator.features(FrameImage(frame))
            // The flow-using segmenter always runs: its flows also score the peer against the motion.
            var ids = segmentation.next(features, rgb: frame.rgb)
            if let plain { ids = plain.next(features, rgb: frame.rgb) }
            if let previous, let backward = segmentation.lastFlows?.backward, let forward = segmentation.lastFlows?.forward {
                let (w, h) = (frame.width, frame.height)
                changed.append(Double(zip(ids, previous).filter { $0 != $1 }.count) / Double(w * h))
                let warp = FlowLabelWarp.warp([Float](repeating: 0, count: w * h), count: 1, backward: backward, forward: forward)
                var differing = 0, checked = 0
                for y in 0..<h {
                    for x in 0..<w where warp.valid[y * w + x] {
                        let i = y * w + x
                        let px = min(w - 1, max(0, Int((Float(x) + backward.u[i]).rounded())))
                        let py = min(h - 1, max(0, Int((Float(y) + backward.v[i]).rounded())))
                        checked += 1
                        if ids[i] != previous[py * w + px] { differing += 1 }
                    }
                }
                carried.append(Double(differing) / Double(max(checked, 1)))
            }
            previous = ids
        }
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(max(values.count, 1)) }
        return (mean(changed), changed.max() ?? 0, mean(carried))
    }
}
