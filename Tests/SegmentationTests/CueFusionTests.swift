import FlowIO
import XCTest
@testable import Segmentation

/// The confidence-weighted pool of label maps (`CueFusion`) and flow-guided propagation with it.
final class CueFusionTests: XCTestCase {
    func test_a_confident_cue_outvotes_two_less_sure_ones_that_a_plain_mean_would_follow() {
        // Two labels, one pixel. A says label 0 (0.9: margin 0.8); B and C say label 1 (0.75: margin 0.5).
        // The plain mean gives label 0 (0.9 + 0.25 + 0.25) / 3 = 0.467: label 1 wins. Weighted by margin:
        // (0.801 * 0.9 + 2 * 0.501 * 0.25) / (0.801 + 2 * 0.501) = 0.539: label 0 wins.
        let a = CueFusion.Cue(maps: [0.9, 0.1]), b = CueFusion.Cue(maps: [0.25, 0.75])
        let pooled = CueFusion.pool([a, b, b], count: 2)
        let (wa, wb): (Float, Float) = (0.8 + 1e-3, 0.5 + 1e-3)
        XCTAssertEqual(pooled[0], (wa * 0.9 + 2 * wb * 0.25) / (wa + 2 * wb), accuracy: 1e-6)
        XCTAssertEqual(pooled[0] + pooled[1], 1, accuracy: 1e-6)
        XCTAssertGreaterThan(pooled[0], 0.5, "the confident cue wins")
        XCTAssertLessThan((0.9 + 0.25 + 0.25) / 3, 0.5, "where the plain mean would not")
    }

    func test_the_margin_is_best_minus_second_of_three_labels_per_pixel() {
        // Three labels, two pixels (planar): pixel 0 is (0.2, 0.5, 0.3) margin 0.2, pixel 1 (0.6, 0.1, 0.3) margin 0.3.
        let sure = CueFusion.Cue(maps: [0.2, 0.6, 0.5, 0.1, 0.3, 0.3])
        let flat = CueFusion.Cue(maps: [0.5, 0.2, 0.0, 0.6, 0.5, 0.2])  // margins 0 and 0.4
        let pooled = CueFusion.pool([sure, flat], count: 3)
        let w: [(Float, Float)] = [(0.2 + 1e-3, 1e-3), (0.3 + 1e-3, 0.4 + 1e-3)]
        for i in 0..<2 {
            for l in 0..<3 {
                let expected = (w[i].0 * sure.maps[l * 2 + i] + w[i].1 * flat.maps[l * 2 + i]) / (w[i].0 + w[i].1)
                XCTAssertEqual(pooled[l * 2 + i], expected, accuracy: 1e-6, "pixel \(i), label \(l)")
            }
        }
    }

    func test_cues_without_any_margin_are_averaged_and_an_unreliable_cue_has_no_say() {
        let even = CueFusion.pool([CueFusion.Cue(maps: [0.5, 0.5]), CueFusion.Cue(maps: [0.5, 0.5])], count: 2)
        XCTAssertEqual(even, [0.5, 0.5])
        // A certain cue with reliability 0 (its source left the frame) against an unsure one: the unsure one alone.
        let pooled = CueFusion.pool([CueFusion.Cue(maps: [1, 0], reliability: [0]), CueFusion.Cue(maps: [0.4, 0.6])], count: 2)
        XCTAssertEqual(pooled[0], 0.4, accuracy: 1e-6)
        // Its reliability scales its weight: 1/2 of margin 1 against margin 0.2.
        let half = CueFusion.pool([CueFusion.Cue(maps: [1, 0], reliability: [0.5]), CueFusion.Cue(maps: [0.4, 0.6])], count: 2)
        let (w1, w2): (Float, Float) = (0.5 * (1 + 1e-3), 0.2 + 1e-3)
        XCTAssertEqual(half[0], (w1 + w2 * 0.4) / (w1 + w2), accuracy: 1e-6)
        // No reliable cue at all: the plain mean.
        let none = CueFusion.pool([CueFusion.Cue(maps: [1, 0], reliability: [0]), CueFusion.Cue(maps: [0, 1], reliability: [0])], count: 2)
        XCTAssertEqual(none, [0.5, 0.5])
    }

