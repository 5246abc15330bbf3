import Foundation
import NN
import XCTest
@testable import MCJEPA

/// Synthetic pairs carry exact flow, also after the random crop and flip: frame 1 sampled at p + flow(p)
/// reproduces frame 0 at p, which a wrong sign, a swapped component or a wrong composition would break.
final class TrainingDataTests: XCTestCase {
    /// A smooth, non-symmetric photo (a wrong motion shows up as a large colour difference).
    func photo(width: Int, height: Int, phase: Float) -> FrameImage {
        var planar = [Float](repeating: 0, count: 3 * width * height)
        for y in 0..<height {
            for x in 0..<width {
                let fx = Float(x) / Float(width), fy = Float(y) / Float(height)
                planar[y * width + x] = 0.5 + 0.4 * sin(9 * fx + 4 * fy + phase)
                planar[width * height + y * width + x] = 0.5 + 0.4 * cos(7 * fy - 3 * fx)
                planar[2 * width * height + y * width + x] = fx * fy
            }
        }
        return FrameImage(width: width, height: height, planar: planar)
    }

    /// Median over interior pixels of |frame0(p) - frame1(p + flow(p))| (green channel).
    func medianReconstructionError(_ a: Tensor, _ b: Tensor, _ flow: Tensor) -> Float {
        let warped = warpForward(image: b, flow: flow)
        var errors: [Float] = []
        let (H, W) = (a.h, a.w), plane = H * W
        for y in 0..<H {
            for x in 0..<W where warped.mask.data[y * W + x] == 1 {
                errors.append(abs(a.data[plane + y * W + x] - warped.output.data[plane + y * W + x]))
            }
        }
        errors.sort()
        return errors[errors.count / 2]
    }

