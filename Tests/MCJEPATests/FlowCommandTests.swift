import FlowIO
import FlowRefinement
import Foundation
import VideoIO
import XCTest
@testable import MCJEPA

/// End to end: the built `mcjepa-video flow` and `render` on Samples/realshort.mp4 (320x240, 36 frames) with a
/// small random-initialised model (--model; random weights only ever appear in tests).
final class FlowCommandTests: TemporaryFolderTestCase {
    let sample = "\(samplesFolder)/realshort.mp4"

    func decodedFrameCount(_ path: String) throws -> (count: Int, width: Int, height: Int) {
        let reader = try VideoReader(path: path)
        var count = 0, width = 0, height = 0
        while let frame = try reader.nextFrame() { count += 1; width = frame.width; height = frame.height }
        return (count, width, height)
    }

    func testFlowWritesOneFilePerPairAndAVideoAndRefusesToOverwrite() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let out = file("flows"), video = file("flow.mp4")
        // --no-refine: this test is about the outputs, and refining 68 flows in a debug build takes half a minute.
        let result = try runProcess(tool, ["flow", sample, "-o", out, "--model", model, "--max-side", "64", "--stride", "2",
                                           "--backward", "--video", video, "--style", "side-by-side", "--progress", "json",
                                           "--no-refine", "--verbose"])
        XCTAssertEqual(result.status, 0, result.err)
        let lines = result.err.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertTrue(!lines.isEmpty && lines.allSatisfy { $0 != nil }, "stderr is JSON lines only: \(result.err)")
        let note = try XCTUnwrap(lines.first??["message"] as? String, "--verbose says which weights run, as a JSON note")
        XCTAssertTrue(note.contains("weights \(model): config test") && note.contains("64132 parameters"), note)
        XCTAssertEqual(lines.last??["frames_done"] as? Int, 36)
        XCTAssertEqual(lines.last??["pairs"] as? Int, 34)
        XCTAssertTrue(result.out.contains("wrote 34 flow file(s) (+ backward)"), result.out)
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        // Stride 2 over 36 frames: pairs (0,2) ... (33,35), 34 forward + 34 backward files.
        XCTAssertEqual(names.filter { !$0.contains(".bw.") }, (0..<34).map { String(format: "%06d.flo", $0) })
        XCTAssertEqual(names.filter { $0.contains(".bw.") }.count, 34)
        let flow = try FlowFile.read(URL(fileURLWithPath: "\(out)/000000.flo"))
        XCTAssertEqual([flow.width, flow.height], [320, 240], "full resolution despite --max-side")
        XCTAssertGreaterThan(flow.maxMagnitude, 0)
        let rendered = try decodedFrameCount(video)
        XCTAssertEqual(rendered.count, 34)
        XCTAssertEqual([rendered.width, rendered.height], [640, 240])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }, [],
                       "no temporary folder left behind")

        // Existing outputs are refused (exit 1) and left untouched.
        let before = try FileManager.default.attributesOfItem(atPath: "\(out)/000000.flo")[.modificationDate] as? Date
        let again = try runProcess(tool, ["flow", sample, "-o", out, "--model", model, "--max-side", "64"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("\(out): already exists; pass -y/--overwrite"), again.err)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: "\(out)/000000.flo")[.modificationDate] as? Date, before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).count, 68)

        // With -y the folder is replaced as a whole (no stale backward files from the previous run).
        let replaced = try runProcess(tool, ["flow", sample, "-o", out, "--model", model, "--max-side", "64", "-y",
                                             "--format", "npy", "--duration", "0.5", "--progress", "none"])
        XCTAssertEqual(replaced.status, 0, replaced.err)
        let newNames = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertTrue(!newNames.isEmpty && newNames.allSatisfy { $0.hasSuffix(".npy") }, "\(newNames)")
        XCTAssertLessThan(newNames.count, 36)

        // render: the same pictures from the files on disk.
        let renderedAgain = file("render.mp4")
        let render = try runProcess(tool, ["render", sample, "--flow", out, "--style", "overlay", "-o", renderedAgain])
        XCTAssertEqual(render.status, 0, render.err)
        let fromFiles = try decodedFrameCount(renderedAgain)
        XCTAssertEqual(fromFiles.count, newNames.count)
        XCTAssertEqual([fromFiles.width, fromFiles.height], [320, 240])
    }

    /// Runs `flow` on the sample's first `duration` seconds with the test model at --max-side 64 into a folder
    /// `name`, and returns the first pair's flow file.
    private func firstFlow(_ name: String, duration: String, _ extra: [String]) throws -> FlowField {
        let (model, _) = try savedTestModel()
        let out = file(name)
        let result = try runProcess(try commandLineTool(), ["flow", sample, "-o", out, "--model", model, "--max-side", "64",
                                                            "--duration", duration, "--progress", "none"] + extra)
        XCTAssertEqual(result.status, 0, result.err)
        return try FlowFile.read(URL(fileURLWithPath: "\(out)/000000.flo"))
    }

    func testFlipAverageWritesTheSameFilesWithDifferentFlow() throws {
        let fields = try [firstFlow("plain", duration: "0.2", []), firstFlow("flipped", duration: "0.2", ["--flip-average"])]
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file("flipped")).sorted(),
                       try FileManager.default.contentsOfDirectory(atPath: file("plain")).sorted())
        XCTAssertEqual([fields[1].width, fields[1].height], [320, 240])
        XCTAssertNotEqual(fields[0], fields[1])
    }

    func testFlowIsRefinedByDefaultAndNoRefineWritesTheNetworksFlow() throws {
        let (model, _) = try savedTestModel()
        let fields = try [firstFlow("refined", duration: "0.1", []), firstFlow("raw", duration: "0.1", ["--no-refine"])]
        // The raw file is the network's flow of the first two frames, exactly as the library computes it.
        let reader = try VideoReader(path: sample)
        let frames = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }
            .map { FrameImage(width: $0.width, height: $0.height, rgb8: $0.rgb) }
        let weights = try WeightsFile.load(path: model)
        XCTAssertEqual(fields[1], FlowEstimator(model: weights.model, maxSide: 64).flow(frames[0], frames[1]))
        XCTAssertEqual([fields[0].width, fields[0].height], [320, 240])
        XCTAssertNotEqual(fields[0], fields[1], "the default refines the network's flow")
    }

    /// `--alignment-iterations`: 0 writes the decoder's flow, N the flow after N alignment steps, as the library
    /// computes them; out of range is a one-line usage error.
    func testAlignmentIterationsReachTheNetworksFlow() throws {
        let (model, _) = try savedTestModel()
        let fields = try [firstFlow("k0", duration: "0.1", ["--no-refine", "--alignment-iterations", "0"]),
                          firstFlow("k1", duration: "0.1", ["--no-refine", "--alignment-iterations", "1"])]
        let reader = try VideoReader(path: sample)
        let frames = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }
            .map { FrameImage(width: $0.width, height: $0.height, rgb8: $0.rgb) }
        let weights = try WeightsFile.load(path: model)
        XCTAssertEqual(fields[0], FlowEstimator(model: weights.model, maxSide: 64, alignmentIterations: 0).flow(frames[0], frames[1]))
        XCTAssertEqual(fields[1], FlowEstimator(model: weights.model, maxSide: 64, alignmentIterations: 1).flow(frames[0], frames[1]))
        XCTAssertNotEqual(fields[0], fields[1])
        let absurd = try runProcess(try commandLineTool(), ["flow", sample, "-o", file("absurd"), "--model", model,
                                                            "--alignment-iterations", "1000"])
        XCTAssertEqual(absurd.status, 2)
        XCTAssertTrue(absurd.err.contains("--alignment-iterations"), absurd.err)
        XCTAssertEqual(absurd.err.split(separator: "\n").count, 1, absurd.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("absurd")))
    }

    func testRefinementChoosesTheRefinerAndContradictingNoRefineIsAUsageError() throws {
        let (model, _) = try savedTestModel()
        let fields = try [firstFlow("search", duration: "0.1", []),
                          firstFlow("fast", duration: "0.1", ["--refinement", "fast-search"]),
                          firstFlow("variational", duration: "0.1", ["--refinement", "variational"])]
        // The fast search is the full one stopped at half resolution: the same as the library computes with it.
        let reader = try VideoReader(path: sample)
        let frames = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }
            .map { FrameImage(width: $0.width, height: $0.height, rgb8: $0.rgb) }
        let weights = try WeightsFile.load(path: model)
        let fast = FlowEstimator(model: weights.model, maxSide: 64, refinement: SeededDISSearch(.medium))
        XCTAssertEqual(fields[1], fast.flow(frames[0], frames[1]))
        XCTAssertNotEqual(fields[0], fields[1])
        XCTAssertNotEqual(fields[1], fields[2])
        let contradiction = try runProcess(try commandLineTool(), ["flow", sample, "-o", file("no"), "--model", model,
                                                                   "--no-refine", "--refinement", "fast-search"])
        XCTAssertEqual(contradiction.status, 2)
        XCTAssertTrue(contradiction.err.contains("--refinement contradicts --no-refine"), contradiction.err)
    }

    /// `--search-options` sets the search's DIS parameters over the --refinement's own: the file is what the library
    /// computes with them; an absurd value, or options for a refinement that is no search, is a one-line usage error.
    func testSearchOptionsReachTheSearchAndAbsurdValuesAreUsageErrors() throws {
        let (model, _) = try savedTestModel()
        let options = "patch-stride=2,gradient-descent-iterations=12,passes=2"
        let field = try firstFlow("tuned", duration: "0.1", ["--refinement", "fast-search", "--search-options", options])
        let reader = try VideoReader(path: sample)
        let frames = try (0..<2).map { _ in try XCTUnwrap(try reader.nextFrame()) }
            .map { FrameImage(width: $0.width, height: $0.height, rgb8: $0.rgb) }
        let weights = try WeightsFile.load(path: model)
        let configuration = try SeededDISSearch.Configuration(parsing: options, base: .medium)
        XCTAssertEqual(configuration.finestScale, 1, "the options apply over fast-search's own parameters")
        let tuned = FlowEstimator(model: weights.model, maxSide: 64, refinement: SeededDISSearch(configuration))
        XCTAssertEqual(field, tuned.flow(frames[0], frames[1]))
        let fast = FlowEstimator(model: weights.model, maxSide: 64, refinement: SeededDISSearch(.medium))
        XCTAssertNotEqual(field, fast.flow(frames[0], frames[1]))
        for (extra, message) in [(["--search-options", "patch-stride=99"], "--search-options: patch-stride must be in 1...8 (the patch size), got 99"),
                                 (["--search-options", "passes=2", "--refinement", "variational"],
                                  "--search-options applies to --refinement search or fast-search"),
                                 (["--search-options", "passes=2", "--no-refine"], "--search-options applies to --refinement search or fast-search")] {
            let refused = try runProcess(try commandLineTool(), ["flow", sample, "-o", file("refused"), "--model", model] + extra)
            XCTAssertEqual(refused.status, 2, "\(extra)")
            XCTAssertTrue(refused.err.contains(message), refused.err)
            XCTAssertEqual(refused.err.split(separator: "\n").count, 1, refused.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: file("refused")))
        }
    }

    func testDefaultOutputFolderIsNextToTheInput() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let input = file("clip.mp4")
        try FileManager.default.copyItem(atPath: sample, toPath: input)
        let result = try runProcess(tool, ["flow", input, "--model", model, "--max-side", "48", "--duration", "0.3",
                                           "--format", "png"])
        XCTAssertEqual(result.status, 0, result.err)
        let names = try FileManager.default.contentsOfDirectory(atPath: file("clip.flow"))
        XCTAssertTrue(names.contains("000000.png"), "\(names)")
    }

    func testBadInputsExitWithOneLineNamingTheFile() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let noise = file("noise.mp4")
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: noise))
        let bad = try runProcess(tool, ["flow", noise, "--model", model, "-o", file("o")])
        XCTAssertEqual(bad.status, 3)
        XCTAssertTrue(bad.err.hasSuffix("mcjepa-video: \(noise): cannot open: Invalid data found when processing input\n"), bad.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("o")))

        let brokenModel = file("broken.safetensors")
        try Data(try Data(contentsOf: URL(fileURLWithPath: model)).prefix(1000)).write(to: URL(fileURLWithPath: brokenModel))
        let badWeights = try runProcess(tool, ["flow", sample, "--model", brokenModel, "-o", file("o")])
        XCTAssertEqual(badWeights.status, 3)
        XCTAssertTrue(badWeights.err.hasPrefix("mcjepa-video: \(brokenModel): "), badWeights.err)
        XCTAssertEqual(badWeights.err.split(separator: "\n").count, 1)

        let tooShort = try runProcess(tool, ["flow", sample, "--model", model, "-o", file("o"), "--stride", "100", "--max-side", "32"])
        XCTAssertEqual(tooShort.status, 3)
        XCTAssertTrue(tooShort.err.contains("36 frame(s) decoded, no pair of frames 100 apart"), tooShort.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") || $0 == "o" }, [])
    }

    func testWithoutBuiltInWeightsFlowAsksForAModel() throws {
        guard BuiltInWeights.path == nil else { throw XCTSkip("this build ships built-in weights") }
        let result = try runProcess(try commandLineTool(), ["flow", sample, "-o", file("o")])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.err, "mcjepa-video: \(BuiltInWeights.missingMessage)\n")
    }
}
