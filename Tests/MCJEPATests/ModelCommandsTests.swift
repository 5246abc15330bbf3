import FlowIO
import Foundation
import VideoIO
import XCTest
@testable import MCJEPA

/// End to end: the built `propagate`, `segment`, `eval vos` and `eval flow` with a small random-initialised model
/// (--model; random weights only ever appear in tests), at --max-side 64 to stay fast in debug builds.
final class ModelCommandsTests: TemporaryFolderTestCase {
    let sample = "\(samplesFolder)/realshort.mp4"  // 320x240, 36 frames

    func labels(_ path: String) throws -> LabelImage { try readLabelImage(path: path) }

    func testPropagateWritesOneMaskPerFrameWithTheFirstMasksIDsAndAVideo() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        // Object 1: a box on the left, object 3: a box on the right (ids need not be consecutive).
        var first = [UInt8](repeating: 0, count: 320 * 240)
        for y in 60..<180 {
            for x in 40..<120 { first[y * 320 + x] = 1 }
            for x in 200..<280 { first[y * 320 + x] = 3 }
        }
        let mask = file("first.png")
        try writeLabelPNG(LabelImage(width: 320, height: 240, labels: first, palette: [UInt8](repeating: 0, count: 768)), path: mask)
        let out = file("masks"), video = file("masks.mp4")
        let result = try runProcess(tool, ["propagate", sample, "--mask", mask, "-o", out, "--video", video,
                                           "--model", model, "--max-side", "64", "--verbose"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.err.contains("weights \(model): config test"), result.err)
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(names, (0..<36).map { String(format: "%06d.png", $0) })
        XCTAssertEqual(try labels("\(out)/000000.png").labels, first, "frame 0 is the given mask")
        var seen = Set<UInt8>()
        for name in names {
            let predicted = try labels("\(out)/\(name)")
            XCTAssertEqual([predicted.width, predicted.height], [320, 240], name)
            seen.formUnion(predicted.labels)
        }
        XCTAssertTrue(seen.isSubset(of: [0, 1, 3]), "ids only from the first mask: \(seen.sorted())")
        XCTAssertTrue(seen.contains(1) && seen.contains(3))
        // The next frame still holds the objects. (Not a later one: with random weights the flow and the features
        // are noise, and once the carried mask has lost an object only the features can bring it back.)
        let next = try labels("\(out)/000001.png").labels
        XCTAssertGreaterThan(next.filter { $0 == 1 }.count, 0, "object 1 is carried to the next frame")
        XCTAssertGreaterThan(next.filter { $0 == 3 }.count, 0, "object 3 is carried to the next frame")

        let reader = try VideoReader(path: video)
        var frames = 0, seconds: [Double] = []
        while let frame = try reader.nextFrame() {
            frames += 1
            seconds.append(frame.seconds)
            XCTAssertEqual([frame.width, frame.height], [320, 240])
        }
        XCTAssertEqual(frames, 36)
        let input = try VideoReader(path: sample)
        var inputSeconds: [Double] = []
        while let frame = try input.nextFrame() { inputSeconds.append(frame.seconds) }
        XCTAssertEqual(seconds.last ?? 0, inputSeconds.last ?? -1, accuracy: 0.01, "the input's timing")

        let again = try runProcess(tool, ["propagate", sample, "--mask", mask, "-o", out, "--model", model, "--max-side", "64"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("\(out): already exists; pass -y/--overwrite"), again.err)

        let small = file("small.png")
        try writeLabelPNG(LabelImage(width: 32, height: 24, labels: [UInt8](repeating: 1, count: 32 * 24)), path: small)
        let wrongSize = try runProcess(tool, ["propagate", sample, "--mask", small, "-o", file("o"), "--model", model, "--max-side", "64"])
        XCTAssertEqual(wrongSize.status, 3)
        XCTAssertTrue(wrongSize.err.contains("\(small): the mask is 32x24, the video 320x240"), wrongSize.err)
        let noMask = try runProcess(tool, ["propagate", sample, "--mask", file("none.png"), "-o", file("o"), "--model", model])
        XCTAssertEqual(noMask.status, 3)
        XCTAssertTrue(noMask.err.hasPrefix("mcjepa-video: \(file("none.png")): cannot read the mask"), noMask.err)
        XCTAssertEqual(noMask.err.split(separator: "\n").count, 1, noMask.err)
        try FileManager.default.createDirectory(atPath: file("empty"), withIntermediateDirectories: true)
        let noFrames = try runProcess(tool, ["propagate", file("empty"), "--mask", mask, "-o", file("o"), "--model", model])
        XCTAssertEqual(noFrames.status, 3)
        XCTAssertTrue(noFrames.err.hasSuffix("\(file("empty")): cannot open: no frames in the folder (expected .jpg or .png images)\n"),
                      noFrames.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") || $0 == "o" }, [],
                       "no temporary folder left behind")
    }

    func testSegmentWritesMasksWithAtMostKSegments() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let input = file("clip.mp4")
        try FileManager.default.copyItem(atPath: sample, toPath: input)
        let result = try runProcess(tool, ["segment", input, "--segments", "3", "--model", model, "--max-side", "64",
                                           "--video", file("segments.mp4")])
        XCTAssertEqual(result.status, 0, result.err)
        let out = file("clip.segments")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(names.count, 36)
        var seen = Set<UInt8>()
        for name in names {
            let mask = try labels("\(out)/\(name)")
            XCTAssertEqual([mask.width, mask.height], [320, 240])
            let ids = Set(mask.labels)
            XCTAssertTrue(ids.isSubset(of: [1, 2, 3]), "\(name): \(ids.sorted())")
            seen.formUnion(ids)
        }
        XCTAssertGreaterThan(seen.count, 1, "more than one segment")
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("segments.mp4")))
    }

    /// A DAVIS-layout folder with one sequence "square": a bright 24x24 square moving 4 px right per frame over
    /// a textured 96x64 picture, frames as PNGs.
    func makeSyntheticDAVIS() throws -> String {
        let root = file("davis")
        let images = "\(root)/JPEGImages/480p/square", annotations = "\(root)/Annotations/480p/square"
        for path in [images, annotations] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        for t in 0..<4 {
            var rgb = [UInt8](repeating: 0, count: 96 * 64 * 3), ids = [UInt8](repeating: 0, count: 96 * 64)
            for y in 0..<64 {
                for x in 0..<96 {
                    let inside = (20..<44).contains(y) && (16 + 4 * t..<40 + 4 * t).contains(x)
                    let base = 3 * (y * 96 + x)
                    rgb[base] = inside ? 230 : UInt8(60 + (x * 7 + y * 3) % 40)
                    rgb[base + 1] = inside ? 40 : 90
                    rgb[base + 2] = inside ? 40 : UInt8(80 + (x + y) % 30)
                    ids[y * 96 + x] = inside ? 1 : 0
                }
            }
            let name = String(format: "%05d.png", t)
            try writePNG(RGBImage(width: 96, height: 64, rgb: rgb), path: "\(images)/\(name)")
            try writeLabelPNG(LabelImage(width: 96, height: 64, labels: ids, palette: [UInt8](repeating: 0, count: 768)),
                              path: "\(annotations)/\(name)")
        }
        return root
    }

    func jsonReport(_ output: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
    }

    /// `propagate` with `options` on the synthetic DAVIS folder's sequence, into the layout `eval vos --pred` reads
    /// (PRED/square), then `eval vos --pred PRED --json`: the prediction folder and that report.
    func scorePropagatedMasks(tool: String, root: String, model: String,
                              options: [String]) throws -> (pred: String, report: [String: Any]) {
        let pred = file("pred")
        let propagated = try runProcess(tool, ["propagate", "\(root)/JPEGImages/480p/square", "--mask",
                                               "\(root)/Annotations/480p/square/00000.png", "-o", "\(pred)/square",
                                               "--model", model] + options)
        XCTAssertEqual(propagated.status, 0, propagated.err)
        let fromFiles = try runProcess(tool, ["eval", "vos", root, "--pred", pred, "--json"])
        XCTAssertEqual(fromFiles.status, 0, fromFiles.err)
        return (pred, try jsonReport(fromFiles.out))
    }

    func testEvalVOSWithAModelScoresASyntheticDAVISFolder() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let root = try makeSyntheticDAVIS()
        let result = try runProcess(tool, ["eval", "vos", root, "--model", model, "--json"])
        XCTAssertEqual(result.status, 0, result.err)
        let report = try jsonReport(result.out)
        XCTAssertEqual(report["prediction"] as? String, "model \(model) (flow-guided, appearance both, levels 2+3 on level 3's grid)")
        let j = try XCTUnwrap(report["j"] as? Double)
        XCTAssertTrue((0...1).contains(j), "\(j)")
        XCTAssertGreaterThan(j, 0, "the square is found at least in part")

        // propagate on the sequence's frame folder writes the layout --pred reads, and the same masks: scores match.
        let (pred, fromFiles) = try scorePropagatedMasks(tool: tool, root: root, model: model,
                                                         options: ["--video", file("square.mp4")])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(pred)/square").sorted(),
                       ["00000.png", "00001.png", "00002.png", "00003.png"])
        XCTAssertEqual(try XCTUnwrap(fromFiles["j"] as? Double), j, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(fromFiles["f"] as? Double), try XCTUnwrap(report["f"] as? Double), accuracy: 1e-12)

        let mixed = try runProcess(tool, ["eval", "vos", root, "--pred", pred, "--model", model])
        XCTAssertEqual(mixed.status, 2)
        XCTAssertTrue(mixed.err.contains("--model and --max-side apply only without --pred"), mixed.err)

        let missing = try runProcess(tool, ["eval", "vos", root])
        if BuiltInWeights.path == nil {
            XCTAssertEqual(missing.status, 1)
            XCTAssertEqual(missing.err, "mcjepa-video: \(BuiltInWeights.missingMessage)\n")
        }
    }

    /// `--appearance` of flow-guided propagation, end to end: each value runs and is named in the report, the
    /// colour patches find the red square whatever the random model's features say, `propagate` writes the masks
    /// `eval vos` scores, and the option is refused where it has no meaning.
    func testPropagateAndEvalVOSTakeAnAppearance() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let root = try makeSyntheticDAVIS()
        var scores: [String: Double] = [:]
        // With the fixed average the affinity decides a few edge pixels (by confidence the flow, surer here, decides
        // all of them: J is 1 for every appearance), so that is where the appearance shows.
        for appearance in ["features", "colour", "both", "separate"] {
            let result = try runProcess(tool, ["eval", "vos", root, "--model", model, "--appearance", appearance,
                                               "--fusion", "average", "--json"])
            XCTAssertEqual(result.status, 0, result.err)
            let report = try jsonReport(result.out)
            XCTAssertEqual(report["prediction"] as? String, "model \(model) (flow-guided, appearance \(appearance), fusion average, levels 2+3 on level 3's grid)")
            scores[appearance] = try XCTUnwrap(report["j"] as? Double)
        }
        XCTAssertGreaterThan(try XCTUnwrap(scores["colour"]), 0.8, "the square's colour sets it apart: \(scores)")
        // The flow carries the square almost alone here (J near 1 for all three), but the affinity decides a few
        // edge pixels: the option reaches the propagation.
        XCTAssertNotEqual(scores["features"], scores["colour"], "\(scores)")
        // --fusion confidence is the default: not named in the report, the same masks as without --fusion, and
        // it tracks the square as well.
        var confidentReports: [[String: Any]] = []
        for fusion in [["--fusion", "confidence"], []] {
            let confident = try runProcess(tool, ["eval", "vos", root, "--model", model, "--appearance", "separate",
                                                  "--json"] + fusion)
            XCTAssertEqual(confident.status, 0, confident.err)
            confidentReports.append(try jsonReport(confident.out))
        }
        for report in confidentReports {
            XCTAssertEqual(report["prediction"] as? String, "model \(model) (flow-guided, appearance separate, levels 2+3 on level 3's grid)")
            XCTAssertGreaterThan(try XCTUnwrap(report["j"] as? Double), 0.8)
        }
        XCTAssertEqual(confidentReports[0]["j"] as? Double, confidentReports[1]["j"] as? Double)
        XCTAssertEqual(confidentReports[0]["f"] as? Double, confidentReports[1]["f"] as? Double)
        let dinoFusion = try runProcess(tool, ["eval", "vos", root, "--model", model, "--method", "features", "--fusion", "confidence"])
        XCTAssertEqual(dinoFusion.status, 2)
        XCTAssertTrue(dinoFusion.err.contains("--fusion applies to --method flow-guided"), dinoFusion.err)

        let (pred, fromFiles) = try scorePropagatedMasks(tool: tool, root: root, model: model,
                                                         options: ["--appearance", "colour", "--fusion", "average"])
        XCTAssertEqual(try XCTUnwrap(fromFiles["j"] as? Double), try XCTUnwrap(scores["colour"]), accuracy: 1e-12)

        let dino = try runProcess(tool, ["eval", "vos", root, "--model", model, "--method", "features", "--appearance", "both"])
        XCTAssertEqual(dino.status, 2)
        XCTAssertTrue(dino.err.contains("--appearance both applies to --method flow-guided"), dino.err)
        let dinoFeatures = try runProcess(tool, ["eval", "vos", root, "--model", model, "--method", "features",
                                                 "--appearance", "features", "--json"])
        XCTAssertEqual(dinoFeatures.status, 0, dinoFeatures.err)
        XCTAssertEqual(try jsonReport(dinoFeatures.out)["prediction"] as? String, "model \(model) (features, level 3)")
        let withPred = try runProcess(tool, ["eval", "vos", root, "--pred", pred, "--appearance", "colour"])
        XCTAssertEqual(withPred.status, 2)
        XCTAssertTrue(withPred.err.contains("--appearance applies only without --pred"), withPred.err)
        let fusionWithPred = try runProcess(tool, ["eval", "vos", root, "--pred", pred, "--fusion", "confidence"])
        XCTAssertEqual(fusionWithPred.status, 2)
        XCTAssertTrue(fusionWithPred.err.contains("--fusion applies only without --pred"), fusionWithPred.err)
        for (option, value) in [("--method", "features"), ("--level", "2")] {
            let ignored = try runProcess(tool, ["eval", "vos", root, "--pred", pred, option, value])
            XCTAssertEqual(ignored.status, 2, option)
            XCTAssertTrue(ignored.err.contains("\(option) applies only without --pred"), ignored.err)
        }
        let unknown = try runProcess(tool, ["propagate", "\(root)/JPEGImages/480p/square", "--mask",
                                            "\(root)/Annotations/480p/square/00000.png", "-o", file("o"),
                                            "--model", model, "--appearance", "texture"])
        XCTAssertEqual(unknown.status, 2, unknown.err)
    }

    /// `--levels`, end to end: several encoder levels joined run on a real clip and on a DAVIS folder, reach the
    /// propagation (DINO's protocol scores differently than with level 3 alone), are named in the report, write
    /// the masks `eval vos` scores; `--levels 3` is `--level 3`; the defaults are levels 2+3 for flow-guided and
    /// level 3 for DINO's protocol; a bad list is a one-line usage error.
    func testPropagateAndEvalVOSTakeSeveralLevels() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        var first = [UInt8](repeating: 0, count: 320 * 240)
        for y in 60..<180 { for x in 40..<200 { first[y * 320 + x] = 2 } }
        let mask = file("first.png")
        try writeLabelPNG(LabelImage(width: 320, height: 240, labels: first, palette: [UInt8](repeating: 0, count: 768)), path: mask)
        let clipMasks = file("clip-masks")
        let clip = try runProcess(tool, ["propagate", sample, "--mask", mask, "-o", clipMasks, "--model", model,
                                         "--max-side", "64", "--duration", "0.3", "--levels", "2,3,4"])
        XCTAssertEqual(clip.status, 0, clip.err)
        let names = try FileManager.default.contentsOfDirectory(atPath: clipMasks).sorted()
        XCTAssertGreaterThan(names.count, 2)
        XCTAssertEqual(try labels("\(clipMasks)/\(names[0])").labels, first)
        let last = try labels("\(clipMasks)/\(names.last!)")
        XCTAssertEqual([last.width, last.height], [320, 240])
        XCTAssertTrue(Set(last.labels).isSubset(of: [0, 2]) && last.labels.contains(2), "the object survives")

        let root = try makeSyntheticDAVIS()
        func evaluate(_ arguments: [String]) throws -> (name: String?, j: Double) {
            let result = try runProcess(tool, ["eval", "vos", root, "--model", model, "--json"] + arguments)
            XCTAssertEqual(result.status, 0, result.err)
            let report = try jsonReport(result.out)
            return (report["prediction"] as? String, try XCTUnwrap(report["j"] as? Double))
        }
        let joined = try evaluate(["--levels", "4,2,3"])
        XCTAssertEqual(joined.name, "model \(model) (flow-guided, appearance both, levels 2+3+4 on level 3's grid)")
        XCTAssertGreaterThan(joined.j, 0.8, "the flow carries the square")
        let dinoJoined = try evaluate(["--method", "features", "--levels", "2,3,4"])
        XCTAssertEqual(dinoJoined.name, "model \(model) (features, levels 2+3+4 on level 3's grid)")
        let dinoSingle = try evaluate(["--method", "features"])
        XCTAssertNotEqual(dinoJoined.j, dinoSingle.j, "the levels reach the affinity")
        // The defaults: the model's features and colour patches joined (exactly --appearance both) on levels 2 and
        // 3 on level 3's grid for flow-guided (exactly --levels 2,3), level 3 alone for DINO's protocol; --level 3
        // alone is the single level.
        let defaulted = try evaluate([])
        XCTAssertEqual(defaulted.name, "model \(model) (flow-guided, appearance both, levels 2+3 on level 3's grid)")
        XCTAssertEqual(defaulted.j, try evaluate(["--levels", "2,3", "--appearance", "both"]).j)
        XCTAssertEqual(try evaluate(["--level", "3"]).name, "model \(model) (flow-guided, appearance both, level 3)")
        XCTAssertEqual(try evaluate(["--appearance", "features"]).name,
                       "model \(model) (flow-guided, appearance features, levels 2+3 on level 3's grid)")
        let dinoListed = try evaluate(["--method", "features", "--levels", "3"])
        XCTAssertEqual(dinoListed.name, "model \(model) (features, level 3)")
        XCTAssertEqual(dinoListed.j, dinoSingle.j, "--levels 3 is --level 3")

        let (pred, fromFiles) = try scorePropagatedMasks(tool: tool, root: root, model: model, options: ["--levels", "2,3,4"])
        XCTAssertEqual(try XCTUnwrap(fromFiles["j"] as? Double), joined.j, accuracy: 1e-12)

        for (levels, message) in [("2,x", "--levels must be comma-separated levels in 1...6 (e.g. 2,3,4), got '2,x'"),
                                  ("", "--levels must be comma-separated levels in 1...6 (e.g. 2,3,4), got ''"),
                                  ("2,,4", "--levels must be comma-separated levels in 1...6 (e.g. 2,3,4), got '2,,4'"),
                                  ("0,3", "--levels: level 0 is not in 1...6"),
                                  ("3,7", "--levels: level 7 is not in 1...6"),
                                  ("3,2,3", "--levels names level 3 twice")] {
            for command in [["propagate", "\(root)/JPEGImages/480p/square", "--mask", "\(root)/Annotations/480p/square/00000.png",
                             "-o", file("bad"), "--model", model], ["eval", "vos", root, "--model", model]] {
                let result = try runProcess(tool, command + ["--levels", levels])
                XCTAssertEqual(result.status, 2, "\(levels): \(result.err)")
                XCTAssertTrue(result.err.contains(message), result.err)
                XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("bad")), "no output on a usage error")
        let withPred = try runProcess(tool, ["eval", "vos", root, "--pred", pred, "--levels", "2,3"])
        XCTAssertEqual(withPred.status, 2)
        XCTAssertTrue(withPred.err.contains("--levels applies only without --pred"), withPred.err)
    }

    func testEvalFlowWithAModelScoresASyntheticSetAndReportsTheTime() throws {
        let tool = try commandLineTool()
        let (model, _) = try savedTestModel()
        let set = file("set")
        for (pair, shift) in [("a", 2), ("b", 3)] {
            let folder = "\(set)/\(pair)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            func picture(_ offset: Int) -> RGBImage {
                var rgb = [UInt8](repeating: 0, count: 80 * 48 * 3)
                for y in 0..<48 {
                    for x in 0..<80 {
                        let value = UInt8(truncatingIfNeeded: ((x - offset) * 13) ^ (y * 29))
                        for c in 0..<3 { rgb[3 * (y * 80 + x) + c] = value &+ UInt8(40 * c) }
                    }
                }
                return RGBImage(width: 80, height: 48, rgb: rgb)
            }
            try writePNG(picture(0), path: "\(folder)/img1.png")
            try writePNG(picture(shift), path: "\(folder)/img2.png")
            let truth = FlowField(width: 80, height: 48, u: [Float](repeating: Float(shift), count: 80 * 48),
                                  v: [Float](repeating: 0, count: 80 * 48))
            try FlowFile.write(truth, to: URL(fileURLWithPath: "\(folder)/flow.flo"), format: .flo)
        }
        let result = try runProcess(tool, ["eval", "flow", set, "--model", model, "--max-side", "64"])
        XCTAssertEqual(result.status, 0, result.err)
        let lines = result.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, result.out)  // header, a, b, mean
        XCTAssertTrue(lines[1].hasPrefix("a ") && lines[2].hasPrefix("b ") && lines[3].hasPrefix("mean"), result.out)
        XCTAssertTrue(result.err.contains("ms per pair (2 pairs"), result.err)

        /// The report's name for the prediction and its mean EPE, for `eval flow` on the model with these options.
        func scored(_ options: [String]) throws -> (prediction: String?, epe: Double) {
            let run = try runProcess(tool, ["eval", "flow", set, "--model", model, "--max-side", "64", "--json"] + options)
            let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any], run.err)
            let epe = try XCTUnwrap((report["mean"] as? [String: Any])?["epe"] as? Double)
            XCTAssertTrue(epe.isFinite && epe > 0, "\(options): \(epe)")
            return (report["prediction"] as? String, epe)
        }
        let standard = try scored([])
        XCTAssertEqual(standard.prediction, "model \(model) (max side 64) + search refinement")
        // Each option gives another prediction, so another score.
        let flipped = try scored(["--flip-average"])
        XCTAssertEqual(flipped.prediction, "model \(model) (max side 64) (flip-averaged) + search refinement")
        XCTAssertNotEqual(flipped.epe, standard.epe)
        let misplaced = try runProcess(tool, ["eval", "flow", set, "--pred", "zero", "--flip-average"])
        XCTAssertEqual(misplaced.status, 2)
        XCTAssertTrue(misplaced.err.contains("--flip-average applies only without --pred"), misplaced.err)
        // --no-refine scores the network's flow as it is.
        let raw = try scored(["--no-refine"])
        XCTAssertEqual(raw.prediction, "model \(model) (max side 64)")
        XCTAssertNotEqual(raw.epe, standard.epe)
        // --refinement variational runs the coarse-to-fine variational refinement instead of the seeded search.
        let variational = try scored(["--refinement", "variational"])
        XCTAssertEqual(variational.prediction, "model \(model) (max side 64) + variational refinement")
        XCTAssertNotEqual(variational.epe, standard.epe)
        let contradiction = try runProcess(tool, ["eval", "flow", set, "--no-refine", "--refinement", "variational"])
        XCTAssertEqual(contradiction.status, 2)
        XCTAssertTrue(contradiction.err.contains("--refinement contradicts --no-refine"), contradiction.err)
        // --search-options sets the search's DIS parameters; it needs a search to apply to.
        let twoPasses = try scored(["--search-options", "passes=2"])
        XCTAssertEqual(twoPasses.prediction, "model \(model) (max side 64) + search refinement (passes=2)")
        XCTAssertNotEqual(twoPasses.epe, standard.epe)
        for (options, message) in [(["--pred", "zero", "--search-options", "passes=2"], "--search-options applies only without --pred"),
                                   (["--model", model, "--no-refine", "--search-options", "passes=2"],
                                    "--search-options applies to --refinement search or fast-search"),
                                   (["--model", model, "--search-options", "passes=9"], "--search-options: passes must be in 1...8, got 9")] {
            let refused = try runProcess(tool, ["eval", "flow", set] + options)
            XCTAssertEqual(refused.status, 2, "\(options)")
            XCTAssertTrue(refused.err.contains(message), refused.err)
            XCTAssertEqual(refused.err.split(separator: "\n").count, 1, refused.err)
        }
        for flag in ["--refine", "--no-refine"] {
            let misplacedRefine = try runProcess(tool, ["eval", "flow", set, "--pred", "zero", flag])
            XCTAssertEqual(misplacedRefine.status, 2, flag)
            XCTAssertTrue(misplacedRefine.err.contains("--refine/--no-refine apply only without --pred"), misplacedRefine.err)
        }

        try Data("not a png".utf8).write(to: URL(fileURLWithPath: "\(set)/b/img2.png"))
        let bad = try runProcess(tool, ["eval", "flow", set, "--model", model, "--max-side", "64"])
        XCTAssertEqual(bad.status, 3)
        XCTAssertTrue(bad.err.contains("\(set)/b/img2.png"), bad.err)
        XCTAssertEqual(bad.err.split(separator: "\n").filter { $0.hasPrefix("mcjepa-video:") }.count, 1, bad.err)
    }

    func testWithoutBuiltInWeightsTheModelCommandsAskForAModel() throws {
        guard BuiltInWeights.path == nil else { throw XCTSkip("this build ships built-in weights") }
        let tool = try commandLineTool()
        let mask = file("m.png")
        try writeLabelPNG(LabelImage(width: 320, height: 240, labels: [UInt8](repeating: 0, count: 320 * 240)), path: mask)
        for arguments in [["propagate", sample, "--mask", mask, "-o", file("o")],
                          ["segment", sample, "--segments", "2", "-o", file("o")],
                          ["eval", "flow", folder!]] {
            let result = try runProcess(tool, arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(result.err, "mcjepa-video: \(BuiltInWeights.missingMessage)\n", "\(arguments)")
        }
    }
}
