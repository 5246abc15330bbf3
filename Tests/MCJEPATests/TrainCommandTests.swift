import Dataset
import FlowIO
import Foundation
import NN
import VideoIO
import XCTest
@testable import MCJEPA

/// End to end: `mcjepa-video train` on Samples/realshort.mp4 with the `test` preset and 64x64 crops: checkpoints,
/// the JSON-lines log, resume equal to an uninterrupted run, and the final weights loaded by `flow --model`.
final class TrainCommandTests: TemporaryFolderTestCase {
    let sample = "\(samplesFolder)/realshort.mp4"

    func trainArguments(_ out: String, steps: Int = 4) -> [String] {
        ["train", sample, "--out", out, "--preset", "test", "--steps", "\(steps)", "--crop", "64x64", "--content-size", "64",
         "--content-batch", "2", "--batch", "1", "--content-warmup", "1", "--occlusion-start", "2", "--ckpt-every", "2",
         "--log-every", "1", "--seed", "7", "--warmup", "2", "--lr", "1e-3", "--threads", "1"]
    }

    /// A `test` model drawn from `seed`, saved as `name`, and two training steps into `out` that start from it
    /// (`--init`) with `options`: the setup of the warm-start tests.
    func trainFromSavedModel(seed: UInt64, name: String, out: String, options: [String]) throws
        -> (initial: MCJEPAModel, run: (status: Int32, out: String, err: String)) {
        let initial = MCJEPAModel(config: .test)
        initial.initializeRandomly(seed: seed)
        let initPath = file(name)
        try WeightsFile.save(initial, to: initPath)
        return (initial, try runProcess(try commandLineTool(), trainArguments(out, steps: 2) + options + ["--init", initPath]))
    }

