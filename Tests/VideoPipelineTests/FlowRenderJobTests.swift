import FlowIO
import Foundation
import VideoIO
import XCTest
@testable import VideoPipeline

final class FlowRenderJobTests: XCTestCase {
    /// Frames 0-3 of the sample, then frames 4-7 inverted (a hard cut at 4); flow files of 40 px before the cut and
    /// 2 px after it. The robust scale is the median of recent pairs, so without a restart the first pictures after
    /// the cut would still be drawn at 40 px (pale); restarted at the cut they are drawn at 2 px.
    func test_render_restarts_the_colour_scale_at_a_scene_cut() async throws {
        let folder = NSTemporaryDirectory() + "render-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(folder)/frames", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(folder)/flow", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let reader = try VideoReader(path: sample, options: DecodeOptions(size: .maxSide(64)))
        var size = (width: 0, height: 0)
        for index in 0..<8 {
            var image = try XCTUnwrap(try reader.nextFrame()).image
            if index >= 4 { image.rgb = image.rgb.map { 255 - $0 } }
            size = (image.width, image.height)
            try writePNG(image, path: "\(folder)/frames/\(String(format: "%03d", index)).png")
        }
        func field(_ u: Float) -> FlowField {
            let count = size.width * size.height
            return FlowField(width: size.width, height: size.height, u: [Float](repeating: u, count: count),
                             v: [Float](repeating: 0, count: count))
        }
        for index in [0, 1, 2, 4, 5, 6] {  // pair 3 -> 4 lies across the cut: `flow` writes none
            try FlowFile.write(field(index < 4 ? 40 : 2), to: URL(fileURLWithPath: "\(folder)/flow/\(String(format: "%03d", index)).flo"))
        }
        func rendered(_ name: String, cuts: Double?) async throws -> RGBImage {
            let job = FlowRenderJob(source: try FrameInput(inputs: ["\(folder)/frames"]), decode: DecodeOptions(),
                                    flowFolder: "\(folder)/flow",
                                    video: FlowVideoRequest(path: "\(folder)/\(name)/%06d.png", legend: false),
                                    sceneCutThreshold: cuts)
            let frames = try await job.run(reporter: ProgressReporter(mode: .none))
            XCTAssertEqual(frames, 6)
            return try readImage(path: "\(folder)/\(name)/000004.png")
        }
        let restarted = try await rendered("cuts", cuts: 0.12), carried = try await rendered("no-cuts", cuts: nil)
        XCTAssertEqual(restarted.rgb, FlowColor.render(field(2), maxFlow: 2).rgb, "scale restarted at the cut")
        XCTAssertEqual(carried.rgb, FlowColor.render(field(2), maxFlow: 40).rgb, "without detection the old shot's scale stays")
        XCTAssertNotEqual(restarted.rgb, carried.rgb)
    }

    func test_render_refuses_a_missing_flow_folder_naming_it() async throws {
        let job = FlowRenderJob(source: .video(path: sample), decode: DecodeOptions(), flowFolder: "/nonexistent/flow",
                                video: FlowVideoRequest(path: NSTemporaryDirectory() + "never-\(UUID().uuidString).mp4"))
        do {
            _ = try await job.run(reporter: ProgressReporter(mode: .none))
            XCTFail("a missing flow folder must be refused")
        } catch let error as VideoPipelineError {
            XCTAssertEqual(error.description, "/nonexistent/flow: no such folder of flow files")
            XCTAssertEqual(error.kind, .input)
        }
    }
}
