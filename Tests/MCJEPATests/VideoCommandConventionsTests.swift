import FlowIO
import Foundation
import VideoIO
import XCTest

/// The conventions every command that reads video shares (`mcjepa-video help`), end to end on
/// Samples/realshort.mp4 with a small random-initialised model, and the inputs and outputs of `flow`.
final class VideoCommandConventionsTests: TemporaryFolderTestCase {
    let sample = "\(samplesFolder)/realshort.mp4"

    /// Every line of `text` parsed as a JSON object (nil for a line that is not one).
    func jsonLines(_ text: String) -> [[String: Any]?] {
        text.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func test_every_video_command_takes_start_duration_and_writes_only_json_lines_with_progress_json() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let mask = file("mask.png")
        try writeLabelPNG(LabelImage(width: 320, height: 240, labels: [UInt8](repeating: 1, count: 320 * 240)), path: mask)
        let common = ["--start", "0.2", "--duration", "0.3", "--progress", "json", "--verbose"]
        let model64 = ["--model", model, "--max-side", "64"]
        let runs: [(String, [String])] = [
            ("flow", ["flow", sample, "-o", file("flow"), "--no-refine"] + model64),
            ("render", ["render", sample, "--flow", file("flow"), "-o", file("render.mp4")]),
            ("propagate", ["propagate", sample, "--mask", mask, "-o", file("masks")] + model64),
            ("segment", ["segment", sample, "--segments", "2", "-o", file("segments")] + model64),
            ("preprocess", ["preprocess", sample, "-o", file("shards"), "--max-side", "64"]),
        ]
        for (name, arguments) in runs {
            let result = try runProcess(tool, arguments + common)
            XCTAssertEqual(result.status, 0, "\(name): \(result.err)")
            let lines = jsonLines(result.err)
            XCTAssertFalse(lines.isEmpty, name)
            XCTAssertTrue(lines.allSatisfy { $0 != nil }, "\(name): stderr must be JSON lines only:\n\(result.err)")
            let progress = lines.compactMap { $0 }.filter { $0["event"] as? String == "progress" }
            let last = try XCTUnwrap(progress.last, name)
            for key in ["frames_done", "frames_total", "fps", "eta_s", "elapsed_s"] { XCTAssertNotNil(last[key], "\(name): \(key)") }
            // 0.3 s of a 30 fps clip from 0.2 s: 9 frames (preprocess decodes one video, the same frames).
            XCTAssertEqual(last["frames_done"] as? Int, 9, "\(name): \(last)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("flow")).filter { $0.hasSuffix(".flo") }.count, 8)

        // Errors too: one JSON line, the exit code unchanged.
        let missing = try runProcess(tool, ["flow", file("missing.mp4"), "-o", file("none")] + model64 + common)
        XCTAssertEqual(missing.status, 3, missing.err)
        let error = try XCTUnwrap(jsonLines(missing.err).last ?? nil, missing.err)
        XCTAssertEqual(error["event"] as? String, "error")
        XCTAssertTrue((error["message"] as? String ?? "").hasPrefix("mcjepa-video: \(file("missing.mp4")): cannot open"), missing.err)
        XCTAssertTrue(jsonLines(missing.err).allSatisfy { $0 != nil }, missing.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("masks")).count, 9)
    }

    func test_flow_on_an_image_pair_writes_one_file() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let reader = try VideoReader(path: sample)
        for name in ["a.png", "b.png"] { try writePNG(try XCTUnwrap(try reader.nextFrame()).image, path: file(name)) }
        let result = try runProcess(tool, ["flow", file("a.png"), file("b.png"), "-o", file("pair"), "--model", model,
                                           "--max-side", "64", "--no-refine"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("pair")), ["000000.flo"])
        let flow = try FlowFile.read(URL(fileURLWithPath: file("pair/000000.flo")))
        XCTAssertEqual([flow.width, flow.height], [320, 240])
    }