    func testSyntheticFlowIsExactThroughCropAndFlip() throws {
        let source = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0), photo(width: 100, height: 90, phase: 2)],
                                         height: 128, width: 128)
        var rng = TrainingRNG(seed: 5)
        var flips = 0
        for _ in 0..<4 {
            let sample = try source.sample(&rng)
            let flow = try XCTUnwrap(sample.flow)
            XCTAssertGreaterThan(flow.map(abs).max()!, 0.5, "the layers should move")
            let (a, b, f) = Augment.cropPair(sample, height: 64, width: 64, rng: &rng)
            let cropped = try XCTUnwrap(f)
            let error = medianReconstructionError(a, b, cropped)
            XCTAssertLessThan(error, 0.01, "frame 1 at p + flow does not reproduce frame 0")
            // The same check with the flow's u negated fails (unless the motion is vertical only).
            let wrong = cropped.copy()
            for i in 0..<(64 * 64) { wrong.data[i] = -wrong.data[i] }
            if medianReconstructionError(a, b, wrong) > 0.01 { flips += 1 }
        }
        XCTAssertGreaterThan(flips, 0, "the check cannot tell a wrong flow from the right one")
    }

    func testBlobCutoutsWithWideRotationsCarryExactFlow() throws {
        let source = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0), photo(width: 100, height: 90, phase: 2)],
                                         height: 128, width: 128, maxShift: 20, maxLayers: 6, shape: .blob, maxRotation: 10, maxZoom: 0.1)
        var rng = TrainingRNG(seed: 7)
        for _ in 0..<4 {
            let sample = try source.sample(&rng)
            let (a, b, f) = Augment.cropPair(sample, height: 64, width: 64, rng: &rng)
            XCTAssertLessThan(medianReconstructionError(a, b, try XCTUnwrap(f)), 0.01, "frame 1 at p + flow does not reproduce frame 0")
        }
    }

    /// Blob outlines have bays, limbs and holes: some pair of their points has its midpoint outside, which no
    /// ellipse has.
    func testBlobOutlinesAreNotConvexAndEllipsesAre() {
        func hasBay(_ shape: SyntheticShape, seed: UInt64) -> Bool {
            var rng = TrainingRNG(seed: seed)
            let outline = CutoutOutline(shape, frameWidth: 96, frameHeight: 80, half: 32, rng: &rng)
            var points: [(Double, Double)] = []
            for y in stride(from: -40, through: 180, by: 3) {
                for x in stride(from: -40, through: 200, by: 3) where outline.contains(Double(x), Double(y)) {
                    points.append((Double(x), Double(y)))
                }
            }
            for (i, p) in points.enumerated() where i % 3 == 0 {
                for q in points[i...] where !outline.contains(((p.0 + q.0) / 2).rounded(), ((p.1 + q.1) / 2).rounded()) {
                    return true
                }
            }
            return false
        }
        let seeds: [UInt64] = Array(1...8)
        XCTAssertGreaterThanOrEqual(seeds.filter { hasBay(.blob, seed: $0) }.count, 6)
        XCTAssertEqual(seeds.filter { hasBay(.ellipse, seed: $0) }.count, 0)
    }

    func testSyntheticBatchesDependOnTheSeedNotOnTheThreadCount() throws {
        defer { NN.setThreads(2) }
        let source = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0), photo(width: 100, height: 90, phase: 2)],
                                         height: 80, width: 96, maxShift: 20, maxLayers: 4, jitter: true)
        let sampler = MixedSampler(sources: [source], crop: (64, 64), contentSize: 32)
        func batch(threads: Int, seed: UInt64) throws -> (FlowBatch, UInt64) {
            NN.setThreads(threads)
            var rng = TrainingRNG(seed: seed)
            return (try sampler.flowBatch(5, rng: &rng), rng.state)
        }
        let (one, stateOne) = try batch(threads: 1, seed: 3), (two, stateTwo) = try batch(threads: 2, seed: 3)
        let (three, _) = try batch(threads: 3, seed: 3), (other, _) = try batch(threads: 2, seed: 4)
        XCTAssertEqual(one.first.array, two.first.array)
        XCTAssertEqual(one.second.array, three.second.array)
        XCTAssertEqual(try XCTUnwrap(one.flow).array, try XCTUnwrap(two.flow).array)
        XCTAssertEqual(stateOne, stateTwo, "the step's generator advances by the same draws")
        XCTAssertNotEqual(one.first.array, other.first.array)
        // The pairs of a batch differ from each other (each has its own generator).
        let plane = 3 * 64 * 64
        XCTAssertNotEqual(Array(one.first.array[0..<plane]), Array(one.first.array[plane..<(2 * plane)]))
        // And their flow is exact, as for pairs made one at a time.
        let flow = try XCTUnwrap(one.flow)
        for i in 0..<5 {
            XCTAssertLessThan(medianReconstructionError(batchItems(one.first, [i]), batchItems(one.second, [i]), batchItems(flow, [i])), 0.05)
        }
    }

    func testASyntheticSourcesFrameIsThePairsFirstFrame() throws {
        // Content views render the first frame only; it must be the frame the pair would have had (blur and
        // jitter included), or the content batch would see a different distribution from the flow batch.
        let source = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0), photo(width: 100, height: 90, phase: 2)],
                                         height: 80, width: 96, maxShift: 20, maxLayers: 4, jitter: true, motionBlur: 0.8)
        for seed: UInt64 in 1...4 {
            var pairRNG = TrainingRNG(seed: seed), frameRNG = TrainingRNG(seed: seed)
            let pair = try source.sample(&pairRNG), frame = try source.sampleFrame(&frameRNG)
            XCTAssertEqual(frame.planar, pair.first.planar, "seed \(seed)")
            XCTAssertNotEqual(frame.planar, pair.second.planar)
        }
    }

    func testContentBatchesDependOnTheSeedNotOnTheThreadCount() throws {
        defer { NN.setThreads(2) }
        let synthetic = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0)], height: 80, width: 96,
                                            maxShift: 20, jitter: true)
        for sources in [[synthetic], [synthetic, StillPairs(photo(width: 96, height: 80, phase: 1))] as [TrainingPairSource]] {
            let sampler = MixedSampler(sources: sources, crop: (64, 64), contentSize: 32)
            func batch(threads: Int, seed: UInt64) throws -> (Tensor, Tensor, UInt64) {
                NN.setThreads(threads)
                var rng = TrainingRNG(seed: seed)
                let views = try sampler.contentBatch(5, rng: &rng)
                return (views.first, views.second, rng.state)
            }
            let one = try batch(threads: 1, seed: 3), two = try batch(threads: 2, seed: 3), other = try batch(threads: 2, seed: 4)
            XCTAssertEqual(one.0.shape, [5, 3, 32, 32])
            XCTAssertEqual(one.0.array, two.0.array)
            XCTAssertEqual(one.1.array, two.1.array)
            XCTAssertEqual(one.2, two.2, "the step's generator advances by the same draws")
            XCTAssertNotEqual(one.0.array, other.0.array)
            XCTAssertNotEqual(one.0.array, one.1.array, "two different views of each frame")
        }
    }

    /// Pairs of one still frame, like `StillPairs`, from a source that may sample on several threads (as the video
    /// source, which keeps its decoded frames in memory).
    final class ConcurrentStillPairs: StillPairs, ConcurrentTrainingPairSource {}

    func testMixedBatchesFromConcurrentSourcesDependOnTheSeedNotOnTheThreadCount() throws {
        defer { NN.setThreads(2) }
        let synthetic = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0)], height: 80, width: 96, maxShift: 20)
        let sampler = MixedSampler(sources: [synthetic, ConcurrentStillPairs(photo(width: 96, height: 80, phase: 1))],
                                   crop: (64, 64), contentSize: 32)
        func batch(threads: Int) throws -> FlowBatch {
            NN.setThreads(threads)
            var rng = TrainingRNG(seed: 5)
            return try sampler.flowBatch(6, rng: &rng)
        }
        let one = try batch(threads: 1), two = try batch(threads: 2)
        XCTAssertEqual(one.first.array, two.first.array)
        XCTAssertEqual(one.hasFlow, two.hasFlow)
        XCTAssertEqual(one.flow?.array, two.flow?.array)
        XCTAssertTrue(one.hasFlow.contains(true) && one.hasFlow.contains(false), "seed 5 should mix the two sources")
    }

    /// Pairs without exact flow (as a video's).
    class StillPairs: TrainingPairSource {
        let name = "still"
        let frame: FrameImage
        init(_ frame: FrameImage) { self.frame = frame }
        func sample(_ rng: inout TrainingRNG) throws -> TrainingSample { TrainingSample(first: frame, second: frame) }
    }

    func testMixedBatchKeepsTheSyntheticPairsFlowAndFlagsThem() throws {
        let synthetic = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0)], height: 80, width: 96, maxShift: 20)
        let still = StillPairs(photo(width: 96, height: 80, phase: 1))
        let sampler = MixedSampler(sources: [synthetic, still], crop: (64, 64), contentSize: 32)
        var rng = TrainingRNG(seed: 11)
        var sawMixed = false
        for _ in 0..<6 {
            let batch = try sampler.flowBatch(4, rng: &rng)
            XCTAssertEqual(batch.hasFlow.count, 4)
            guard batch.hasFlow.contains(true) else { XCTAssertNil(batch.flow); XCTAssertNil(batch.flowSamples); continue }
            let flow = try XCTUnwrap(batch.flow)
            XCTAssertEqual(flow.shape, [4, 2, 64, 64])
            if batch.hasFlow.contains(false) { sawMixed = true; XCTAssertEqual(batch.flowSamples, batch.hasFlow) }
            for i in 0..<4 {
                let (first, second, pairFlow) = (batchItems(batch.first, [i]), batchItems(batch.second, [i]), batchItems(flow, [i]))
                if batch.hasFlow[i] {
                    // A synthetic pair's flow is exact in the mixed batch too.
                    XCTAssertLessThan(medianReconstructionError(first, second, pairFlow), 0.05)
                } else {
                    XCTAssertEqual(first.array, second.array, "a still pair")
                    XCTAssertEqual(pairFlow.array.map(abs).max(), 0, "no flow is made up for a pair without one")
                }
            }
        }
        XCTAssertTrue(sawMixed, "six batches of four from two sources should include a mixed one")
    }

    func testRNGStateRestoresTheSameSequence() {
        var rng = TrainingRNG(seed: 9)
        _ = rng.next()
        var copy = TrainingRNG(state: rng.state)
        XCTAssertEqual((0..<5).map { _ in rng.next() }, (0..<5).map { _ in copy.next() })
        XCTAssertNotEqual(TrainingRNG(seed: 1).state, TrainingRNG(seed: 2).state)
    }

    /// Pairs of a black frame then a white one, to tell which frame a content view was cut from.
    final class BlackThenWhitePairs: TrainingPairSource {
        let name = "black then white"
        func sample(_ rng: inout TrainingRNG) throws -> TrainingSample {
            let (w, h) = (48, 40)
            return TrainingSample(first: FrameImage(width: w, height: h, planar: [Float](repeating: 0, count: 3 * w * h)),
                                  second: FrameImage(width: w, height: h, planar: [Float](repeating: 1, count: 3 * w * h)))
        }
    }

    /// With temporal positives every item's first view is cut from a pair's first frame and its second view from
    /// the second frame; without them both views come from one frame, and the stream of draws is unchanged.
    func testTemporalPositivesTakeTheTwoViewsFromThePairsTwoFrames() throws {
        func meanDifferences(temporal: Float) throws -> [Float] {
            let sampler = MixedSampler(sources: [BlackThenWhitePairs()], crop: (32, 32), contentSize: 32,
                                       temporalPositives: temporal)
            var rng = TrainingRNG(seed: 7)
            let views = try sampler.contentBatch(4, rng: &rng)
            let (a, b) = (views.first, views.second)
            let plane = 3 * 32 * 32
            return (0..<4).map { item in
                (0..<plane).reduce(Float(0)) { $0 + b.data[item * plane + $1] - a.data[item * plane + $1] } / Float(plane)
            }
        }
        for difference in try meanDifferences(temporal: 1) { XCTAssertGreaterThan(difference, 0.2, "second view from the white frame") }
        for difference in try meanDifferences(temporal: 0) { XCTAssertEqual(difference, 0, accuracy: 1e-6, "both views from the black frame") }
    }

    /// `contentBatch` as it was before `temporalGap` and local views existed, step for step: the reference the
    /// default stream must keep reproducing, so that runs and checkpoints made before stay exact.
    func contentBatchAsBefore(_ sources: [TrainingPairSource], size: Int, temporal: Float, batch: Int,
                              rng: inout TrainingRNG) throws -> (Tensor, Tensor) {
        let seeds = (0..<batch).map { _ in rng.next() }
        let views = try seeds.map { seed -> (Tensor, Tensor) in
            var rng = TrainingRNG(seed: seed)
            let source = sources[rng.below(sources.count)]
            if temporal > 0 && rng.uniform() < temporal {
                let pair = try source.sample(&rng)
                let a = Augment.contentView(pair.first, size: size, rng: &rng)
                return (a, Augment.contentView(pair.second, size: size, rng: &rng))
            }
            let frame = try source.sampleFrame(&rng)
            let a = Augment.contentView(frame, size: size, rng: &rng)
            return (a, Augment.contentView(frame, size: size, rng: &rng))
        }
        return (Augment.stack(views.map(\.0)), Augment.stack(views.map(\.1)))
    }

    func testTheDefaultContentStreamIsTheOneBeforeGapsAndLocalViews() throws {
        let synthetic = SyntheticPairSource(photos: [photo(width: 160, height: 120, phase: 0)], height: 80, width: 96,
                                            maxShift: 20, jitter: true)
        let sources: [TrainingPairSource] = [synthetic, ConcurrentStillPairs(photo(width: 96, height: 80, phase: 1))]
        for temporal: Float in [0, 0.5] {
            let sampler = MixedSampler(sources: sources, crop: (64, 64), contentSize: 32, temporalPositives: temporal)
            var rng = TrainingRNG(seed: 13), before = TrainingRNG(seed: 13)
            for _ in 0..<2 {
                let views = try sampler.contentBatch(6, rng: &rng)
                let (a, b) = try contentBatchAsBefore(sources, size: 32, temporal: temporal, batch: 6, rng: &before)
                XCTAssertEqual(views.first.array, a.array, "temporal \(temporal)")
                XCTAssertEqual(views.second.array, b.array, "temporal \(temporal)")
                XCTAssertNil(views.local)
                XCTAssertEqual(rng.state, before.state)
            }
        }
    }

    func testLocalViewsAreSmallerCropsAndLeaveTheGlobalViewsAsTheyWere() throws {
        let sources: [TrainingPairSource] = [ConcurrentStillPairs(photo(width: 96, height: 80, phase: 1))]
        let plain = MixedSampler(sources: sources, crop: (64, 64), contentSize: 64, temporalPositives: 0.5)
        let multi = MixedSampler(sources: sources, crop: (64, 64), contentSize: 64, temporalPositives: 0.5,
                                 localViews: 3, localSize: 32)
        var plainRNG = TrainingRNG(seed: 2), multiRNG = TrainingRNG(seed: 2)
        let without = try plain.contentBatch(4, rng: &plainRNG), with = try multi.contentBatch(4, rng: &multiRNG)
        XCTAssertEqual(with.first.array, without.first.array)
        XCTAssertEqual(with.second.array, without.second.array)
        XCTAssertEqual(multiRNG.state, plainRNG.state, "local views draw from the items' own generators only")
        let local = try XCTUnwrap(with.local)
        XCTAssertEqual(local.shape, [12, 3, 32, 32])
        XCTAssertEqual(with.localCount, 3)
        XCTAssertEqual(without.localCount, 0)
        // View-major: rows m*4..<(m+1)*4 are local view m of the four items, each its own crop.
        let views = (0..<12).map { batchItems(local, [$0]).array }
        XCTAssertEqual(Set(views.map { $0.map(\.bitPattern) }).count, 12, "every local view is a crop of its own")
    }

    /// Pairs of a black frame then a white one, whose `framesApart` gives a white frame then a black one and
    /// records the gaps it is asked for.
    final class RecordingClip: TrainingPairSource {
        let name = "recording clip"
        var gaps: [Int] = [], pairs = 0
        func frame(_ value: Float) -> FrameImage {
            FrameImage(width: 48, height: 40, planar: [Float](repeating: value, count: 3 * 48 * 40))
        }
        func sample(_ rng: inout TrainingRNG) throws -> TrainingSample {
            pairs += 1
            return TrainingSample(first: frame(0), second: frame(1))
        }
        func framesApart(upTo gap: Int, _ rng: inout TrainingRNG) throws -> (FrameImage, FrameImage) {
            gaps.append(gap)
            return (frame(1), frame(0))
        }
    }

    /// Mean of the second view minus the first, per item.
    func meanDifferences(_ views: ContentViews) -> [Float] {
        let plane = views.first.count / views.first.n
        return (0..<views.first.n).map { item in
            (0..<plane).reduce(Float(0)) { $0 + views.second.data[item * plane + $1] - views.first.data[item * plane + $1] } / Float(plane)
        }
    }

    /// With a gap, temporal positives take their frames from `framesApart` (a clip's frames 1...G apart), not from a
    /// flow pair; without one, from the flow pair as before. A source of still photos gives one frame twice.
    func testAContentGapTakesTemporalPositivesFromFramesApart() throws {
        let clip = RecordingClip()
        let gapped = MixedSampler(sources: [clip], crop: (32, 32), contentSize: 32, temporalPositives: 1, temporalGap: 5)
        var rng = TrainingRNG(seed: 7)
        for difference in meanDifferences(try gapped.contentBatch(4, rng: &rng)) {
            XCTAssertLessThan(difference, -0.2, "first view from framesApart's white frame, second from its black one")
        }
        XCTAssertEqual(clip.gaps, [5, 5, 5, 5])
        XCTAssertEqual(clip.pairs, 0)
        let plain = MixedSampler(sources: [clip], crop: (32, 32), contentSize: 32, temporalPositives: 1)
        for difference in meanDifferences(try plain.contentBatch(4, rng: &rng)) {
            XCTAssertGreaterThan(difference, 0.2, "the flow pair's black then white frames")
        }
        XCTAssertEqual(clip.gaps.count, 4, "no framesApart without a gap")
        XCTAssertEqual(clip.pairs, 4)
        // Still photos (no clip): both views of one frame, the pair's first (black).
        let still = MixedSampler(sources: [BlackThenWhitePairs()], crop: (32, 32), contentSize: 32, temporalPositives: 1,
                                 temporalGap: 5)
        for difference in meanDifferences(try still.contentBatch(4, rng: &rng)) { XCTAssertEqual(difference, 0, accuracy: 1e-6) }
    }
}
