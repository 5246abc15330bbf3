import FlowIO
import FlowRefinement
import Foundation
import VideoIO
import XCTest
@testable import MCJEPA

/// End to end: `preprocess --flow` stores the flow of every pair next to its frames, in each sample's place in the
/// tar, at the size the frames are stored at: the model's flow refined on the stored frames, as `flow` writes it,
/// or with `--no-refine` the network's flow as it is.
final class PreprocessFlowTests: TemporaryFolderTestCase {
    /// (name, contents) of each member of an uncompressed ustar file.
    func tarMembers(_ path: String) throws -> [(name: String, bytes: [UInt8])] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var members: [(String, [UInt8])] = []
        var offset = 0
        while offset + 512 <= data.count, data[offset] != 0 {
            let name = String(decoding: data[offset..<offset + 100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeField = String(decoding: data[offset + 124..<offset + 136].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self)
            let size = try XCTUnwrap(Int(sizeField, radix: 8), "size of \(name)")
            members.append((name, Array(data[offset + 512..<offset + 512 + size])))
            offset += 512 + (size + 511) / 512 * 512
        }
        return members
    }

    /// The two frames and the flow of the first pair stored in shard 0 of `shards`.
    func firstStoredPair(_ shards: String) throws -> (first: FrameImage, second: FrameImage, flow: FlowField) {
        let members = try tarMembers("\(shards)/shard-000000.tar")
        func frame(_ suffix: String) throws -> FrameImage {
            let member = try XCTUnwrap(members.first { $0.name.hasSuffix(suffix) }, suffix)
            let path = file("\(URL(fileURLWithPath: shards).lastPathComponent)\(suffix)")
            try Data(member.bytes).write(to: URL(fileURLWithPath: path))
            let image = try readImage(path: path)
            return FrameImage(width: image.width, height: image.height, rgb8: image.rgb)
        }
        let stored = try XCTUnwrap(members.first { $0.name.hasSuffix(".flow.npy") })
        return (try frame(".f0.png"), try frame(".f1.png"), try FlowFile.decode(stored.bytes, format: .npy, name: stored.name))
    }

    func testFlowMembersSitBetweenFramesAndMetadataAtTheStoredSize() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let out = file("shards")
        let result = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", out, "--size", "64x48",
                                           "--stride", "2", "--max-pairs", "3", "--flow", "--model", model])
        XCTAssertEqual(result.status, 0, result.err)
        let members = try tarMembers("\(out)/shard-000000.tar")
        let suffixes = members.map { String($0.name.split(separator: ".", maxSplits: 1)[1]) }
        XCTAssertEqual(suffixes, Array(repeating: ["f0.png", "f1.png", "flow.npy", "json"], count: 3).flatMap { $0 })
        for member in members where member.name.hasSuffix(".flow.npy") {
            let flow = try FlowFile.decode(member.bytes, format: .npy, name: member.name)
            XCTAssertEqual([flow.width, flow.height], [64, 48], member.name)
            XCTAssertTrue(flow.u.allSatisfy(\.isFinite) && flow.v.allSatisfy(\.isFinite), member.name)
            XCTAssertGreaterThan(flow.u.map(abs).max()! + flow.v.map(abs).max()!, 0, "a random model's flow is not all zero")
        }
    }

    func testStoredFlowIsTheRefinedFlowOfTheStoredFramesAndNoRefineTheNetworks() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let weights = try WeightsFile.load(path: model)
        var flows: [FlowField] = []
        for refine in [true, false] {
            let out = file(refine ? "refined" : "raw")
            let result = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", out, "--size", "64x48",
                                               "--stride", "2", "--max-pairs", "1", "--flow", "--model", model]
                                               + (refine ? [] : ["--no-refine"]))
            XCTAssertEqual(result.status, 0, result.err)
            let (first, second, flow) = try firstStoredPair(out)
            let refinement = refine ? RefinementMethod.standard.refiner(threads: 2) : nil
            let expected = FlowEstimator(model: weights.model, refinement: refinement).flow(first, second)
            XCTAssertEqual(flow, expected, refine ? "refined" : "--no-refine")
            flows.append(flow)
        }
        XCTAssertNotEqual(flows[0], flows[1], "the default refines the network's flow")
    }

    /// `--mask-inconsistent` stores the same flow where it passes the forward-backward check and unknown (NaN)
    /// where it fails; with a random model's flow on a real clip, both happen.
    func testMaskInconsistentMarksTheFailingPixelsUnknownAndKeepsTheRest() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        var stored: [FlowField] = []
        for masked in [false, true] {
            let out = file(masked ? "masked" : "plain")
            let result = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", out, "--size", "64x48",
                                               "--stride", "2", "--max-pairs", "1", "--flow", "--no-refine", "--model", model]
                                               + (masked ? ["--mask-inconsistent"] : []))
            XCTAssertEqual(result.status, 0, result.err)
            let member = try XCTUnwrap(try tarMembers("\(out)/shard-000000.tar").first { $0.name.hasSuffix(".flow.npy") })
            stored.append(try FlowFile.decode(member.bytes, format: .npy, name: member.name))
        }
        let (plain, masked) = (stored[0], stored[1])
        XCTAssertEqual(plain.validCount, plain.pixelCount)
        XCTAssertGreaterThan(masked.validCount, 0)
        XCTAssertLessThan(masked.validCount, masked.pixelCount)
        for i in 0..<plain.pixelCount where masked.valid[i] {
            XCTAssertEqual([masked.u[i], masked.v[i]], [plain.u[i], plain.v[i]], "pixel \(i)")
        }
        let withoutFlow = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", file("s"), "--mask-inconsistent"])
        XCTAssertEqual(withoutFlow.status, 2, withoutFlow.err)
        XCTAssertTrue(withoutFlow.err.contains("--flow"), withoutFlow.err)
    }

    /// `--search-options` reaches the search that refines the stored flow (the same flow as the estimator with that
    /// configuration, not the default's), and is refused without --flow, with --no-refine and out of range.
    func testSearchOptionsReachTheStoredFlowAndMisuseIsAUsageError() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let weights = try WeightsFile.load(path: model)
        let options = "gradient-descent-iterations=4,variational-refinement-alpha=80"
        let out = file("searched")
        let arguments = ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", out, "--size", "64x48", "--stride", "2",
                         "--max-pairs", "1", "--flow", "--model", model]
        let result = try runProcess(tool, arguments + ["--search-options", options])
        XCTAssertEqual(result.status, 0, result.err)
        let (first, second, flow) = try firstStoredPair(out)
        let configuration = try SeededDISSearch.Configuration(parsing: options)
        let searched = FlowEstimator(model: weights.model, refinement: RefinementMethod.standard.refiner(threads: 2, search: configuration))
        XCTAssertEqual(flow, searched.flow(first, second))
        let standard = FlowEstimator(model: weights.model, refinement: RefinementMethod.standard.refiner(threads: 2))
        XCTAssertNotEqual(flow, standard.flow(first, second), "the options changed the search")

        for (extra, message) in [(["--search-options", "passes=2"], "--flow"),
                                 (["--flow", "--no-refine", "--search-options", "passes=2"], "--no-refine"),
                                 (["--flow", "--search-options", "passes=0"], "passes must be in")] {
            let refused = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", file("r"), "--model", model] + extra)
            XCTAssertEqual(refused.status, 2, refused.err)
            XCTAssertTrue(refused.err.contains(message), refused.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: file("r")))
        }
    }

    func testRefineWithoutFlowIsAUsageError() throws {
        let tool = try commandLineTool()
        for flag in ["--refine", "--no-refine"] {
            let result = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", file("s"), flag])
            XCTAssertEqual(result.status, 2, result.err)
            XCTAssertTrue(result.err.contains("--flow"), result.err)
        }
    }

    func testModelWithoutFlowIsAUsageError() throws {
        let tool = try commandLineTool()
        let result = try runProcess(tool, ["preprocess", "\(samplesFolder)/realshort.mp4", "-o", file("s"), "--model", "m.safetensors"])
        XCTAssertEqual(result.status, 2, result.err)
    }
}
