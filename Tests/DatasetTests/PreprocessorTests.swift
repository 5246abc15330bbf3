import VideoIO
import Foundation
import XCTest
@testable import Dataset

final class PreprocessorTests: XCTestCase {
    /// Five synthetic videos, one with two scenes and one broken from the start.
    let videos = ["a.mp4", "b.mp4", "broken.mp4", "c.mp4", "d.mp4"].map { VideoInput(path: "/synthetic/" + $0, relativePath: "corpus/" + $0) }

    private func preprocessor(_ output: String, resume: Bool = false, opened: Counter? = nil,
                              encodingThreads: Int = 1) -> Preprocessor {
        var options = PreprocessOptions(output: output)
        options.encodingThreads = encodingThreads
        options.sampling = SamplingOptions(stride: 2, maxPairs: 3)
        options.pairsPerShard = 6
        options.resize = .exact(width: 32, height: 32)
        options.resume = resume
        return Preprocessor(plan: ShardPlan(videos: videos, pairsPerShard: options.pairsPerShard, maxPairsPerVideo: 3),
                            options: options, encoder: PPMEncoder()) { video in
            opened?.names.append(video.relativePath)
            switch video.relativePath {
            case "corpus/broken.mp4": throw DatasetError.video(path: video.path, reason: "invalid data found")
            case "corpus/b.mp4": return SyntheticClip(framesPerScene: [3, 8])
            case "corpus/d.mp4": return SyntheticClip(framesPerScene: [9], failAfter: 5)
            default: return SyntheticClip(framesPerScene: [9], speed: video.relativePath.count % 3 + 1)
            }
        }
    }

    final class Counter { var names: [String] = [] }