    func test_flow_on_a_frame_folder_and_a_pattern_names_files_by_frame_with_pfm_occlusion_and_confidence() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        try FileManager.default.createDirectory(atPath: file("frames"), withIntermediateDirectories: true)
        let reader = try VideoReader(path: sample)
        for index in 0..<4 {
            try writePNG(try XCTUnwrap(try reader.nextFrame()).image, path: file(String(format: "frames/%06d.png", index + 1)))
        }
        let result = try runProcess(tool, ["flow", file("frames"), "-o", file("folder"), "--model", model, "--max-side", "64",
                                           "--no-refine", "--format", "pfm", "--occlusion", "--confidence"])
        XCTAssertEqual(result.status, 0, result.err)
        let names = try FileManager.default.contentsOfDirectory(atPath: file("folder")).sorted()
        XCTAssertEqual(names, ["000001", "000002", "000003"].flatMap { ["\($0).conf.png", "\($0).occ.png", "\($0).pfm"] },
                       "named as the first frame's image")
        let flow = try FlowFile.read(URL(fileURLWithPath: file("folder/000001.pfm")))
        XCTAssertEqual([flow.width, flow.height], [320, 240])
        let occlusion = try readLabelImage(path: file("folder/000001.occ.png"))
        XCTAssertEqual([occlusion.width, occlusion.height], [320, 240])
        XCTAssertTrue(Set(occlusion.labels).isSubset(of: [0, 255]))
        let confidence = try readLabelImage(path: file("folder/000001.conf.png"))
        for (c, o) in zip(confidence.labels, occlusion.labels) where c != 94 {  // 94: rounding at the threshold
            XCTAssertEqual(o == 255, c < 94, "occluded exactly where confidence is under exp(-1)")
        }

        let pattern = try runProcess(tool, ["flow", file("frames/%06d.png"), "-o", file("pattern"), "--model", model,
                                            "--max-side", "64", "--no-refine"])
        XCTAssertEqual(pattern.status, 0, pattern.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("pattern")).sorted(),
                       ["000000.flo", "000001.flo", "000002.flo"])
    }

    func test_flow_pairs_no_frames_across_a_scene_cut_and_lists_the_pairs_it_skipped() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        try FileManager.default.createDirectory(atPath: file("frames"), withIntermediateDirectories: true)
        let reader = try VideoReader(path: sample)
        for index in 0..<6 {  // frames 3-5 with their colours inverted: a hard cut at frame 3
            var image = try XCTUnwrap(try reader.nextFrame()).image
            if index >= 3 { image.rgb = image.rgb.map { 255 - $0 } }
            try writePNG(image, path: file(String(format: "frames/f%d.png", index)))
        }
        let result = try runProcess(tool, ["flow", file("frames"), "-o", file("flow"), "--model", model, "--max-side", "64",
                                           "--no-refine"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("flow")).sorted(),
                       ["f0.flo", "f1.flo", "f3.flo", "f4.flo", "skipped.json"])
        let skipped = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file("flow/skipped.json")))) as? [[String: Any]])
        XCTAssertEqual(skipped.map { [$0["first"] as? Int, $0["second"] as? Int, $0["cut"] as? Int] }, [[2, 3, 3]])
        XCTAssertTrue(result.out.contains("1 pair(s) across scene cuts skipped"), result.out)
    }

    func test_render_writes_png_sequences_numbered_like_the_flow_files_and_mkv_as_ffv1() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let flow = try runProcess(tool, ["flow", sample, "-o", file("flow"), "--model", model, "--max-side", "64",
                                         "--no-refine", "--duration", "0.2"])
        XCTAssertEqual(flow.status, 0, flow.err)
        let sequence = try runProcess(tool, ["render", sample, "--flow", file("flow"), "-o", file("seq/%06d.png")])
        XCTAssertEqual(sequence.status, 0, sequence.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("seq")).sorted(),
                       try FileManager.default.contentsOfDirectory(atPath: file("flow")).sorted().map { $0.replacingOccurrences(of: ".flo", with: ".png") })
        let mkv = try runProcess(tool, ["render", sample, "--flow", file("flow"), "-o", file("flow.mkv")])
        XCTAssertEqual(mkv.status, 0, mkv.err)
        XCTAssertEqual(try probe(path: file("flow.mkv")).codecName, "ffv1")

        try FileManager.default.createDirectory(atPath: file("small"), withIntermediateDirectories: true)
        try FlowFile.write(FlowField.zero(width: 8, height: 8), to: URL(fileURLWithPath: file("small/000000.flo")))
        let mismatch = try runProcess(tool, ["render", sample, "--flow", file("small"), "-o", file("small.mp4")])
        XCTAssertEqual(mismatch.status, 3, mismatch.err)
        XCTAssertEqual(mismatch.err, "mcjepa-video: \(file("small/000000.flo")): flow is 8x8, frames are 320x240\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("small.mp4")))
    }
}
