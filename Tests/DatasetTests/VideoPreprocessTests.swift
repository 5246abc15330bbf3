import Foundation
import VideoIO
import XCTest
@testable import Dataset

/// Preprocessing real encoded files: a two-scene clip written with VideoIO, and the clips in Samples/.
final class VideoPreprocessTests: XCTestCase {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Samples").path

    /// Writes `framesPerScene` frames of each synthetic scene into a lossless FFV1 file.
    private func writeClip(_ path: String, framesPerScene: [Int]) throws {
        let clip = SyntheticClip(width: 64, height: 48, framesPerScene: framesPerScene, speed: 1)
        let writer = try VideoWriter(path: path, width: 64, height: 48,
                                     options: EncodeOptions(codec: .ffv1, frameRate: Rational(25, 1)))
        while let frame = try clip.nextFrame() { try writer.write(frame.image) }
        try writer.finish()
    }

    func test_a_scene_cut_in_an_encoded_clip_is_detected_and_never_paired_across() throws {
        let folder = try makeTemporaryFolder()
        try writeClip(folder + "/two-scenes.mkv", framesPerScene: [5, 7])
        var options = PreprocessOptions(output: folder + "/shards")
        options.sampling = SamplingOptions(stride: 2, maxPairs: 100)
        let videos = try VideoInputs.collect(paths: [folder + "/two-scenes.mkv"])
        let preprocessor = Preprocessor(plan: ShardPlan(videos: videos, pairsPerShard: 100, maxPairsPerVideo: 100),
                                        options: options, encoder: try FFmpegImageEncoder(format: .png),
                                        openSource: VideoFileOpener(resize: .keep).open)
        let summary = try preprocessor.run(worker: .single)
        let stats = try XCTUnwrap(summary.shardsWritten.first?.videos.first)
        XCTAssertNil(stats.error)
        XCTAssertEqual(stats.framesDecoded, 12)
        XCTAssertEqual(stats.sceneCuts, 1)
        let members = TarReader.members(try readBytes(folder + "/shards/shard-000000.tar"))
        let pairs = try members.filter { $0.name.hasSuffix(".json") }.map {
            try JSONDecoder().decode(SampleMetadata.self, from: Data($0.contents))
        }
        // Scene 0 = frames 0...4: (0,2) (2,4); scene 1 = frames 5...11: (5,7) (7,9) (9,11).
        XCTAssertEqual(pairs.map { [$0.frame0, $0.frame1] }, [[0, 2], [2, 4], [5, 7], [7, 9], [9, 11]])
        XCTAssertEqual(pairs.map(\.scene), [0, 0, 1, 1, 1])
    }

    func test_the_png_members_decode_to_the_resized_frames() throws {
        let folder = try makeTemporaryFolder()
        try writeClip(folder + "/clip.mkv", framesPerScene: [3])
        var options = PreprocessOptions(output: folder + "/shards")
        options.resize = .exact(width: 32, height: 32)
        let videos = try VideoInputs.collect(paths: [folder + "/clip.mkv"])
        _ = try Preprocessor(plan: ShardPlan(videos: videos, pairsPerShard: 10, maxPairsPerVideo: 10),
                             options: options, encoder: try FFmpegImageEncoder(format: .png),
                             openSource: VideoFileOpener(resize: options.resize).open).run(worker: .single)
        let members = TarReader.members(try readBytes(folder + "/shards/shard-000000.tar"))
        XCTAssertEqual(members.count, 6)
        let png = folder + "/f0.png"
        try Data(members[0].contents).write(to: URL(fileURLWithPath: png))
        let decoded = try readImage(path: png)
        // FFV1 is lossless, so the member must be synthetic frame 0 centre-cropped to 32x32; the decoder's scaler
        // (bicubic) did the shrinking, so allow its small difference from our box filter.
        let expected = FrameResizer.apply(.exact(width: 32, height: 32),
                                          to: SyntheticClip.pattern(scene: 0, shift: 0, width: 64, height: 48))
        XCTAssertEqual([decoded.width, decoded.height], [32, 32])
        let differences = zip(decoded.rgb, expected.rgb).map { abs(Int($0) - Int($1)) }
        let mean = Double(differences.reduce(0, +)) / Double(differences.count)
        XCTAssertLessThan(mean, 3, "mean abs difference from the expected crop")
        // A wrong crop (e.g. the left edge instead of the centre) is far off for this grating.
        let leftCrop = FrameResizer.resize(SyntheticClip.pattern(scene: 0, shift: 0, width: 64, height: 48),
                                           cropX: 0, cropY: 0, cropWidth: 48, cropHeight: 48, width: 32, height: 32)
        let leftMean = Double(zip(decoded.rgb, leftCrop.rgb).map { abs(Int($0) - Int($1)) }.reduce(0, +))
            / Double(differences.count)
        XCTAssertGreaterThan(leftMean, 10 * max(mean, 1))
    }
}
