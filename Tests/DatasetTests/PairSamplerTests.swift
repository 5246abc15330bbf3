import XCTest
import VideoIO
@testable import Dataset

final class PairSamplerTests: XCTestCase {
    private func pairs(_ clip: SyntheticClip, _ options: SamplingOptions) throws -> (pairs: [SampledPair], sampler: PairSampler) {
        var sampler = PairSampler(options: options)
        var result: [SampledPair] = []
        while !sampler.isFull, let frame = try clip.nextFrame() {
            if let pair = sampler.feed(frame) { result.append(pair) }
        }
        if let pair = sampler.finish() { result.append(pair) }
        return (result, sampler)
    }

    func test_a_cut_between_two_scenes_is_detected_at_the_first_frame_of_the_second() throws {
        let clip = SyntheticClip(framesPerScene: [7, 6])
        XCTAssertEqual(try cuts(in: (0..<clip.frameCount).map { _ in try clip.nextFrame()!.image }), [7])
    }

    /// Frame indices the detector marks as starting a new shot.
    private func cuts(in images: [RGBImage]) throws -> [Int] {
        var detector = SceneCutDetector()
        var cuts: [Int] = []
        for (index, image) in images.enumerated() where detector.push(Thumbnail(image)) == true {
            cuts.append(index - 1)
        }
        if detector.finish() == true { cuts.append(images.count - 1) }
        return cuts
    }

    private func gray(_ value: UInt8) -> RGBImage {
        RGBImage(width: 8, height: 8, rgb: [UInt8](repeating: value, count: 8 * 8 * 3))
    }

    func test_an_isolated_jump_is_a_cut_but_a_sustained_change_is_not() throws {
        // A jump of 0.2 between steady frames is a cut, also as the very last frame.
        XCTAssertEqual(try cuts(in: [100, 100, 100, 150, 150, 150].map(gray)), [3])
        XCTAssertEqual(try cuts(in: [100, 100, 150].map(gray)), [2])
        // Three successive changes of 0.16 (a fade, or a burst of fast motion): no single frame stands out.
        XCTAssertEqual(try cuts(in: [100, 100, 100, 140, 180, 220, 220].map(gray)), [])
        // Huge changes are cuts even back to back (a flash frame).
        XCTAssertEqual(try cuts(in: [0, 0, 250, 0, 0].map(gray)), [2, 3])
    }

    func test_pairs_never_span_a_cut_and_restart_at_the_new_scene() throws {
        let (found, sampler) = try pairs(SyntheticClip(framesPerScene: [7, 6]), SamplingOptions(stride: 2, maxPairs: 100))
        // Scene 0 is frames 0...6 -> (0,2) (2,4) (4,6); scene 1 is 7...12 -> (7,9) (9,11).
        XCTAssertEqual(found.map { [$0.first.index, $0.second.index] }, [[0, 2], [2, 4], [4, 6], [7, 9], [9, 11]])
        XCTAssertEqual(found.map(\.scene), [0, 0, 0, 1, 1])
        XCTAssertEqual(sampler.sceneCuts, 1)
    }

    func test_static_pairs_are_skipped_below_min_motion() throws {
        let still = try pairs(SyntheticClip(framesPerScene: [6], speed: 0), SamplingOptions(stride: 1, minMotion: 0.005))
        XCTAssertEqual(still.pairs.count, 0)
        XCTAssertEqual(still.sampler.pairsSkippedStatic, 5)
        let moving = try pairs(SyntheticClip(framesPerScene: [6], speed: 2), SamplingOptions(stride: 1, minMotion: 0.005))
        XCTAssertEqual(moving.pairs.count, 5)
        XCTAssertTrue(moving.pairs.allSatisfy { $0.motion > 0.005 && $0.motion < SceneCutDetector.defaultThreshold })
    }

    func test_max_pairs_stops_the_sampler() throws {
        let clip = SyntheticClip(framesPerScene: [50])
        let (found, sampler) = try pairs(clip, SamplingOptions(stride: 3, maxPairs: 4))
        XCTAssertEqual(found.map(\.first.index), [0, 3, 6, 9])
        XCTAssertTrue(sampler.isFull)
    }
}

final class FrameResizerTests: XCTestCase {
    func test_exact_size_centre_crops_to_the_target_aspect() {
        // 8x4 image whose left and right quarters are red and the middle half green: a 4x4 target keeps the middle.
        var pixels = [UInt8]()
        for _ in 0..<4 { for x in 0..<8 { pixels += (2..<6).contains(x) ? [0, 255, 0] : [255, 0, 0] } }
        let out = FrameResizer.apply(.exact(width: 2, height: 2), to: RGBImage(width: 8, height: 4, rgb: pixels))
        XCTAssertEqual(out.width, 2)
        XCTAssertEqual(out.height, 2)
        XCTAssertEqual(out.rgb, [UInt8]([0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0]))
    }

    func test_a_crop_at_the_target_size_copies_the_centre_pixels() {
        // 4x2, pixel value = column: the 2x2 centre window holds columns 1 and 2.
        var pixels = [UInt8]()
        for _ in 0..<2 { for x in 0..<4 { pixels += [UInt8(x), UInt8(x), UInt8(x)] } }
        let out = FrameResizer.apply(.exact(width: 2, height: 2), to: RGBImage(width: 4, height: 2, rgb: pixels))
        XCTAssertEqual(out.rgb, [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
    }

    func test_max_side_shrinks_keeping_aspect_and_averages_boxes() {
        // 4x2 of alternating black/white columns shrinks to 2x1 mid grey.
        var pixels = [UInt8]()
        for _ in 0..<2 { for x in 0..<4 { pixels += x % 2 == 0 ? [0, 0, 0] : [255, 255, 255] } }
        let out = FrameResizer.apply(.maxSide(2), to: RGBImage(width: 4, height: 2, rgb: pixels))
        XCTAssertEqual(out.width, 2)
        XCTAssertEqual(out.height, 2)
        XCTAssertTrue(out.rgb.allSatisfy { $0 == 128 }, "\(out.rgb)")
        let small = RGBImage(width: 4, height: 2, rgb: pixels)
        XCTAssertEqual(FrameResizer.apply(.maxSide(10), to: small), small, "never enlarges")
    }

    func test_enlarging_interpolates_between_neighbours() {
        let image = RGBImage(width: 2, height: 1, rgb: [0, 0, 0, 200, 200, 200])
        let out = FrameResizer.apply(.exact(width: 4, height: 2), to: image)
        XCTAssertEqual(out.width, 4)
        // 2x1 -> 4x2 after cropping to 2:1 (the whole image): columns at 0, 50, 150, 200.
        XCTAssertEqual(Array(out.rgb[0..<12]), [0, 0, 0, 50, 50, 50, 150, 150, 150, 200, 200, 200])
    }
}