    func test_the_flow_reliability_is_a_soft_forward_backward_check() {
        XCTAssertEqual(CueFusion.flowReliability(roundTripRatio: 0), 1)
        XCTAssertEqual(CueFusion.flowReliability(roundTripRatio: 1), 0.5, "one half at the hard check's threshold")
        XCTAssertEqual(CueFusion.flowReliability(roundTripRatio: 3), 0.1, accuracy: 1e-6)
        XCTAssertEqual(CueFusion.flowReliability(roundTripRatio: .infinity), 0, "from outside the frame")
        // The ratio's threshold is the hard check's.
        for (f, b) in [((10, 0), (-10.5, 0.3)), ((10, 0), (-7, 0)), ((0, 0), (0.7, 0)), ((0, 0), (0.71, 0))] as [((Float, Float), (Float, Float))] {
            XCTAssertEqual(FlowLabelWarp.roundTripRatio(forward: f, backward: b) <= 1, FlowLabelWarp.consistent(forward: f, backward: b), "\(f) \(b)")
        }
        // The warp reports it per pixel: exact round trips 0, disagreeing flows far past 1, outside infinity.
        let (w, h) = (10, 4)
        func uniform(_ u: Float) -> FlowField { FlowField(width: w, height: h, u: [Float](repeating: u, count: w * h), v: [Float](repeating: 0, count: w * h)) }
        let exact = FlowLabelWarp.warp([Float](repeating: 1, count: w * h), count: 1, backward: uniform(-3), forward: uniform(3))
        for x in 0..<w { XCTAssertEqual(exact.roundTrip[x], x >= 3 ? 0 : .infinity, "x \(x)") }
        let wrong = FlowLabelWarp.warp([Float](repeating: 1, count: w * h), count: 1, backward: uniform(-3), forward: uniform(-3))
        XCTAssertGreaterThan(wrong.roundTrip[5], 50)
    }

    /// Flow-guided propagation with confidence fusion on the square scene of the flow-guided tests: it tracks the
    /// square with the true flow; a second, identical appearance cue changes nothing (pooling equal opinions is
    /// the identity, whatever their margins); and a flow that fails the forward-backward check everywhere
    /// (forward = backward = the square's motion reversed, at every pixel) has next to no say: the masks stay those of
    /// appearance alone.
    func test_flow_guided_propagation_with_confidence_fusion() throws {
        let scene = SquareScene()
        let square = LabelPropagationTests.Square(id: 1, colour: (220, 30, 30), x: 9, y: 11, dx: 5, dy: 2, size: 30)
        let (w, h) = (scene.width, scene.height)
        func colour(_ rgb: [UInt8]) -> FeatureMap { ColourPatchFeatures.features(rgb: rgb, width: w, height: h, stride: 8) }
        let first = scene.render(square, t: 0)
        enum Flow { case truth, none, wrong }
        // The square's motion, backwards, at every pixel as both flows: the round trip is off by twice the motion.
        let everywhere = FlowField(width: w, height: h, u: [Float](repeating: Float(-square.dx), count: w * h),
                                   v: [Float](repeating: Float(-square.dy), count: w * h))
        func run(cues: Int, flow: Flow) throws -> [[UInt8]] {
            let propagation = try FlowGuidedPropagation(
                firstCues: Array(repeating: colour(first.rgb), count: cues), firstMask: first.mask, frameWidth: w,
                frameHeight: h, configuration: .init(affinity: .init(stride: 8, radius: 4), fusion: .confidence))
            return try (1...8).map { t in
                let frame = scene.render(square, t: t)
                let motion = scene.flows(dx: square.dx, dy: square.dy, inside: frame.mask, id: 1)
                let flows: (FlowField?, FlowField?) = switch flow {
                case .truth: (motion.backward, motion.forward)
                case .none: (nil, nil)
                case .wrong: (everywhere, everywhere)
                }
                let appearance = try propagation.appearance(Array(repeating: colour(frame.rgb), count: cues))
                return try propagation.propagate(appearance, rgb: frame.rgb, backward: flows.0, forward: flows.1)
            }
        }
        let truths = (1...8).map { scene.render(square, t: $0).mask }
        let tracked = try run(cues: 1, flow: .truth)
        XCTAssertGreaterThan(zip(tracked, truths).map { iou($0, $1, id: 1) }.min()!, 0.95)
        XCTAssertEqual(try run(cues: 2, flow: .truth), tracked, "two equal cues are one")
        let alone = try run(cues: 1, flow: .none), misled = try run(cues: 1, flow: .wrong)
        for t in 0..<8 { XCTAssertGreaterThan(iou(misled[t], alone[t], id: 1), 0.99, "frame \(t + 1)") }

        let mismatched = try FlowGuidedPropagation(firstCues: [colour(first.rgb), colour(first.rgb)], firstMask: first.mask,
                                                   frameWidth: w, frameHeight: h)
        XCTAssertThrowsError(try mismatched.appearance([colour(first.rgb)]))
        XCTAssertThrowsError(try FlowGuidedPropagation(firstCues: [], firstMask: first.mask, frameWidth: w, frameHeight: h))
    }

