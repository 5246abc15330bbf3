import Foundation
import XCTest
@testable import VideoIO

/// End to end: the built `mcjepa-video info` binary on a sample and on bad files.
final class InfoCommandTests: TemporaryFolderTestCase {
    func test_info_prints_the_sample_clip_facts() throws {
        let sample = "\(samplesFolder)/realshort.mp4"
        let result = try runProcess(try commandLineTool(), ["info", "--count", sample])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(result.err, "")
        for fact in ["h264 (High), yuv420p", "size:       320x240", "display:    320x240", "constant",
                     "decoded:    36 frames", "#1 audio aac 48000 Hz 1 ch"] {
            XCTAssertTrue(result.out.contains(fact), "missing \"\(fact)\" in:\n\(result.out)")
        }
    }

    func test_info_json_is_one_object_per_file() throws {
        let samples = ["carphone.mp4", "motion.mov"].map { "\(samplesFolder)/\($0)" }
        let result = try runProcess(try commandLineTool(), ["info", "--json", "--count"] + samples)
        XCTAssertEqual(result.status, 0, result.err)
        let lines = result.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objects.map { $0["decodedFrames"] as? Int }, [120, 242])
        let info = objects[0]["info"] as! [String: Any]
        XCTAssertEqual(info["displayWidth"] as? Int, 193)
        XCTAssertEqual(info["path"] as? String, samples[0])
    }

    func test_info_on_bad_files_exits_3_with_one_line_each_and_still_reports_good_ones() throws {
        let noise = file("noise.mp4")
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: noise))
        let missing = file("missing.mp4")
        let sample = "\(samplesFolder)/carphone.mp4"
        let result = try runProcess(try commandLineTool(), ["info", noise, sample, missing, folder])
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.out.contains("carphone.mp4"), "good files are still reported")
        let errors = result.err.split(separator: "\n").map(String.init)
        XCTAssertEqual(errors, [
            "mcjepa-video: \(noise): cannot open: Invalid data found when processing input",
            "mcjepa-video: \(missing): cannot open: No such file or directory",
            "mcjepa-video: \(folder!): cannot open: is a directory",
        ])
    }

    func test_info_without_files_is_a_usage_error() throws {
        let result = try runProcess(try commandLineTool(), ["info"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertNotEqual(result.status, 3, "a usage error, not bad input")
    }
}