    private func files(in folder: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            result[name] = try readBytes(folder + "/" + name)
        }
        return result
    }

    func test_shards_hold_adjacent_sample_members_in_sorted_order() throws {
        let output = try makeTemporaryFolder()
        let summary = try preprocessor(output).run(worker: .single)
        XCTAssertEqual(summary.shardsWritten.count, 3)
        XCTAssertEqual(summary.pairs, 3 + 3 + 3 + 2)
        let members = TarReader.members(try readBytes(output + "/shard-000000.tar"))
        let idA = VideoID.make(relativePath: "corpus/a.mp4")
        let idB = VideoID.make(relativePath: "corpus/b.mp4")
        // b.mp4 has a cut after frame 2: pairs (0,2), then the chain restarts at 3: (3,5), (5,7).
        let expectedKeys = [0, 2, 4].map { VideoID.sampleKey(videoID: idA, frameIndex: $0) }
            + [0, 3, 5].map { VideoID.sampleKey(videoID: idB, frameIndex: $0) }
        XCTAssertEqual(members.map(\.name), expectedKeys.flatMap { ["\($0).f0.ppm", "\($0).f1.ppm", "\($0).json"] })
        XCTAssertEqual(Array(members[0].contents.prefix(9)), Array("P6\n32 32\n".utf8))
        let metadata = try JSONDecoder().decode(SampleMetadata.self, from: Data(members[2].contents))
        XCTAssertEqual(metadata.frame0, 0)
        XCTAssertEqual(metadata.frame1, 2)
        XCTAssertEqual(metadata.source, "corpus/a.mp4")
        XCTAssertEqual([metadata.width, metadata.height, metadata.sourceWidth], [32, 32, 64])
    }

    func test_a_broken_video_is_recorded_in_the_stats_and_the_run_goes_on() throws {
        let output = try makeTemporaryFolder()
        let summary = try preprocessor(output).run(worker: .single)
        XCTAssertEqual(summary.videosFailed, 2, "broken.mp4, and d.mp4 midway")
        let stats = try JSONDecoder().decode(ShardStats.self, from: Data(try readBytes(output + "/shard-000001.stats.json")))
        XCTAssertEqual(stats.videos.map(\.source), ["corpus/broken.mp4", "corpus/c.mp4"])
        XCTAssertEqual(stats.videos[0].error, "/synthetic/broken.mp4: invalid data found")
        XCTAssertEqual(stats.videos[0].pairs, 0)
        XCTAssertEqual(stats.videos[1].pairs, 3)
        XCTAssertNil(stats.videos[1].error)
        XCTAssertEqual(stats.videosFailed, 1)
    }

    func test_n_workers_write_byte_identical_shards_to_one_worker() throws {
        let single = try makeTemporaryFolder()
        _ = try preprocessor(single).run(worker: .single)
        let split = try makeTemporaryFolder()
        // Workers in reverse order, each into the shared folder, as independent machines would.
        for index in (0..<2).reversed() {
            _ = try preprocessor(split).run(worker: try WorkerAssignment(index: index, count: 2))
        }
        let expected = try files(in: single)
        XCTAssertEqual(expected.keys.sorted(), ["manifest.json"] + (0..<3).flatMap {
            ["shard-00000\($0).stats.json", "shard-00000\($0).tar"] })
        XCTAssertEqual(try files(in: split), expected)
    }

    func test_encoding_threads_do_not_change_a_byte() throws {
        let one = try makeTemporaryFolder()
        _ = try preprocessor(one).run(worker: .single)
        let three = try makeTemporaryFolder()
        _ = try preprocessor(three, encodingThreads: 3).run(worker: .single)
        XCTAssertEqual(try files(in: three), try files(in: one))
    }

    func test_a_video_failing_midway_keeps_the_pairs_decoded_before_the_error() throws {
        let output = try makeTemporaryFolder()
        _ = try preprocessor(output).run(worker: .single)
        let stats = try JSONDecoder().decode(ShardStats.self, from: Data(try readBytes(output + "/shard-000002.stats.json")))
        XCTAssertEqual(stats.videos.map(\.source), ["corpus/d.mp4"])
        XCTAssertEqual(stats.videos[0].error, "synthetic: corrupt packet")
        XCTAssertEqual(stats.videos[0].framesDecoded, 5)
        XCTAssertEqual(stats.videos[0].pairs, 2)
        let members = TarReader.members(try readBytes(output + "/shard-000002.tar"))
        XCTAssertEqual(members.count, 6, "(0,2) and (2,4) written")
    }

    func test_resume_rewrites_only_shards_without_a_done_marker() throws {
        let output = try makeTemporaryFolder()
        _ = try preprocessor(output).run(worker: .single)
        let before = try files(in: output)
        try FileManager.default.removeItem(atPath: output + "/shard-000001.stats.json")
        // What a process killed while writing leaves behind.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: output + "/.shard-000001.tar.tmp-99999-1"))
        let opened = Counter()
        let summary = try preprocessor(output, resume: true, opened: opened).run(worker: .single)
        XCTAssertEqual(summary.shardsResumed, [0, 2])
        XCTAssertEqual(summary.shardsWritten.map(\.shard), ["shard-000001"])
        XCTAssertEqual(opened.names, ["corpus/broken.mp4", "corpus/c.mp4"])
        XCTAssertEqual(try files(in: output), before)
    }

    func test_existing_shards_without_resume_or_overwrite_are_refused() throws {
        let output = try makeTemporaryFolder()
        _ = try preprocessor(output).run(worker: .single)
        XCTAssertThrowsError(try preprocessor(output).run(worker: .single)) { error in
            XCTAssertTrue("\(error)".contains("shard-000000.tar: already exists"), "\(error)")
        }
    }

    func test_an_output_under_a_file_is_bad_input_since_a_retry_cannot_help() throws {
        let parent = try makeTemporaryFolder()
        _ = FileManager.default.createFile(atPath: parent + "/file", contents: Data([0]))
        XCTAssertThrowsError(try preprocessor(parent + "/file/shards").run(worker: .single)) { error in
            guard case .badInput? = error as? DatasetError else { return XCTFail("\(error)") }
        }
    }

    func test_manifest_lists_every_shard_and_video() throws {
        let output = try makeTemporaryFolder()
        _ = try preprocessor(output).run(worker: try WorkerAssignment(index: 1, count: 2))
        let manifest = try JSONDecoder().decode(RunManifest.self, from: Data(try readBytes(output + "/manifest.json")))
        XCTAssertEqual(manifest.shardCount, 3)
        XCTAssertEqual(manifest.urls, "shard-{000000..000002}.tar")
        XCTAssertEqual(manifest.videos.map(\.source), videos.map(\.relativePath))
        XCTAssertEqual(manifest.shards.map(\.videos.count), [2, 2, 1])
    }
}
