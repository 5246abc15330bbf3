import CSIMDMath
import FlowIO
import Foundation
import NN
import XCTest
@testable import FlowRefinement

/// Parity with OpenCV's `cv2.VariationalRefinement` (the fixture written by
/// Reference/variational_refinement_reference.py), and the refinement's behaviour on pairs with known motion.
final class VariationalRefinementTests: XCTestCase {
    static let regenerate = "regenerate with: python3 Reference/variational_refinement_reference.py"

    /// The fixture's frames, true flow, initial flow and OpenCV's refined flows.
    struct Fixture {
        let first: GrayImage, second: GrayImage
        let truth: FlowField, initial: FlowField, single: FlowField, pyramid: FlowField

        init() throws {
            let url = try XCTUnwrap(Bundle.module.url(forResource: "variational_refinement", withExtension: "safetensors",
                                                      subdirectory: "Fixtures"), "no fixture; \(regenerate)")
            let tensors = try Safetensors.read(path: url.path).tensors
            func tensor(_ name: String) throws -> Tensor { try XCTUnwrap(tensors[name], "fixture lacks \(name); \(regenerate)") }
            let gray1 = try tensor("gray1"), gray2 = try tensor("gray2")
            let (h, w) = (gray1.shape[0], gray1.shape[1])
            first = GrayImage(width: w, height: h, pixels: gray1.array)
            second = GrayImage(width: w, height: h, pixels: gray2.array)
            func flow(_ name: String) throws -> FlowField {
                let planes = try tensor(name).array
                return FlowField(width: w, height: h, u: Array(planes[0..<(w * h)]), v: Array(planes[(w * h)...]))
            }
            truth = try flow("truth")
            initial = try flow("initial")
            single = try flow("single")
            pyramid = try flow("pyramid")
        }
    }

    func test_refinement_matches_opencv_on_one_level() throws {
        let fixture = try Fixture()
        var refined = fixture.initial
        VariationalRefinement().refine(u: &refined.u, v: &refined.v, from: fixture.first, to: fixture.second)
        assertClose(refined, fixture.single, "one level", mean: 1e-5, largest: 1e-3)
    }

    func test_coarse_to_fine_refinement_matches_opencv_run_on_the_same_schedule() throws {
        let fixture = try Fixture()
        let refinement = CoarseToFineRefinement()
        XCTAssertEqual(refinement.scales(width: fixture.first.width, height: fixture.first.height), [4, 2, 1],
                       "the fixture's schedule; \(Self.regenerate) if the defaults changed")
        // OpenCV's refinement takes only 8-bit images, so the reference rounds each shrunk level to integers;
        // the Swift pyramid keeps them in floating point. That alone moves a few ill-conditioned pixels by
        // ~0.2 px while the mean stays under 0.01 px.
        assertClose(refinement.refine(fixture.initial, from: fixture.first, to: fixture.second), fixture.pyramid,
                    "coarse to fine", mean: 0.01, largest: 0.3)
    }

    func test_refinement_moves_a_wrong_flow_towards_the_true_motion() throws {
        let fixture = try Fixture()
        let before = endPointError(fixture.initial, fixture.truth)
        var single = fixture.initial
        VariationalRefinement().refine(u: &single.u, v: &single.v, from: fixture.first, to: fixture.second)
        let pyramid = CoarseToFineRefinement().refine(fixture.initial, from: fixture.first, to: fixture.second)
        XCTAssertLessThan(endPointError(single, fixture.truth), 0.7 * before)
        // The pyramid also corrects the errors of a few pixels that one linearisation cannot.
        XCTAssertLessThan(endPointError(pyramid, fixture.truth), 0.5 * endPointError(single, fixture.truth))
    }

