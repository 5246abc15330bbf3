import CDISFlow
import FlowIO
import XCTest
@testable import FlowRefinement

/// OpenCV's DIS behind the C interface: the flow comes back in the right order and units, the initial flow is
/// used, and what cannot be searched is returned as it came.
final class SeededDISSearchTests: XCTestCase {
    /// A textured luma image (smoothed pseudo-random noise, no repeating pattern) and the same scene moved by
    /// (dx, dy) whole pixels: `second(x + dx, y + dy) = first(x, y)`, so the true flow is (dx, dy) everywhere.
    static func shiftedPair(width: Int, height: Int, dx: Int, dy: Int) -> (GrayImage, GrayImage) {
        let margin = 64, (bw, bh) = (width + 2 * margin, height + 2 * margin)
        var state: UInt32 = 12345
        var noise = [Float](repeating: 0, count: bw * bh)
        for i in noise.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            noise[i] = Float(state >> 8) / Float(1 << 24)
        }
        // A 5x5 box blur gives blobs a few pixels wide, which patch matching can lock onto.
        var blurred = [Float](repeating: 0, count: bw * bh)
        for y in 2..<(bh - 2) {
            for x in 2..<(bw - 2) {
                var sum: Float = 0
                for j in -2...2 { for i in -2...2 { sum += noise[(y + j) * bw + x + i] } }
                blurred[y * bw + x] = 255 * sum / 25
            }
        }
        func crop(_ ox: Int, _ oy: Int) -> GrayImage {
            var pixels = [Float](repeating: 0, count: width * height)
            for y in 0..<height { for x in 0..<width { pixels[y * width + x] = blurred[(y + margin + oy) * bw + x + margin + ox] } }
            return GrayImage(width: width, height: height, pixels: pixels)
        }
        return (crop(0, 0), crop(-dx, -dy))
    }

    /// Mean end-point error against a constant flow (dx, dy), over the pixels away from the border by `inset`.
    static func error(_ flow: FlowField, _ dx: Float, _ dy: Float, inset: Int = 16) -> Float {
        var sum: Float = 0, count: Float = 0
        for y in inset..<(flow.height - inset) {
            for x in inset..<(flow.width - inset) {
                let i = y * flow.width + x
                sum += ((flow.u[i] - dx) * (flow.u[i] - dx) + (flow.v[i] - dy) * (flow.v[i] - dy)).squareRoot()
                count += 1
            }
        }
        return sum / count
    }

    /// The 8-bit luma DIS reads: the straightforward rounding (halves away from zero) then clamping, on values
    /// around every half and whole step, past both ends, the float neighbours of a half, and a NaN.
    func test_luma_bytes_are_the_rounded_clamped_values() {
        var values: [Float] = [-1000, -1, -0.5, -0.0, 0, .nan, .infinity, -.infinity, 255.49998, 255.5, 256, 1e9]
        for whole in -2...257 {
            let half = Float(whole) + 0.5
            values += [Float(whole), half, half.nextDown, half.nextUp, Float(whole).nextUp, Float(whole).nextDown]
        }
        values += (0..<2000).map { _ in Float.random(in: -10...265) }
        let image = GrayImage(width: values.count, height: 1, pixels: values)
        XCTAssertEqual(image.bytes, values.map { UInt8(max(0, min(255, $0.rounded()))) })
    }

    func test_search_from_zero_finds_a_small_shift_with_u_horizontal_and_v_vertical() {
        let (first, second) = Self.shiftedPair(width: 160, height: 120, dx: 3, dy: -2)
        let flow = SeededDISSearch().search(from: first, to: second)
        XCTAssertLessThan(Self.error(flow, 3, -2), 0.25)
        XCTAssertGreaterThan(Self.error(flow, -2, 3), 3, "u and v swapped")
    }

    func test_refining_a_seed_near_a_large_motion_recovers_it_precisely() {
        // 45 px is beyond what DIS finds from zero at this size; a seed 2-3 px off is refined to sub-pixel error.
        let (first, second) = Self.shiftedPair(width: 192, height: 144, dx: 45, dy: 9)
        let search = SeededDISSearch()
        let fromZero = search.search(from: first, to: second)
        var seed = FlowField.zero(width: 192, height: 144)
        for i in 0..<seed.pixelCount { seed.u[i] = 43; seed.v[i] = 11 }
        let refined = search.refine(seed, from: first, to: second)
        XCTAssertLessThan(Self.error(refined, 45, 9), 0.3)
        XCTAssertGreaterThan(Self.error(fromZero, 45, 9), 5, "the seed would make no difference on this pair")
    }

    func test_refining_keeps_the_seed_validity_and_returns_tiny_frames_unchanged() {
        let (first, second) = Self.shiftedPair(width: 64, height: 48, dx: 1, dy: 1)
        var seed = FlowField.zero(width: 64, height: 48)
        seed.valid[5] = false
        XCTAssertEqual(SeededDISSearch().refine(seed, from: first, to: second).valid, seed.valid)

        let (tiny1, tiny2) = Self.shiftedPair(width: 24, height: 40, dx: 1, dy: 0)
        var tinySeed = FlowField.zero(width: 24, height: 40)
        tinySeed.u[7] = 5
        XCTAssertEqual(SeededDISSearch().refine(tinySeed, from: tiny1, to: tiny2), tinySeed)
    }

    func test_the_standard_refinement_is_the_seeded_search_at_full_resolution() {
        let refiner = RefinementMethod.standard.refiner(threads: 1)
        XCTAssertEqual(refiner as? SeededDISSearch, SeededDISSearch(.standard))
        XCTAssertEqual(RefinementMethod.fastSearch.refiner(threads: 1) as? SeededDISSearch, SeededDISSearch(.medium))
        XCTAssertTrue(RefinementMethod.variational.refiner(threads: 1) is CoarseToFineRefinement)
        var denser = SeededDISSearch.Configuration.standard
        denser.patchStride = 2
        XCTAssertEqual(RefinementMethod.search.refiner(threads: 1, search: denser) as? SeededDISSearch, SeededDISSearch(denser))
    }

    // MARK: the configuration

    /// `medium` is OpenCV's preset, read back from OpenCV itself; the default searches to full resolution with
    /// fewer descent iterations and more smoothing.
    func test_the_medium_configuration_is_OpenCVs_preset_and_the_standard_one_searches_to_full_resolution() {
        XCTAssertEqual(SeededDISSearch.Configuration.openCVMedium(), .medium)
        var standard = SeededDISSearch.Configuration.medium
        standard.finestScale = 0
        standard.gradientDescentIterations = 12
        standard.variationalRefinementAlpha = 40
        XCTAssertEqual(SeededDISSearch.Configuration.standard, standard)
        XCTAssertEqual(SeededDISSearch().configuration, standard)
    }

    /// DIS as it ran before its parameters were exposed: OpenCV's medium preset left as it is (no parameter set),
    /// one `calc`, through the C interface directly.
    static func presetMediumSearch(_ first: GrayImage, _ second: GrayImage, initial: FlowField?) -> FlowField {
        let (w, h) = (first.width, first.height)
        var interleaved = [Float](repeating: 0, count: 2 * w * h)
        if let initial { for i in 0..<(w * h) { interleaved[2 * i] = initial.u[i]; interleaved[2 * i + 1] = initial.v[i] } }
        let dis = dis_flow_create(nil, nil, 0)!
        defer { dis_flow_destroy(dis) }
        XCTAssertEqual(dis_flow_calc(dis, first.bytes, second.bytes, Int32(w), Int32(h), &interleaved, initial == nil ? 0 : 1, nil, 0), 0)
        return FlowField(width: w, height: h, u: stride(from: 0, to: 2 * w * h, by: 2).map { interleaved[$0] },
                         v: stride(from: 1, to: 2 * w * h, by: 2).map { interleaved[$0] })
    }

    /// Setting every parameter to the preset's values, in one pass, changes no bit of the flow, from zero or seeded.
    func test_the_medium_configuration_gives_bit_identical_flow_to_OpenCVs_untouched_preset() {
        let (first, second) = Self.shiftedPair(width: 160, height: 120, dx: 7, dy: -3)
        var seed = FlowField.zero(width: 160, height: 120)
        for i in 0..<seed.pixelCount { seed.u[i] = Float(i % 160) / 40; seed.v[i] = -2 }
        let search = SeededDISSearch(.medium)
        let (fromZero, seeded) = (search.search(from: first, to: second), search.search(from: first, to: second, initial: seed))
        XCTAssertEqual(fromZero, Self.presetMediumSearch(first, second, initial: nil))
        XCTAssertEqual(seeded, Self.presetMediumSearch(first, second, initial: seed))
        XCTAssertNotEqual(fromZero, seeded, "the seed would make no difference on this pair")
        var changed = SeededDISSearch.Configuration.medium
        changed.variationalRefinementGamma = 9
        XCTAssertNotEqual(SeededDISSearch(changed).search(from: first, to: second, initial: seed), seeded,
                          "the parameters would not reach OpenCV")
    }

    /// Two passes are the search run on its own output: the second pass is seeded by the first.
    func test_a_second_pass_searches_again_from_the_first_passs_flow() {
        let (first, second) = Self.shiftedPair(width: 128, height: 96, dx: 20, dy: 5)
        var seed = FlowField.zero(width: 128, height: 96)
        for i in 0..<seed.pixelCount { seed.u[i] = 18; seed.v[i] = 6 }
        var twice = SeededDISSearch.Configuration.standard
        twice.passes = 2
        let once = SeededDISSearch()
        let expected = once.search(from: first, to: second, initial: once.search(from: first, to: second, initial: seed))
        XCTAssertEqual(SeededDISSearch(twice).search(from: first, to: second, initial: seed), expected)
        XCTAssertNotEqual(expected, once.search(from: first, to: second, initial: seed))
    }

    func test_the_text_form_reads_back_to_the_same_configuration() throws {
        let all = SeededDISSearch.Configuration(
            finestScale: 2, patchSize: 12, patchStride: 5, gradientDescentIterations: 7, variationalRefinementIterations: 0,
            variationalRefinementAlpha: 12.5, variationalRefinementDelta: 0.1, variationalRefinementGamma: 3e-3,
            useMeanNormalization: false, useSpatialPropagation: false, passes: 3)
        for configuration in [SeededDISSearch.Configuration.standard, .medium, all] {
            XCTAssertEqual(try SeededDISSearch.Configuration(parsing: configuration.description, base: .medium), configuration)
        }
        XCTAssertEqual(SeededDISSearch.Configuration.standard.description,
                       "finest-scale=0,patch-size=8,patch-stride=3,gradient-descent-iterations=12,"
                       + "variational-refinement-iterations=5,variational-refinement-alpha=40.0,"
                       + "variational-refinement-delta=5.0,variational-refinement-gamma=10.0,mean-normalization=true,"
                       + "spatial-propagation=true,passes=1")
        // A few keys change only those parameters of the base.
        var expected = SeededDISSearch.Configuration.medium
        expected.patchStride = 2
        expected.useSpatialPropagation = false
        XCTAssertEqual(try SeededDISSearch.Configuration(parsing: "patch-stride=2, spatial-propagation=0", base: .medium), expected)
    }

    func test_absurd_or_malformed_text_is_refused_with_one_line_naming_the_parameter() {
        let cases: [(String, String)] = [
            ("patch-stride=9", "patch-stride must be in 1...8 (the patch size), got 9"),
            ("patch-size=2", "patch-size must be in 4...32, got 2"),
            ("passes=0", "passes must be in 1...8, got 0"),
            ("finest-scale=-1", "finest-scale must be in 0...8, got -1"),
            ("gradient-descent-iterations=100000", "gradient-descent-iterations must be in 0...500, got 100000"),
            ("variational-refinement-alpha=-1", "variational-refinement-alpha must be in 0.0...10000.0, got -1.0"),
            ("variational-refinement-delta=nan", "variational-refinement-delta must be a finite number, got 'nan'"),
            ("variational-refinement-gamma=inf", "variational-refinement-gamma must be a finite number, got 'inf'"),
            ("patch-size=8.5", "patch-size must be an integer, got '8.5'"),
            ("mean-normalization=maybe", "mean-normalization must be true or false, got 'maybe'"),
            ("passes=2,passes=3", "passes is given twice"),
            ("patch-stride", "expected KEY=VALUE, got 'patch-stride'"),
            ("", "expected KEY=VALUE, got ''"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try SeededDISSearch.Configuration(parsing: text), text) { error in
                XCTAssertEqual(error as? SearchConfigurationError, SearchConfigurationError(reason), text)
            }
        }
        XCTAssertThrowsError(try SeededDISSearch.Configuration(parsing: "stride=2")) { error in
            XCTAssertTrue("\(error)".hasPrefix("search options: unknown parameter 'stride' (known: finest-scale, patch-size,"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    /// The ranges' corners all run in OpenCV and give a finite flow; frames too small for the patches or the
    /// finest scale are returned as they came instead of reaching OpenCV.
    func test_every_corner_of_the_ranges_gives_a_finite_flow_and_too_small_frames_are_left_alone() throws {
        let (first, second) = Self.shiftedPair(width: 72, height: 56, dx: 2, dy: 1)
        let seed = FlowField.zero(width: 72, height: 56)
        for text in ["patch-size=4,patch-stride=4", "patch-size=4,patch-stride=1", "patch-size=32,patch-stride=32",
                     "patch-size=5,patch-stride=2", "gradient-descent-iterations=0,variational-refinement-iterations=0",
                     "variational-refinement-alpha=0,variational-refinement-delta=0,variational-refinement-gamma=0",
                     "variational-refinement-alpha=10000,variational-refinement-delta=10000,variational-refinement-gamma=10000",
                     "mean-normalization=false,spatial-propagation=false,passes=2"] {
            let flow = SeededDISSearch(try SeededDISSearch.Configuration(parsing: text)).refine(seed, from: first, to: second)
            XCTAssertTrue(flow.u.allSatisfy(\.isFinite) && flow.v.allSatisfy(\.isFinite), text)
        }
        // 40x40 at half resolution, or with 32 px patches: OpenCV's coarsest level would be finer than the finest.
        let (small1, small2) = Self.shiftedPair(width: 40, height: 40, dx: 1, dy: 0)
        var smallSeed = FlowField.zero(width: 40, height: 40)
        smallSeed.u[3] = 4
        XCTAssertFalse(SeededDISSearch(.medium).canSearch(width: 40, height: 40))
        XCTAssertEqual(SeededDISSearch(.medium).refine(smallSeed, from: small1, to: small2), smallSeed)
        XCTAssertTrue(SeededDISSearch().canSearch(width: 40, height: 40))
        let large = try SeededDISSearch.Configuration(parsing: "patch-size=32,patch-stride=8")
        XCTAssertFalse(SeededDISSearch(large).canSearch(width: 40, height: 40))
        XCTAssertTrue(SeededDISSearch(large).canSearch(width: 72, height: 56))
    }
}
