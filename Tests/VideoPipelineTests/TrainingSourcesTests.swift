import Foundation
import VideoIO
import XCTest
@testable import MCJEPA
@testable import VideoPipeline

/// The video source's temporal positives (`train --content-gap`): two decoded frames of one video, 1...gap frames
/// apart, every distance and both orders drawn, never past the frames held.
final class TrainingSourcesTests: XCTestCase {
    func testVideoFramesApartAreOneToGapFramesApartInEitherOrder() throws {
        let frameCount = 8
        let source = try VideoPairSource(paths: [sample], maxStride: 2, maxSide: 64, maxFrames: frameCount, threads: 1)
        let reader = try VideoReader(path: sample, options: DecodeOptions(threads: 1, maxSide: 64))
        var frames: [[Float]] = []
        while frames.count < frameCount, let frame = try reader.nextFrame() {
            frames.append(FrameImage(width: frame.width, height: frame.height, rgb8: frame.rgb).planar)
        }
        func indices(_ frame: FrameImage) -> [Int] { frames.indices.filter { frames[$0] == frame.planar } }
        XCTAssertEqual(frames.count, frameCount)
        XCTAssertEqual(Set(frames.map { $0.map(\.bitPattern) }).count, frameCount, "each frame found by its pixels")
        for (gap, reachable) in [(3, 1...3), (50, 1...(frameCount - 1))] {
            var rng = TrainingRNG(seed: UInt64(gap))
            var distances: Set<Int> = [], forward = 0, backward = 0
            for _ in 0..<200 {
                let (a, b) = try source.framesApart(upTo: gap, &rng)
                let (ia, ib) = (indices(a), indices(b))
                guard ia.count == 1, ib.count == 1 else { return XCTFail("a frame that is not one of the video's first \(frameCount)") }
                let distance = ib[0] - ia[0]
                XCTAssertTrue(reachable.contains(abs(distance)), "gap \(gap): frames \(ia[0]) and \(ib[0])")
                distances.insert(abs(distance))
                if distance > 0 { forward += 1 } else { backward += 1 }
            }
            XCTAssertEqual(distances, Set(reachable), "gap \(gap): every distance up to the gap is drawn")
            XCTAssertGreaterThan(forward, 60); XCTAssertGreaterThan(backward, 60)
        }
    }
}