    func test_coarse_to_fine_refinement_recovers_a_shift_from_a_blocky_flow() {
        // The network's typical error: a flow right on average but off by up to 3 px in 8x8 blocks (its decoder
        // works at 1/8 resolution). A flow with no variation at all would not do as a start: its smoothness
        // weights are huge (alpha / epsilon), and SOR then barely moves it, in OpenCV as here.
        let (w, h) = (192, 128), (shiftX, shiftY): (Float, Float) = (10, -6)
        let first = smoothTexture(width: w, height: h, offsetX: 0, offsetY: 0)
        let second = smoothTexture(width: w, height: h, offsetX: -shiftX, offsetY: -shiftY)
        // Errors in -3...3 px, constant over each 8x8 block, scrambled by two multiplicative hashes of the block.
        var initial = FlowField.zero(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                let block = (y / 8) * (w / 8) + x / 8
                initial.u[y * w + x] = shiftX + Float((block * 7919) % 13) / 2 - 3
                initial.v[y * w + x] = shiftY + Float((block * 104_729 + 5) % 13) / 2 - 3
            }
        }
        let refined = CoarseToFineRefinement().refine(initial, from: first, to: second)
        // Away from the borders, where the content leaving the frame has no match.
        func meanError(_ flow: FlowField) -> Float {
            var sum: Float = 0, count = 0
            for y in 16..<(h - 16) {
                for x in 24..<(w - 24) {
                    let p = y * w + x
                    sum += ((flow.u[p] - shiftX) * (flow.u[p] - shiftX) + (flow.v[p] - shiftY) * (flow.v[p] - shiftY)).squareRoot()
                    count += 1
                }
            }
            return sum / Float(count)
        }
        XCTAssertGreaterThan(meanError(initial), 2)
        XCTAssertLessThan(meanError(refined), 0.2, "mean EPE of a (10, -6) shift after refinement")
    }

    func test_threads_give_the_same_flow_bit_for_bit() throws {
        // Bands of rows run the wavefront SOR concurrently; their edge rows wait for all bands. Any thread count
        // must reproduce the single-threaded sweep exactly (also with uneven bands: 96 rows over 5 threads).
        let fixture = try Fixture()
        let reference = CoarseToFineRefinement(refinement: VariationalRefinement(threads: 1))
            .refine(fixture.initial, from: fixture.first, to: fixture.second)
        for threads in [2, 3, 5] {
            let refinement = CoarseToFineRefinement(refinement: VariationalRefinement(threads: threads))
            XCTAssertEqual(refinement.refine(fixture.initial, from: fixture.first, to: fixture.second), reference,
                           "\(threads) threads")
        }
    }

    func test_sor_row_kernel_equals_the_scalar_update_bit_for_bit() {
        // Rows of 40 pixels: the kernel's eight-pixel blocks and its scalar tail, both colours, on random systems,
        // against the update written out in Swift in the same order of operations.
        let (w, h) = (40, 3), pad = w + 24, n = w * h
        var generator = LCG(seed: 21)
        func buffer() -> [Float] { (0..<(n + 2 * pad)).map { _ in generator.uniform(-1, 1) } }
        let (right, down, inv11, a12, inv22, b1, b2) = (buffer(), buffer(), buffer(), buffer(), buffer(), buffer(), buffer())
        for black in [false, true] {
            var (du, dv) = (buffer(), buffer())
            let before = du
            var (expectedU, expectedV) = (du, dv)
            let omega: Float = 1.6, y = 1, first = pad + y * w + ((y + (black ? 1 : 0)) & 1), end = pad + (y + 1) * w
            for p in stride(from: first, to: end, by: 2) {
                let (cr, cl, cd, cu) = (right[p], right[p - 1], down[p], down[p - w])
                let su = cl * expectedU[p - 1] + cr * expectedU[p + 1] + cu * expectedU[p - w] + cd * expectedU[p + w]
                let sv = cl * expectedV[p - 1] + cr * expectedV[p + 1] + cu * expectedV[p - w] + cd * expectedV[p + w]
                let u = expectedU[p] + omega * ((su + b1[p] - expectedV[p] * a12[p]) * inv11[p] - expectedU[p])
                expectedU[p] = u
                expectedV[p] += omega * ((sv + b2[p] - u * a12[p]) * inv22[p] - expectedV[p])
            }
            du.withUnsafeMutableBufferPointer { du in
                dv.withUnsafeMutableBufferPointer { dv in
                    csimd_sor_row(du.baseAddress!, dv.baseAddress!, right, down, inv11, a12, inv22, b1, b2, w, first, end, omega)
                }
            }
            XCTAssertEqual(du, expectedU, "du, \(black ? "black" : "red") pixels")
            XCTAssertEqual(dv, expectedV, "dv, \(black ? "black" : "red") pixels")
            XCTAssertNotEqual(du, before, "the row should change")
        }
    }

    func test_smoothness_row_kernel_equals_the_scalar_weights_bit_for_bit() {
        // A 21-pixel row (two eight-pixel blocks and a tail), with and without a row below.
        let (w, h) = (21, 2), n = w * h
        var generator = LCG(seed: 5)
        let u = (0..<n).map { _ in generator.uniform(-8, 8) }, v = (0..<n).map { _ in generator.uniform(-8, 8) }
        let alpha: Float = 10, epsilon2: Float = 1e-6
        for y in 0..<h {
            let hasBelow = y < h - 1
            var right = [Float](repeating: -1, count: n), down = right
            csimd_smoothness_row(u, v, &right, &down, w, y, hasBelow ? 1 : 0, alpha, epsilon2)
            for x in 0..<w {
                let p = y * w + x, r = x < w - 1 ? p + 1 : p, b = hasBelow ? p + w : p
                let ux = u[r] - u[p], vx = v[r] - v[p], uy = u[b] - u[p], vy = v[b] - v[p]
                let weight = alpha / (ux * ux + vx * vx + uy * uy + vy * vy + epsilon2).squareRoot()
                XCTAssertEqual(right[p], x < w - 1 ? weight : 0, "right weight at (\(x), \(y))")
                XCTAssertEqual(down[p], hasBelow ? weight : 0, "down weight at (\(x), \(y))")
            }
            let otherRow = (0..<n).filter { $0 / w != y }
            XCTAssertTrue(otherRow.allSatisfy { right[$0] == -1 && down[$0] == -1 }, "only row \(y) is written")
        }
    }

    func test_vector_square_root_is_the_lane_wise_one() {
        let x = SIMD8<Float>(0, 1, 2, 9, 1e-6, 123.456, 1e30, 0.25)
        let root = csimd_sqrt8(x)
        for i in 0..<8 { XCTAssertEqual(root[i], x[i].squareRoot()) }
    }

    func test_identical_frames_keep_zero_flow() {
        let image = smoothTexture(width: 48, height: 32, offsetX: 0, offsetY: 0)
        let refined = CoarseToFineRefinement().refine(.zero(width: 48, height: 32), from: image, to: image)
        XCTAssertLessThan(refined.u.map(abs).max()!, 1e-4)
        XCTAssertLessThan(refined.v.map(abs).max()!, 1e-4)
    }

    func test_refined_flow_keeps_the_input_validity() {
        let image = smoothTexture(width: 40, height: 24, offsetX: 0, offsetY: 0)
        var flow = FlowField.zero(width: 40, height: 24)
        flow.valid[5] = false
        XCTAssertEqual(CoarseToFineRefinement().refine(flow, from: image, to: image).valid, flow.valid)
    }

    func test_schedule_starts_at_one_sixteenth_and_skips_levels_under_the_minimum_side() {
        let refinement = CoarseToFineRefinement()
        XCTAssertEqual(refinement.scales(width: 1024, height: 436), [16, 8, 4, 2, 1])
        XCTAssertEqual(refinement.scales(width: 448, height: 320), [16, 8, 4, 2, 1])
        XCTAssertEqual(refinement.scales(width: 640, height: 200), [8, 4, 2, 1])
        XCTAssertEqual(refinement.scales(width: 20, height: 12), [1])
        XCTAssertEqual(CoarseToFineRefinement(coarsestScale: 4).scales(width: 1024, height: 436), [4, 2, 1])
    }

    func test_tiny_frames_refine_without_crashing() {
        for (w, h) in [(1, 1), (2, 1), (1, 3), (3, 2)] {
            let image = GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { Float($0 * 40) })
            let refined = CoarseToFineRefinement().refine(.zero(width: w, height: h), from: image, to: image)
            XCTAssertTrue(refined.u.allSatisfy(\.isFinite) && refined.v.allSatisfy(\.isFinite), "\(w)x\(h)")
        }
    }

    // MARK: helpers

    private func assertClose(_ actual: FlowField, _ expected: FlowField, _ what: String, mean: Float, largest: Float,
                             file: StaticString = #filePath, line: UInt = #line) {
        let difference = endPointError(actual, expected)
        var worst: Float = 0
        for p in 0..<actual.pixelCount {
            worst = max(worst, max(abs(actual.u[p] - expected.u[p]), abs(actual.v[p] - expected.v[p])))
        }
        XCTAssertLessThan(difference, mean, "\(what): mean end-point difference from OpenCV; \(Self.regenerate)",
                          file: file, line: line)
        XCTAssertLessThan(worst, largest, "\(what): largest difference from OpenCV; \(Self.regenerate)",
                          file: file, line: line)
    }

    private func endPointError(_ a: FlowField, _ b: FlowField) -> Float {
        var sum: Float = 0
        for p in 0..<a.pixelCount {
            let du = a.u[p] - b.u[p], dv = a.v[p] - b.v[p]
            sum += (du * du + dv * dv).squareRoot()
        }
        return sum / Float(a.pixelCount)
    }

    /// A smooth pattern (sums of sines at several frequencies) sampled at (x + offsetX, y + offsetY), 0...255.
    private func smoothTexture(width: Int, height: Int, offsetX: Float, offsetY: Float) -> GrayImage {
        var pixels = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let (sx, sy) = (Float(x) + offsetX, Float(y) + offsetY)
                pixels[y * width + x] = 128 + 50 * sin(0.11 * sx + 0.05 * sy) + 40 * cos(0.07 * sy - 0.03 * sx)
                    + 25 * sin(0.23 * sx) * cos(0.19 * sy)
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }
}