    /// The top-k search (tiles of target cells against their context in one matrix product, then each cell's
    /// window scanned) must choose as a brute-force DINO propagation does, on random features, with a memory of
    /// past frames, windows clipped at the borders and k = 1.
    func test_label_propagation_matches_a_brute_force_top_k() throws {
        var generator = SplitMix(seed: 11)
        for (gw, gh, radius, topK) in [(23, 13, 4, 5), (28, 14, 12, 5), (11, 9, 3, 1)] {
            let (c, stride) = (6, 4), (w, h) = (gw * stride, gh * stride)
            func map() -> FeatureMap {
                FeatureMap(channels: c, height: gh, width: gw, values: (0..<(c * gw * gh)).map { _ in generator.nextUniform() - 0.5 })
            }
            let mask = (0..<(w * h)).map { i -> UInt8 in (i % w) > w / 3 && (i / w) < h / 2 ? 1 : ((i % w) < 7 ? 2 : 0) }
            let propagation = try LabelPropagation(firstFeatures: map(), firstMask: mask, frameWidth: w, frameHeight: h,
                                                   configuration: .init(stride: stride, contextFrames: 2, radius: radius, topK: topK))
            for _ in 0..<3 {
                let target = try propagation.unitTarget(map())
                let fast = propagation.propagateLabels(target)
                let context = [propagation.first] + propagation.recent
                let labelCount = propagation.objectIDs.count, cells = gw * gh
                for y in 0..<gh {
                    for x in 0..<gw {
                        var top: [(s: Float, f: Int, cell: Int)] = []
                        for (f, frame) in context.enumerated() {
                            for ky in max(0, y - radius)...min(gh - 1, y + radius) {
                                for kx in max(0, x - radius)...min(gw - 1, x + radius) {
                                    var s: Float = 0
                                    for ch in 0..<c { s += target[(y * gw + x) * c + ch] * frame.features[(ky * gw + kx) * c + ch] }
                                    top.append((s, f, ky * gw + kx))
                                }
                            }
                        }
                        // Stable: ties keep the scan order, as the search does.
                        let best = Array(top.enumerated().sorted { $0.element.s != $1.element.s ? $0.element.s > $1.element.s : $0.offset < $1.offset }
                            .prefix(topK).map(\.element))
                        let weights = best.map { expf(($0.s - best[0].s) / 0.1) }, total = weights.reduce(0, +)
                        for l in 0..<labelCount {
                            var expected: Float = 0
                            for (n, b) in best.enumerated() { expected += weights[n] / total * context[b.f].labels[l * cells + b.cell] }
                            XCTAssertEqual(fast[l * cells + y * gw + x], expected, accuracy: 1e-4, "\(gw)x\(gh) r \(radius): (\(x), \(y)) label \(l)")
                        }
                    }
                }
                propagation.remember(target: target, labels: fast)
            }
        }
    }
}

/// A small deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func nextUniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
