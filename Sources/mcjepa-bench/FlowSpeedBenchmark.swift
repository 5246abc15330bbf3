import FlowIO
import FlowRefinement
import Foundation
import MCJEPA
import NN
import VideoIO

// `mcjepa-bench flow [--video PATH] [--size 640x360] [--pairs N] [--threads T]`: pairs per second of what `flow`
// computes — the network alone (`--no-refine`; and without its feature alignment), the default (the network's flow seeding OpenCV's DIS, searched to
// full resolution), the search stopped at half resolution (`--refinement fast-search`) and the variational
// refinement (`--refinement variational`, the previous default) — against OpenCV DIS medium from zero (the
// classical peer) on the same frames, in the same process, with the same thread count. Frames are decoded and
// scaled before timing; each method's time counts turning the frames into its input (the network's planar RGB,
// DIS's 8-bit luma) and computing the flow, with each frame's features computed once, as `flow` does on a video.
// `--search-options KEY=VALUE,...` (repeatable) also times the network + a search with those DIS parameters over the
// default's, and `--search-only` skips the network alone, fast search and variational rows: how a candidate search
// configuration is compared with the default in one run.

func flowSpeedBenchmark(video: String, width: Int, height: Int, pairCount: Int, threads: Int,
                        candidates: [(name: String, configuration: SeededDISSearch.Configuration)] = [],
                        searchOnly: Bool = false) throws {
    guard let weightsPath = BuiltInWeights.path else { print(BuiltInWeights.missingMessage); exit(1) }
    let model = try WeightsFile.load(path: weightsPath).model
    setThreads(threads)
    SeededDISSearch.setThreads(threads)

    let reader = try VideoReader(path: video, options: DecodeOptions(threads: threads, size: .exact(width: width, height: height)))
    var frames: [FrameImage] = []
    while frames.count < pairCount + 1, let frame = try reader.nextFrame() {
        frames.append(FrameImage(width: frame.width, height: frame.height, rgb8: frame.rgb))
    }
    guard frames.count >= 2 else { print("\(video): fewer than 2 frames"); exit(1) }
    let pairs = frames.count - 1
    func luma(_ frame: FrameImage) -> GrayImage { GrayImage(width: frame.width, height: frame.height, planarRGB: frame.planar) }

    /// Wall and CPU seconds (all threads) for all pairs of a stream, each frame prepared once; the run with the best
    /// wall time of two after a warm-up. CPU time is the figure to compare on a busy machine: other processes
    /// stretch the wall time of parallel loops far more than the work done.
    func streamSeconds<Prepared>(_ prepare: (FrameImage) -> Prepared,
                                 _ pairFlow: (Prepared, Prepared) -> FlowField) -> (wall: Double, cpu: Double) {
        func run() -> (wall: Double, cpu: Double) {
            let (start, cpuStart) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds(RUSAGE_SELF.rawValue))
            var previous = prepare(frames[0])
            for frame in frames.dropFirst() {
                let next = prepare(frame)
                _ = pairFlow(previous, next)
                previous = next
            }
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, cpuSeconds(RUSAGE_SELF.rawValue) - cpuStart)
        }
        _ = pairFlow(prepare(frames[0]), prepare(frames[1]))
        let (first, second) = (run(), run())
        return first.wall <= second.wall ? first : second
    }

    let dis = SeededDISSearch(.medium)
    let peer = streamSeconds(luma) { dis.search(from: $0, to: $1) }
    let standard = FlowEstimator(model: model, refinement: RefinementMethod.standard.refiner(threads: threads))
    var rows = [("OpenCV DIS medium (peer)", peer),
                ("default (network + seeded DIS search)", streamSeconds(standard.features) { standard.flow(from: $0, to: $1) })]
    if !searchOnly {
        let network = FlowEstimator(model: model)
        rows.append(("network alone (--no-refine)", streamSeconds(network.features) { network.flow(from: $0, to: $1) }))
        let decoder = FlowEstimator(model: model, alignmentIterations: 0)
        rows.append(("decoder alone (--alignment-iterations 0)", streamSeconds(decoder.features) { decoder.flow(from: $0, to: $1) }))
        let fast = FlowEstimator(model: model, refinement: RefinementMethod.fastSearch.refiner(threads: threads))
        rows.append(("network + fast search (half resolution)", streamSeconds(fast.features) { fast.flow(from: $0, to: $1) }))
        let variational = FlowEstimator(model: model, refinement: RefinementMethod.variational.refiner(threads: threads))
        rows.append(("network + variational refinement", streamSeconds(variational.features) { variational.flow(from: $0, to: $1) }))
    }
    for (name, configuration) in candidates {
        let candidate = FlowEstimator(model: model, refinement: SeededDISSearch(configuration))
        rows.append(("network + search \(name)", streamSeconds(candidate.features) { candidate.flow(from: $0, to: $1) }))
    }

    print("flow: \(pairs) pairs of \(video) at \(width)x\(height), \(threads) thread(s), OpenCV \(SeededDISSearch.openCVVersion)")
    for (name, seconds) in rows {
        print(String(format: "  %-38@ %6.1f pairs/s %7.1f ms/pair (wall, / DIS %.2f) %7.1f ms/pair (CPU, / DIS %.2f)",
                     name as NSString, Double(pairs) / seconds.wall, 1000 * seconds.wall / Double(pairs),
                     seconds.wall / peer.wall, 1000 * seconds.cpu / Double(pairs), seconds.cpu / peer.cpu))
    }
}
