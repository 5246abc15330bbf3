import FlowIO
import Foundation
import VideoIO
import XCTest
@testable import MCJEPA
@testable import VideoPipeline

let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Samples/realshort.mp4").path

final class FlowPairsTests: XCTestCase {
    let decode = DecodeOptions(size: .maxSide(64), duration: 0.4)  // about 12 frames of 64x48

    func estimator() -> FlowEstimator {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 3)
        return FlowEstimator(model: model)
    }

    func events(_ pairs: FlowPairs) async throws -> [FlowPairEvent] {
        var all: [FlowPairEvent] = []
        for try await event in pairs { all.append(event) }
        return all
    }

    func test_pairs_are_the_same_whether_features_are_kept_or_the_frames_read_twice() async throws {
        let estimator = estimator()
        var options = FlowPairOptions(stride: 3, backward: true, keepFrames: true, sceneCutThreshold: nil)
        let kept = try await events(FlowPairs(source: .video(path: sample), decode: decode, estimator: estimator, options: options))
        options.memoryBudget = 0  // no frame's features fit: the source is read a second time, 3 frames behind
        let reread = try await events(FlowPairs(source: .video(path: sample), decode: decode, estimator: estimator, options: options))
        func pairs(_ events: [FlowPairEvent]) -> [FlowPair] { events.compactMap { if case .pair(let p) = $0 { p } else { nil } } }
        guard case .end(let frames) = try XCTUnwrap(kept.last) else { return XCTFail("ends with .end") }
        XCTAssertGreaterThan(frames, 10)
        XCTAssertEqual(pairs(kept).map { [$0.first, $0.second] }, (0..<(frames - 3)).map { [$0, $0 + 3] })
        XCTAssertEqual(pairs(reread).map { [$0.first, $0.second] }, (0..<(frames - 3)).map { [$0, $0 + 3] })
        XCTAssertEqual(pairs(kept).map(\.forward), pairs(reread).map(\.forward))
        XCTAssertEqual(pairs(kept).map(\.backward), pairs(reread).map(\.backward))
        XCTAssertEqual(pairs(kept).map { $0.firstFrame?.index }, pairs(reread).map { $0.firstFrame?.index })
    }

    func test_no_pair_is_made_across_a_scene_cut() async throws {
        // Frames 0-3 of the clip, then frames 4-7 with their colours inverted: a hard cut at frame 4.
        let folder = NSTemporaryDirectory() + "flowpairs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let reader = try VideoReader(path: sample, options: decode)
        for index in 0..<8 {
            var image = try XCTUnwrap(try reader.nextFrame()).image
            if index >= 4 { image.rgb = image.rgb.map { 255 - $0 } }
            try writePNG(image, path: "\(folder)/\(String(format: "%03d", index)).png")
        }
        let all = try await events(FlowPairs(source: try FrameInput(inputs: [folder]), estimator: estimator(),
                                             options: FlowPairOptions(stride: 2)))
        var paired: [[Int]] = [], skipped: [[Int]] = []
        for event in all {
            switch event {
            case .pair(let pair): paired.append([pair.first, pair.second])
            case .skipped(let first, let second, let cut): skipped.append([first, second, cut])
            case .end: break
            }
        }
        XCTAssertEqual(paired, [[0, 2], [1, 3], [4, 6], [5, 7]])
        XCTAssertEqual(skipped, [[2, 4, 4], [3, 5, 4]])
    }

    func test_progress_json_lines_follow_one_schema() {
        var lines: [String] = []
        let reporter = ProgressReporter(mode: .json, interval: 0, isTerminal: false) { lines.append($0) }
        reporter.update(done: 5, total: 20, counters: ["pairs": 4])
        reporter.note("a \"quoted\" note")
        reporter.finish(done: 20, total: 20)
        let objects = lines.map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(objects.count, 3)
        XCTAssertEqual(objects[0]?["frames_done"] as? Int, 5)
        XCTAssertEqual(objects[0]?["frames_total"] as? Int, 20)
        XCTAssertEqual(objects[0]?["pairs"] as? Int, 4)
        XCTAssertNotNil(objects[0]?["eta_s"])
        XCTAssertEqual(objects[1]?["message"] as? String, "a \"quoted\" note")
        XCTAssertEqual(objects[2]?["eta_s"] as? Double, 0)
        XCTAssertEqual(ProgressReporter(mode: .auto, isTerminal: false).mode, .none, "no bar when stderr is not a terminal")
    }

    func test_robust_scale_ignores_one_wild_pair_and_restarts_at_a_cut() {
        var scale = RobustFlowScale(window: 5)
        let calm = FlowField(width: 4, height: 4, u: [Float](repeating: 2, count: 16), v: [Float](repeating: 0, count: 16))
        let wild = FlowField(width: 4, height: 4, u: [Float](repeating: 46, count: 16), v: [Float](repeating: 0, count: 16))
        for _ in 0..<3 { XCTAssertEqual(scale.observe(calm), 2) }
        XCTAssertEqual(scale.observe(wild), 2, "one wild pair does not set the scale")
        XCTAssertEqual(scale.observe(calm), 2)
        scale.reset()
        XCTAssertEqual(scale.observe(wild), 46)
    }
}

final class OneLineFlowTests: XCTestCase {
    /// The README's library example: two image files -> a FlowField, the same as the estimator's own two steps.
    func test_flow_from_two_image_files_is_the_estimators_flow_of_the_two_frames() throws {
        let folder = NSTemporaryDirectory() + "oneline-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 5)
        try WeightsFile.save(model, to: "\(folder)/w.safetensors", metadata: [:])
        let reader = try VideoReader(path: sample, options: DecodeOptions(size: .maxSide(64)))
        let frames = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }
        for (index, frame) in frames.enumerated() { try writePNG(frame.image, path: "\(folder)/\(index).png") }

        let flow = try FlowEstimator.load(weights: "\(folder)/w.safetensors", refinement: nil)
            .flow(fromImage: "\(folder)/0.png", toImage: "\(folder)/1.png")
        let estimator = FlowEstimator(model: model)
        XCTAssertEqual(flow, estimator.flow(from: estimator.features(FrameImage(frames[0])), to: estimator.features(FrameImage(frames[1]))))
        XCTAssertEqual(flow, estimator.flow(from: frames[0], to: frames[1]))
        XCTAssertThrowsError(try estimator.flow(fromImage: "\(folder)/0.png", toImage: "\(folder)/missing.png"))
    }
}