    /// Log records without the wall-clock figure.
    func records(_ path: String) throws -> [[String: Double]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            var record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Double], String(line))
            // Step records carry the wall-clock speed; evaluation records (eval_epe) do not.
            XCTAssertTrue(record.removeValue(forKey: "steps_per_s") != nil || record["eval_epe"] != nil, "log line lacks steps_per_s: \(line)")
            return record
        }
    }

    func testTrainCheckpointsResumesDeterministicallyAndItsWeightsLoad() throws {
        let tool = try commandLineTool()
        let full = file("full"), split = file("split")
        let run = try runProcess(tool, trainArguments(full))
        XCTAssertEqual(run.status, 0, run.err)
        for name in ["log.jsonl", "latest.json", "model.safetensors", "step-0000002.safetensors", "step-0000002.state.safetensors",
                     "step-0000004.safetensors", "step-0000004.state.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(full)/\(name)"), "missing \(name)")
        }
        let log = try records("\(full)/log.jsonl")
        XCTAssertEqual(log.map { $0["step"] }, [1, 2, 3, 4])
        // Step 1 is content only; flow terms appear once the content warm-up (1 step) is over.
        XCTAssertNil(log[0]["photo"])
        for key in ["photo", "feature", "smooth", "cycle", "varcov", "var_l1", "cov_l1", "vicreg_inv", "vicreg_var", "vicreg_cov",
                    "content", "flow", "total", "grad_norm", "lr", "visible"] {
            XCTAssertNotNil(log[3][key], "log lacks \(key)")
        }
        for record in log { XCTAssertTrue(record["total"]!.isFinite) }

        // Interrupted after step 2, then resumed: the same log and bit-identical weights.
        let first = try runProcess(tool, trainArguments(split) + ["--stop-at", "2"])
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(split)/model.safetensors"), "a stopped run has no final model")
        let resumed = try runProcess(tool, trainArguments(split) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.err.contains("from step 2"), resumed.err)
        XCTAssertEqual(try records("\(split)/log.jsonl"), log, "resumed run's log differs from the uninterrupted run's")
        let a = try Safetensors.read(path: "\(full)/model.safetensors").tensors
        let b = try Safetensors.read(path: "\(split)/model.safetensors").tensors
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, tensor) in a { XCTAssertEqual(tensor.array, b[name]?.array, "\(name) differs after resume") }
        // Training changed the weights.
        let initial = try Safetensors.read(path: "\(full)/step-0000002.safetensors").tensors
        XCTAssertNotEqual(initial["encoder.levels.0.conv.weight"]?.array, a["encoder.levels.0.conv.weight"]?.array)

        let flows = file("flows")
        let flow = try runProcess(tool, ["flow", sample, "-o", flows, "--model", "\(full)/model.safetensors", "--max-side", "64",
                                         "--duration", "0.2"])
        XCTAssertEqual(flow.status, 0, flow.err)
        XCTAssertFalse((try FileManager.default.contentsOfDirectory(atPath: flows)).isEmpty)
    }

    /// Multi-crop local views and temporal positives from frames up to --content-gap apart: finite losses, the local
    /// views' invariance logged, and a resumed run equal to an uninterrupted one.
    func testMultiCropWithAContentGapLogsItsLossesAndResumesDeterministically() throws {
        let tool = try commandLineTool()
        func arguments(_ out: String) -> [String] {
            var arguments = trainArguments(out)
            arguments[arguments.firstIndex(of: "--content-size")! + 1] = "128"  // global views 128, local views 64
            return arguments + ["--content-local-views", "2", "--content-local-size", "64", "--content-temporal", "0.5",
                                "--content-gap", "4"]
        }
        let full = file("full"), split = file("split")
        let run = try runProcess(tool, arguments(full))
        XCTAssertEqual(run.status, 0, run.err)
        let log = try records("\(full)/log.jsonl")
        XCTAssertEqual(log.map { $0["step"] }, [1, 2, 3, 4])
        for record in log {
            for key in ["vicreg_inv", "vicreg_inv_local", "vicreg_var", "vicreg_cov", "content", "total"] {
                let value = try XCTUnwrap(record[key], "log lacks \(key)")
                XCTAssertTrue(value.isFinite, "\(key) \(value)")
            }
        }
        XCTAssertNotEqual(log[0]["vicreg_inv_local"], log[0]["vicreg_inv"])

        let first = try runProcess(tool, arguments(split) + ["--stop-at", "2"])
        XCTAssertEqual(first.status, 0, first.err)
        let resumed = try runProcess(tool, arguments(split) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(try records("\(split)/log.jsonl"), log, "resumed run's log differs from the uninterrupted run's")
        let a = try Safetensors.read(path: "\(full)/model.safetensors").tensors
        let b = try Safetensors.read(path: "\(split)/model.safetensors").tensors
        for (name, tensor) in a { XCTAssertEqual(tensor.array, b[name]?.array, "\(name) differs after resume") }
    }

    /// `--content-dense`: the dense terms logged and finite, a local projector in the weights (which `flow` ignores),
    /// a resumed run equal to an uninterrupted one; weight 0 is the run without the option, bit for bit; and a file
    /// without a projector starts one fresh (there with feature-space pairs too, `--content-dense-nn`).
    func testDenseContentLossTrainsAProjectorResumesAndIsOffAtZero() throws {
        let tool = try commandLineTool()
        let dense = ["--content-dense", "0.5"]
        let full = file("full"), split = file("split")
        let run = try runProcess(tool, trainArguments(full) + dense)
        XCTAssertEqual(run.status, 0, run.err)
        let log = try records("\(full)/log.jsonl")
        XCTAssertEqual(log.map { $0["step"] }, [1, 2, 3, 4])
        for record in log {
            for key in ["dense", "dense_inv", "dense_var", "dense_cov", "vicreg_inv", "content", "total"] {
                XCTAssertTrue(try XCTUnwrap(record[key], "log lacks \(key)").isFinite, key)
            }
            XCTAssertGreaterThan(try XCTUnwrap(record["dense_pairs"]), 0)
        }
        let weights = try WeightsFile.load(path: "\(full)/model.safetensors")
        XCTAssertEqual(weights.model.config.localProjectorLevel, ModelConfig.defaultLocalProjectorLevel)
        XCTAssertNotNil(weights.model.parameters.tensors["local_projector.linears.0.weight"])
        let flows = file("flows")
        let flow = try runProcess(tool, ["flow", sample, "-o", flows, "--model", "\(full)/model.safetensors", "--max-side", "64",
                                         "--duration", "0.1"])
        XCTAssertEqual(flow.status, 0, flow.err)

        let first = try runProcess(tool, trainArguments(split) + dense + ["--stop-at", "2"])
        XCTAssertEqual(first.status, 0, first.err)
        let resumed = try runProcess(tool, trainArguments(split) + dense + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(try records("\(split)/log.jsonl"), log, "resumed run's log differs from the uninterrupted run's")
        let a = try Safetensors.read(path: "\(full)/model.safetensors").tensors
        let b = try Safetensors.read(path: "\(split)/model.safetensors").tensors
        for (name, tensor) in a { XCTAssertEqual(tensor.array, b[name]?.array, "\(name) differs after resume") }

        let plain = file("plain"), zero = file("zero")
        XCTAssertEqual(try runProcess(tool, trainArguments(plain, steps: 2)).status, 0)
        XCTAssertEqual(try runProcess(tool, trainArguments(zero, steps: 2) + ["--content-dense", "0"]).status, 0)
        XCTAssertEqual(try records("\(zero)/log.jsonl"), try records("\(plain)/log.jsonl"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(zero)/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: "\(plain)/model.safetensors")), "--content-dense 0 changed the weights")

        let (_, warm) = try trainFromSavedModel(seed: 5, name: "plain.safetensors", out: file("warm"),
                                                options: ["--content-dense", "1", "--content-dense-level", "4", "--content-dense-nn", "2"])
        XCTAssertEqual(warm.status, 0, warm.err)
        XCTAssertTrue(try records(file("warm/log.jsonl")).allSatisfy { $0["dense_inv_nn"]?.isFinite == true }, "dense_inv_nn logged")
        XCTAssertTrue(warm.err.contains("starting local_projector.linears.0.weight"), warm.err)
        XCTAssertEqual(try WeightsFile.load(path: file("warm/model.safetensors")).model.config.localProjectorLevel, 4)
    }

    /// `--train-through-alignment`: finite flow losses on the aligned flow, a resumed run equal to the uninterrupted
    /// one, and a log that differs from the plain run's only once the flow losses switch on (step 1 is content only).
    func testTrainThroughAlignmentLogsFiniteLossesAndResumes() throws {
        let tool = try commandLineTool()
        let option = ["--train-through-alignment"]
        let full = file("full"), split = file("split"), plain = file("plain")
        let run = try runProcess(tool, trainArguments(full) + option)
        XCTAssertEqual(run.status, 0, run.err)
        let log = try records("\(full)/log.jsonl")
        XCTAssertEqual(log.map { $0["step"] }, [1, 2, 3, 4])
        for record in log.dropFirst() {
            for key in ["flow", "photo", "cycle", "feature", "total"] {
                XCTAssertTrue(try XCTUnwrap(record[key], "log lacks \(key)").isFinite, "\(key) in \(record)")
            }
        }
        XCTAssertEqual(try runProcess(tool, trainArguments(split) + option + ["--stop-at", "2"]).status, 0)
        let resumed = try runProcess(tool, trainArguments(split) + option + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(try records("\(split)/log.jsonl"), log, "resumed run's log differs from the uninterrupted run's")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(split)/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: "\(full)/model.safetensors")), "weights differ after resume")

        XCTAssertEqual(try runProcess(tool, trainArguments(plain, steps: 2)).status, 0)
        let plainLog = try records("\(plain)/log.jsonl")
        XCTAssertEqual(plainLog[0], log[0], "the content-only step changed")
        XCTAssertNotEqual(plainLog[1]["photo"], log[1]["photo"], "the photometric loss did not see the aligned flow")
    }

    func testTrainsOnPreprocessedShards() throws {
        let tool = try commandLineTool()
        let shards = file("shards"), out = file("run")
        let prep = try runProcess(tool, ["preprocess", sample, "-o", shards, "--max-side", "96", "--max-pairs", "4"])
        XCTAssertEqual(prep.status, 0, prep.err)
        let run = try runProcess(tool, ["train", shards, "--out", out, "--preset", "test", "--steps", "2", "--crop", "64x64",
                                        "--content-size", "64", "--content-batch", "2", "--batch", "1", "--content-warmup", "0",
                                        "--threads", "1", "--log-every", "1", "--ckpt-every", "1", "--keep-checkpoints", "1"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("sources shards"), run.err)
        let kept = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("step-") }.sorted()
        XCTAssertEqual(kept, ["step-0000002.safetensors", "step-0000002.state.safetensors"], "--keep-checkpoints 1")
        let log = try records("\(out)/log.jsonl")
        XCTAssertEqual(log.count, 2)
        XCTAssertNotNil(log[0]["photo"], "flow terms from the first step with --content-warmup 0")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/model.safetensors"))
        // Shards hold pairs, not clips: a temporal positive with --content-gap is a stored pair's two frames.
        let gapped = file("gapped")
        let gap = try runProcess(tool, ["train", shards, "--out", gapped, "--preset", "test", "--steps", "1", "--crop", "64x64",
                                        "--content-size", "64", "--content-batch", "2", "--batch", "1", "--threads", "1",
                                        "--content-temporal", "1", "--content-gap", "5"])
        XCTAssertEqual(gap.status, 0, gap.err)
        XCTAssertTrue(try XCTUnwrap(try records("\(gapped)/log.jsonl").first?["content"]).isFinite)
    }

    /// Shards written by `preprocess --flow`: each pair's stored flow supervises it (a teacher's flow distilled into
    /// the network), reported as synthetic_epe and added to the flow total as a synthetic pair's EPE is.
    func testShardFlowSupervisesItsPairs() throws {
        let tool = try commandLineTool()
        let (teacher, _) = try savedTestModel()
        let shards = file("shards"), out = file("run")
        let prep = try runProcess(tool, ["preprocess", sample, "-o", shards, "--max-side", "96", "--max-pairs", "3", "--flow",
                                         "--no-refine", "--model", teacher])
        XCTAssertEqual(prep.status, 0, prep.err)
        let run = try runProcess(tool, ["train", shards, "--out", out, "--preset", "test", "--steps", "2", "--crop", "64x64",
                                        "--content-size", "64", "--content-batch", "2", "--batch", "2", "--content-warmup", "0",
                                        "--threads", "1", "--log-every", "1", "--supervised-weight", "1"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("sources shards (3 of 3 pairs with flow)"), run.err)
        let log = try records("\(out)/log.jsonl")
        XCTAssertEqual(log.count, 2)
        for r in log {
            let epe = try XCTUnwrap(r["synthetic_epe"], "no synthetic_epe in \(r)")
            XCTAssertGreaterThan(epe, 0)
            let unsupervised = r["photo"]! + r["feature"]! + 75 * r["smooth"]! + 0.2 * r["cycle"]! + r["varcov"]!
            XCTAssertEqual(r["flow"]!, unsupervised + epe, accuracy: 1e-4 * max(1, r["flow"]!))
        }

        // A stored flow that does not fit its frames: a one-line error that names the shard and the member.
        let shard = "\(shards)/shard-000000.tar", bad = file("bad.tar")
        let writer = try TarWriter(path: bad)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: shard)))
        for member in try TarIndex.members(ofFile: shard) where !member.name.hasSuffix(".flow.npy") {
            try writer.append(name: member.name, contents: Array(bytes[Int(member.offset)..<Int(member.offset) + member.size]))
            if member.name.hasSuffix(".f1.png") {
                let key = member.name.dropLast(".f1.png".count)
                let small = FlowField(width: 8, height: 8, u: [Float](repeating: 0, count: 64), v: [Float](repeating: 0, count: 64))
                try writer.append(name: "\(key).flow.npy", contents: FlowFile.encode(small, format: .npy))
            }
        }
        try writer.finish()
        let wrong = try runProcess(tool, ["train", bad, "--out", file("run2"), "--preset", "test", "--steps", "1", "--crop", "64x64",
                                          "--content-size", "64", "--content-batch", "2", "--batch", "1", "--content-warmup", "0",
                                          "--threads", "1", "--supervised-weight", "1"])
        XCTAssertEqual(wrong.status, 3, wrong.err)
        XCTAssertTrue(wrong.err.contains("bad.tar") && wrong.err.contains(".flow.npy: flow is 8x8"), wrong.err)
        // Found when the pair is first drawn, after the run's header line.
        XCTAssertEqual(wrong.err.split(separator: "\n").filter { !$0.hasPrefix("train: preset") }.count, 1, wrong.err)
    }

    /// A teacher's flow stored with `--mask-inconsistent` (NaN where it fails the forward-backward check) trains
    /// with a finite loss: the unknown pixels are left out of the end-point error, not read as numbers.
    func testMaskedShardFlowTrainsWithAFiniteLoss() throws {
        let tool = try commandLineTool()
        let (teacher, _) = try savedTestModel()
        let shards = file("shards"), out = file("run")
        let prep = try runProcess(tool, ["preprocess", sample, "-o", shards, "--max-side", "96", "--max-pairs", "2", "--flow",
                                         "--no-refine", "--mask-inconsistent", "--model", teacher])
        XCTAssertEqual(prep.status, 0, prep.err)
        let run = try runProcess(tool, ["train", shards, "--out", out, "--preset", "test", "--steps", "2", "--crop", "64x64",
                                        "--content-size", "64", "--content-batch", "2", "--batch", "2", "--content-warmup", "0",
                                        "--threads", "1", "--log-every", "1", "--supervised-weight", "1",
                                        "--loss", "photo_weight=0", "--loss", "smooth_weight=0", "--loss", "cycle_weight=0",
                                        "--loss", "feature_weights=0,0,0,0,0,0", "--loss", "var_weights=0,0,0,0,0,0",
                                        "--loss", "cov_weights=0,0,0,0,0,0"])
        XCTAssertEqual(run.status, 0, run.err)
        for r in try records("\(out)/log.jsonl") {
            let epe = try XCTUnwrap(r["synthetic_epe"], "no synthetic_epe in \(r)")
            XCTAssertTrue(epe.isFinite && epe > 0, "synthetic_epe \(epe)")
            XCTAssertTrue(r["total"]!.isFinite, "total \(r["total"]!)")
        }
    }

    func testSyntheticPairsReportAndSuperviseEndPointError() throws {
        let tool = try commandLineTool()
        let photos = file("photos"), out = file("run")
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        for k in 0..<2 {
            var rgb = [UInt8](repeating: 0, count: 80 * 60 * 3)
            for i in 0..<(80 * 60) {
                let x = i % 80, y = i / 80
                rgb[3 * i] = UInt8((x * 3 + y * k * 5) % 256); rgb[3 * i + 1] = UInt8((y * 4 + x * x / 9) % 256); rgb[3 * i + 2] = UInt8(k * 90)
            }
            try writePNG(RGBImage(width: 80, height: 60, rgb: rgb), path: "\(photos)/p\(k).png")
        }
        let run = try runProcess(tool, ["train", "--synthetic", photos, "--supervised-weight", "1", "--out", out, "--preset", "test",
                                        "--steps", "2", "--crop", "64x64", "--content-size", "64", "--content-batch", "2",
                                        "--batch", "1", "--content-warmup", "0", "--threads", "1", "--log-every", "1",
                                        "--eval-synthetic", "2", "--synthetic-motion-blur", "0.5"])
        XCTAssertEqual(run.status, 0, run.err)
        var log = try records("\(out)/log.jsonl")
        // eval_epe records at the start and at the final checkpoint, around the two step records.
        XCTAssertEqual(log.map { $0["step"] }, [0, 1, 2, 2])
        XCTAssertNotNil(log.first?["eval_epe"]); XCTAssertNotNil(log.last?["eval_epe"])
        log = Array(log.dropFirst())
        let epe = try XCTUnwrap(log[0]["synthetic_epe"], "no synthetic_epe in \(log[0])")
        XCTAssertGreaterThan(epe, 0)
        // The supervised term is part of the flow total: flow = unsupervised terms + 1 x EPE.
        let r = log[0]
        let unsupervised = r["photo"]! + r["feature"]! + 75 * r["smooth"]! + 0.2 * r["cycle"]! + r["varcov"]!
        XCTAssertEqual(r["flow"]!, unsupervised + epe, accuracy: 1e-4 * max(1, r["flow"]!))
    }

    /// `--decoder-stop-level 2 --init` weights that stop at level 3: every tensor of the file carries over, the new
    /// level's reduction starts from the seed, and the result is a level-2 model that `flow --model` runs.
    func testDecoderStopLevelWarmStartsFromACoarserModel() throws {
        let tool = try commandLineTool()
        let out = file("run")
        let (coarse, run) = try trainFromSavedModel(seed: 3, name: "coarse.safetensors", out: out, options: ["--decoder-stop-level", "2"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("starting decoder.reduce.l2.weight, decoder.reduce.l2.bias fresh"), run.err)
        XCTAssertTrue(run.err.contains("decoder 6->2"), run.err)
        // Two Adam steps at learning rates up to 1e-3 move each weight by about 1e-3 at most.
        let trained = try WeightsFile.load(path: "\(out)/model.safetensors")
        XCTAssertEqual(trained.model.config.decoderStopLevel, 2)
        let before = coarse.parameters["decoder.estimator.convs.0.weight"].array
        let after = trained.model.parameters["decoder.estimator.convs.0.weight"].array
        XCTAssertLessThan(zip(before, after).map { abs($0 - $1) }.max()!, 0.01, "the estimator did not carry over")
        let flows = file("flows")
        let flow = try runProcess(tool, ["flow", sample, "-o", flows, "--model", "\(out)/model.safetensors", "--max-side", "64",
                                         "--duration", "0.2", "--no-refine"])
        XCTAssertEqual(flow.status, 0, flow.err)

        // Without --decoder-stop-level, training goes on at the file's level.
        let fine = file("fine.safetensors")
        try FileManager.default.copyItem(atPath: "\(out)/model.safetensors", toPath: fine)
        let continued = try runProcess(tool, trainArguments(file("continued")) + ["--init", fine])
        XCTAssertEqual(continued.status, 0, continued.err)
        XCTAssertFalse(continued.err.contains("fresh"), continued.err)
        XCTAssertEqual(try WeightsFile.load(path: "\(file("continued"))/model.safetensors").model.config.decoderStopLevel, 2)

        // A finer file cannot start a coarser decoder.
        let backwards = try runProcess(tool, trainArguments(file("run2")) + ["--init", fine, "--decoder-stop-level", "3"])
        XCTAssertEqual(backwards.status, 3, backwards.err)
        XCTAssertTrue(backwards.err.contains("fine.safetensors") && backwards.err.contains("coarser level"), backwards.err)
        XCTAssertEqual(backwards.err.split(separator: "\n").count, 1, backwards.err)
        let level = try runProcess(tool, trainArguments(file("run3")) + ["--decoder-stop-level", "7"])
        XCTAssertEqual(level.status, 2, level.err)
        XCTAssertTrue(level.err.contains("--decoder-stop-level 7"), level.err)
    }

    /// `--upsampler-width 8 --init` a bilinear file: every tensor carries over, the upsampler starts fresh (as
    /// bilinear upsampling), training runs through it, and `flow --model` runs the result.
    func testUpsamplerWidthWarmStartsFromABilinearModel() throws {
        let tool = try commandLineTool()
        let out = file("run")
        let run = try trainFromSavedModel(seed: 4, name: "bilinear.safetensors", out: out, options: ["--upsampler-width", "8"]).run
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("starting decoder.upsampler.conv.weight, decoder.upsampler.conv.bias, decoder.upsampler.mask.weight, decoder.upsampler.mask.bias fresh"), run.err)
        let trained = try WeightsFile.load(path: "\(out)/model.safetensors").model
        XCTAssertEqual(trained.config.upsamplerWidth, 8)
        // The mask weights started at zero; training moved them.
        XCTAssertGreaterThan(trained.parameters["decoder.upsampler.mask.weight"].array.map(abs).max()!, 0)
        let flow = try runProcess(tool, ["flow", sample, "-o", file("flows"), "--model", "\(out)/model.safetensors", "--max-side", "64",
                                         "--duration", "0.2", "--no-refine"])
        XCTAssertEqual(flow.status, 0, flow.err)
        // A convex file cannot start a bilinear model; at another stop level the upsampler (other shapes) starts fresh.
        let back = try runProcess(tool, trainArguments(file("run2")) + ["--init", "\(out)/model.safetensors", "--upsampler-width", "0"])
        XCTAssertEqual(back.status, 3, back.err)
        XCTAssertTrue(back.err.contains("model.safetensors") && back.err.contains("convex upsampler"), back.err)
        let level = try runProcess(tool, trainArguments(file("run3"), steps: 1) + ["--init", "\(out)/model.safetensors", "--decoder-stop-level", "2"])
        XCTAssertEqual(level.status, 0, level.err)
        XCTAssertTrue(level.err.contains("starting decoder.reduce.l2.weight, decoder.reduce.l2.bias, decoder.upsampler.conv.weight"), level.err)
        let width = try runProcess(tool, trainArguments(file("run4")) + ["--upsampler-width", "5000"])
        XCTAssertEqual(width.status, 2, width.err)
        XCTAssertTrue(width.err.contains("--upsampler-width 5000"), width.err)
    }

    /// `--per-level-estimators --init` a file with a shared estimator: every level's estimator starts as a copy of
    /// it, training moves them apart, and a per-level file cannot start a shared model.
    func testPerLevelEstimatorsWarmStartFromASharedOne() throws {
        let tool = try commandLineTool()
        let out = file("run")
        let run = try trainFromSavedModel(seed: 4, name: "shared.safetensors", out: out, options: ["--per-level-estimators"]).run
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("an estimator per level"), run.err)
        let trained = try WeightsFile.load(path: "\(out)/model.safetensors").model
        XCTAssertTrue(trained.config.perLevelEstimators)
        let coarse = trained.parameters["decoder.estimators.l6.convs.0.weight"].array
        let fine = trained.parameters["decoder.estimators.l3.convs.0.weight"].array
        XCTAssertNotEqual(coarse, fine, "training did not move the levels' estimators apart")
        // Continuing the per-level file keeps its estimators without the flag; merging them back is refused.
        let again = try runProcess(tool, trainArguments(file("run2")) + ["--init", "\(out)/model.safetensors"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(try WeightsFile.load(path: "\(file("run2"))/model.safetensors").model.config.perLevelEstimators)
        let back = try runProcess(tool, trainArguments(file("run3")) + ["--init", "\(out)/model.safetensors", "--no-per-level-estimators"])
        XCTAssertEqual(back.status, 3, back.err)
        XCTAssertTrue(back.err.contains("model.safetensors") && back.err.contains("shared estimator"), back.err)
    }

    /// `--refinement-iterations 2 --refinement-width 4 --init` a file without the head: every tensor carries over,
    /// the head starts fresh (its zero `out` conv leaves the file's flow), training moves it, `flow --model` runs it,
    /// and continuing the file keeps the head without the options.
    func testRefinementIterationsWarmStartFromAModelWithoutThem() throws {
        let tool = try commandLineTool()
        let out = file("run")
        let run = try trainFromSavedModel(seed: 4, name: "plain.safetensors", out: out,
                                          options: ["--refinement-iterations", "2", "--refinement-width", "4"]).run
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("starting decoder.refinement.encode.weight, decoder.refinement.encode.bias, "
                                       + "decoder.refinement.depthwise.weight"), run.err)
        XCTAssertTrue(run.err.contains("refinement 2 iterations of width 4"), run.err)
        let trained = try WeightsFile.load(path: "\(out)/model.safetensors").model
        XCTAssertEqual(trained.config.refinementIterations, 2)
        XCTAssertEqual(trained.config.refinementWidth, 4)
        XCTAssertGreaterThan(trained.parameters["decoder.refinement.out.weight"].array.map(abs).max()!, 0)
        let flow = try runProcess(tool, ["flow", sample, "-o", file("flows"), "--model", "\(out)/model.safetensors",
                                         "--max-side", "64", "--duration", "0.2", "--no-refine"])
        XCTAssertEqual(flow.status, 0, flow.err)
        let again = try runProcess(tool, trainArguments(file("run2"), steps: 1) + ["--init", "\(out)/model.safetensors"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertFalse(again.err.contains("fresh"), again.err)
        XCTAssertEqual(try WeightsFile.load(path: "\(file("run2"))/model.safetensors").model.config, trained.config)
        // A head of another width cannot take the file's weights; a width alone is refused.
        let other = try runProcess(tool, trainArguments(file("run3")) + ["--init", "\(out)/model.safetensors",
                                                                         "--refinement-width", "8", "--refinement-iterations", "2"])
        XCTAssertEqual(other.status, 3, other.err)
        XCTAssertTrue(other.err.contains("model.safetensors") && other.err.contains("recurrent refinement"), other.err)
        let alone = try runProcess(tool, trainArguments(file("run4")) + ["--refinement-width", "8"])
        XCTAssertEqual(alone.status, 2, alone.err)
        XCTAssertTrue(alone.err.contains("--refinement-width needs --refinement-iterations"), alone.err)
    }

    /// `--fine-iterations 2 --fine-width 4 --init` a file without the head: the head starts fresh, training moves it,
    /// `flow --model` runs it; a width alone, and a head on a decoder that already reaches level 2, are refused.
    func testFineIterationsWarmStartFromAModelWithoutThem() throws {
        let tool = try commandLineTool()
        let out = file("run")
        let run = try trainFromSavedModel(seed: 4, name: "plain.safetensors", out: out,
                                          options: ["--fine-iterations", "2", "--fine-width", "4"]).run
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("starting decoder.fine.encode.weight, decoder.fine.encode.bias, "
                                       + "decoder.fine.depthwise.weight"), run.err)
        XCTAssertTrue(run.err.contains("fine head 2 iterations of width 4"), run.err)
        let trained = try WeightsFile.load(path: "\(out)/model.safetensors").model
        XCTAssertEqual(trained.config.fineIterations, 2)
        XCTAssertEqual(trained.config.fineWidth, 4)
        XCTAssertGreaterThan(trained.parameters["decoder.fine.out.weight"].array.map(abs).max()!, 0)
        let flow = try runProcess(tool, ["flow", sample, "-o", file("flows"), "--model", "\(out)/model.safetensors",
                                         "--max-side", "64", "--duration", "0.2", "--no-refine"])
        XCTAssertEqual(flow.status, 0, flow.err)
        let alone = try runProcess(tool, trainArguments(file("run2")) + ["--fine-width", "8"])
        XCTAssertEqual(alone.status, 2, alone.err)
        XCTAssertTrue(alone.err.contains("--fine-width needs --fine-iterations"), alone.err)
        let quarter = try runProcess(tool, trainArguments(file("run3")) + ["--fine-iterations", "2", "--decoder-stop-level", "2"])
        XCTAssertEqual(quarter.status, 3, quarter.err)
        XCTAssertTrue(quarter.err.contains("fine_iterations needs a decoder that stops above level 2"), quarter.err)
    }

    /// `--train-only decoder.fine.` on a file without the head: the log says what trains and that the content batch
    /// is skipped, and the written weights equal the file's but for the head's; a prefix that matches nothing is refused.
    func testTrainOnlyTheFineHeadKeepsEveryOtherWeightOfTheInitFile() throws {
        let out = file("run")
        let (initial, run) = try trainFromSavedModel(seed: 4, name: "plain.safetensors", out: out, options: [
            "--fine-iterations", "2", "--fine-width", "4", "--train-only", "decoder.fine."])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.err.contains("training only decoder.fine. ("), run.err)
        XCTAssertTrue(run.err.contains("no content batch: its loss reaches no trained parameter"), run.err)
        XCTAssertFalse(run.out.contains("vicreg_inv"), run.out)
        let trained = try WeightsFile.load(path: "\(out)/model.safetensors").model
        for spec in initial.parameters.specs {
            XCTAssertTrue(trained.parameters[spec.name].array == initial.parameters[spec.name].array, "\(spec.name) moved")
        }
        XCTAssertGreaterThan(trained.parameters["decoder.fine.out.weight"].array.map(abs).max()!, 0)
        let wrong = try runProcess(try commandLineTool(), trainArguments(file("run2")) + ["--train-only", "decoder.fine."])
        XCTAssertEqual(wrong.status, 3, wrong.err)
        XCTAssertTrue(wrong.err.contains("--train-only decoder.fine.: no parameter"), wrong.err)
    }

    /// `--new-weights-lr-scale` speeds up the tensors `--init` did not carry (here a new convex upsampler), and
    /// nothing else; it must be positive.
    func testNewWeightsLearnFasterAndTheirScaleIsChecked() throws {
        let tool = try commandLineTool()
        let out = file("run")
        let (_, run) = try trainFromSavedModel(seed: 4, name: "bilinear.safetensors", out: out,
                                               options: ["--upsampler-width", "8", "--new-weights-lr-scale", "20"])
        XCTAssertEqual(run.status, 0, run.err)
        var convex = ModelConfig.test
        convex.upsamplerWidth = 8
        let upsampler = ParameterStore.expectedSpecs(convex).filter { $0.name.hasPrefix("decoder.upsampler.") }
        XCTAssertEqual(upsampler.count, 4)
        XCTAssertTrue(run.err.contains("\(upsampler.reduce(0) { $0 + $1.count }) new weights learn at 20.0 x the rate"), run.err)
        let badScale = try runProcess(tool, trainArguments(file("run4")) + ["--new-weights-lr-scale", "0"])
        XCTAssertEqual(badScale.status, 2, badScale.err)
        XCTAssertTrue(badScale.err.contains("--new-weights-lr-scale"), badScale.err)
    }

    /// The default preset trains the built-in weights' network; explicit flags give the recipe's first network.
    func testTheTinyPresetTrainsTheBuiltInWeightsNetwork() throws {
        let tool = try commandLineTool()
        let tiny = trainArguments(file("tiny"), steps: 1).map { $0 == "test" ? "tiny" : $0 }
        let run = try runProcess(tool, tiny)
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(try WeightsFile.load(path: "\(file("tiny"))/model.safetensors").model.config, .tiny)
        XCTAssertTrue(run.err.contains("train: preset tiny, "), run.err)
        let plain = try runProcess(tool, trainArguments(file("plain"), steps: 1).map { $0 == "test" ? "tiny" : $0 }
                                   + ["--upsampler-width", "0", "--no-per-level-estimators"])
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertEqual(try WeightsFile.load(path: "\(file("plain"))/model.safetensors").model.config, .tinySharedBilinear)
    }

    func testBadInputsGiveOneLineErrors() throws {
        let tool = try commandLineTool()
        let missing = try runProcess(tool, ["train", file("nope.mp4"), "--out", file("run"), "--preset", "test", "--crop", "64x64"])
        XCTAssertEqual(missing.status, 3, missing.err)
        XCTAssertTrue(missing.err.contains("nope.mp4"), missing.err)
        let crop = try runProcess(tool, ["train", sample, "--out", file("run"), "--crop", "60x64"])
        XCTAssertEqual(crop.status, 2, crop.err)
        XCTAssertTrue(crop.err.contains("--crop"), crop.err)
        let ema = try runProcess(tool, ["train", sample, "--out", file("run"), "--ema-decay", "1"])
        XCTAssertEqual(ema.status, 2, ema.err)
        XCTAssertTrue(ema.err.contains("--ema-decay"), ema.err)
        let temporal = try runProcess(tool, ["train", sample, "--out", file("run"), "--content-temporal", "1.5"])
        XCTAssertEqual(temporal.status, 2, temporal.err)
        XCTAssertTrue(temporal.err.contains("--content-temporal"), temporal.err)
        for (options, message) in [(["--content-local-views", "2", "--content-local-size", "96"], "--content-local-size 96: expected a positive multiple of 64"),
                                   (["--content-local-views", "2", "--content-local-size", "128"], "--content-local-size 128: expected smaller than --content-size 128"),
                                   (["--content-local-views=-1"], "--content-local-views must be in 0...64, got -1"),
                                   (["--content-local-views", "2", "--content-size", "64"], "--content-local-size 64: expected smaller than --content-size 64"),
                                   (["--content-local-size", "64"], "--content-local-size needs --content-local-views above 0"),
                                   (["--content-gap", "3"], "--content-gap needs --content-temporal above 0"),
                                   (["--content-dense-level", "3"], "--content-dense-level needs --content-dense above 0"),
                                   (["--content-dense", "1", "--content-dense-level", "7"], "--content-dense-level must be in 1...6, got 7"),
                                   (["--content-dense=-1"], "--content-dense must be in"),
                                   (["--content-dense-nn", "4"], "--content-dense-nn needs --content-dense above 0"),
                                   (["--content-temporal", "0.5", "--content-gap", "0"], "--content-gap must be in 1...100000, got 0")] {
            let bad = try runProcess(tool, ["train", sample, "--out", file("run")] + options)
            XCTAssertEqual(bad.status, 2, bad.err)
            XCTAssertTrue(bad.err.contains(message), bad.err)
            XCTAssertEqual(bad.err.split(separator: "\n").count, 1, bad.err)
        }
        let blur = try runProcess(tool, ["train", sample, "--out", file("run"), "--synthetic-motion-blur", "1.5"])
        XCTAssertEqual(blur.status, 2, blur.err)
        XCTAssertTrue(blur.err.contains("--synthetic-motion-blur must be in [0, 1]"), blur.err)
        let broken = file("broken.tar")
        XCTAssertTrue(FileManager.default.createFile(atPath: broken, contents: Data(repeating: 65, count: 1024)))
        let tar = try runProcess(tool, ["train", broken, "--out", file("run"), "--preset", "test", "--crop", "64x64"])
        XCTAssertEqual(tar.status, 3, tar.err)
        XCTAssertTrue(tar.err.contains("broken.tar"), tar.err)
    }
}