final class GrayImageTests: XCTestCase {
    func test_luma_uses_bt601_weights_on_the_0_to_255_scale() {
        // Planar RGB of two pixels: pure red and mid grey.
        let image = GrayImage(width: 2, height: 1, planarRGB: [1, 0.5, 0, 0.5, 0, 0.5])
        XCTAssertEqual(image.pixels[0], 255 * 0.299, accuracy: 1e-3)
        XCTAssertEqual(image.pixels[1], 127.5, accuracy: 1e-3)
    }

    func test_area_shrink_by_two_averages_each_2x2_block() {
        let image = GrayImage(width: 4, height: 2, pixels: [0, 2, 4, 6, 8, 10, 12, 14])
        XCTAssertEqual(image.areaShrunk(width: 2, height: 1).pixels, [5, 9])
    }

    func test_area_shrink_by_a_fraction_weights_partial_pixels_by_their_overlap() {
        // 3 -> 2: the first cell covers pixel 0 and half of pixel 1.
        let image = GrayImage(width: 3, height: 1, pixels: [0, 3, 6])
        let shrunk = image.areaShrunk(width: 2, height: 1).pixels
        XCTAssertEqual(shrunk[0], (0 + 0.5 * 3) / 1.5, accuracy: 1e-5)
        XCTAssertEqual(shrunk[1], (0.5 * 3 + 6) / 1.5, accuracy: 1e-5)
    }

    func test_area_shrink_keeps_the_mean() {
        let pixels = (0..<(7 * 5)).map { Float(($0 * 37) % 11) }
        let shrunk = GrayImage(width: 7, height: 5, pixels: pixels).areaShrunk(width: 3, height: 2)
        XCTAssertEqual(shrunk.pixels.reduce(0, +) / 6, pixels.reduce(0, +) / 35, accuracy: 1e-4)
    }
}

/// A seeded linear congruential generator, so that the kernels' random inputs reproduce.
private struct LCG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    /// Uniform in [low, high), on a grid of 2^-24 of the range.
    mutating func uniform(_ low: Float, _ high: Float) -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return low + (high - low) * Float(state >> 40) / Float(1 << 24)
    }
}
