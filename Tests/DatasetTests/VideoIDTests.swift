import VideoIO
import XCTest
@testable import Dataset

final class VideoIDTests: XCTestCase {
    func test_ids_have_no_dots_slashes_or_underscores() {
        for path in ["videos/a.b.c.mp4", "x/y z/ü.mov", "..hidden/.mp4", "_/__.mkv"] {
            let id = VideoID.make(relativePath: path)
            XCTAssertFalse(id.contains("."), id)
            XCTAssertFalse(id.contains("/"), id)
            XCTAssertFalse(id.contains("_"), id)
            XCTAssertFalse(id.isEmpty)
        }
    }

    func test_ids_are_stable_across_runs_and_machines() {
        // Pinned values: changing the id scheme would silently rename every sample of existing datasets.
        XCTAssertEqual(VideoID.make(relativePath: "videos/clip.mp4"), "videos-clip-mp4-" + hex("videos/clip.mp4"))
        XCTAssertEqual(VideoID.fnv1a32(Array("a".utf8)), 0xE40C_292C)
        XCTAssertEqual(VideoID.fnv1a32([]), 0x811C_9DC5)
    }

    func test_paths_with_the_same_slug_get_different_ids() {
        XCTAssertNotEqual(VideoID.make(relativePath: "a/b.mp4"), VideoID.make(relativePath: "a-b.mp4"))
    }

    func test_long_paths_keep_the_file_name_end_and_stay_short() {
        let id = VideoID.make(relativePath: String(repeating: "folder/", count: 30) + "final-name.mp4")
        XCTAssertLessThanOrEqual(id.count, VideoID.maxSlugLength + 9)
        XCTAssertTrue(id.hasPrefix("final-name-mp4") || id.contains("final-name-mp4"), id)
    }

    func test_sample_keys_pad_frame_numbers_to_six_digits() {
        XCTAssertEqual(VideoID.sampleKey(videoID: "v-0a", frameIndex: 42), "v-0a_000042")
        XCTAssertEqual(VideoID.sampleKey(videoID: "v", frameIndex: 1234567), "v_1234567")
    }

    private func hex(_ path: String) -> String {
        let value = String(VideoID.fnv1a32(Array(path.utf8)), radix: 16)
        return String(repeating: "0", count: 8 - value.count) + value
    }
}
