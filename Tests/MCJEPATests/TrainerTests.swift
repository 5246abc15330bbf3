import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The training loop end to end in the library: supervised on one fixed synthetic pair (every unsupervised weight
/// zero), the end-point error on that pair must fall well below where it starts. A wrong sign anywhere between
/// the loss gradient, clipping and the AdamW update would make it rise or stall.
final class TrainerTests: TemporaryFolderTestCase {
    /// Always the same pair (the trainer's crop still picks a random window of it).
    final class FixedPair: TrainingPairSource {
        let name = "fixed"
        let pair: TrainingSample
        init(_ pair: TrainingSample) { self.pair = pair }
        func sample(_ rng: inout TrainingRNG) throws -> TrainingSample { pair }
    }

    /// The `test` model (seed 1) trained supervised only on `pair`, every other term off.
    func supervisedTrainer(_ pair: TrainingSample, steps: Int, warmup: Int, emaDecay: Float = 0, folder: String,
                           resume: Bool = false, checkpointEvery: Int = 1000, batch: Int = 1,
                           otherSources: [TrainingPairSource] = []) throws -> Trainer {
        var options = TrainerOptions()
        options.steps = steps; options.batch = batch; options.contentBatch = 2; options.crop = (64, 64); options.contentSize = 64
        options.contentWarmup = 0; options.warmup = warmup; options.learningRate = 2e-3; options.supervisedWeight = 1
        options.checkpointEvery = checkpointEvery; options.logEvery = 1000; options.emaDecay = emaDecay
        var loss = LossConfig.selfSupervisedFlowTermsOff
        loss.vicregInv = 0; loss.vicregVar = 0; loss.vicregCov = 0
        options.loss = loss
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 1)
        let sampler = MixedSampler(sources: [FixedPair(pair)] + otherSources, crop: (64, 64), contentSize: 64)
        return try Trainer(model: model, sampler: sampler, options: options, folder: folder, resume: resume)
    }

    func testSupervisedTrainingOnOnePairReducesItsEndPointError() throws {
        let synthetic = SyntheticPairSource(photos: [sineTexture(side: 96)], height: 64, width: 64, maxShift: 3)
        var rng = TrainingRNG(seed: 3)
        let pair = try synthetic.sample(&rng)
        let trainer = try supervisedTrainer(pair, steps: 40, warmup: 5, folder: folder)
        let options = trainer.options
        let first = try trainer.step()
        var last = first
        for _ in 1..<options.steps { last = try trainer.step() }
        let before = try XCTUnwrap(first["synthetic_epe"]), after = try XCTUnwrap(last["synthetic_epe"])
        XCTAssertLessThan(after, 0.6 * before, "EPE \(before) -> \(after) after \(options.steps) supervised steps on one pair")
    }

    func testBatchesMixingPairsWithAndWithoutFlowAreSupervisedOnTheirSyntheticPairs() throws {
        // Half the pairs of a batch of 4 come from a still source without flow, so only 1 batch in 16 is all
        // synthetic: the error falls only if the synthetic pairs of mixed batches are supervised too.
        let synthetic = SyntheticPairSource(photos: [sineTexture(side: 96)], height: 64, width: 64, maxShift: 3)
        var rng = TrainingRNG(seed: 3)
        let pair = try synthetic.sample(&rng)
        let still = TrainingSample(first: pair.first, second: pair.first)
        let trainer = try supervisedTrainer(pair, steps: 40, warmup: 5, folder: folder, batch: 4,
                                            otherSources: [FixedPair(still)])
        let first = try trainer.step()
        var last = first
        var steps = 1
        for _ in 1..<trainer.options.steps { last = try trainer.step(); steps += 1 }
        let before = try XCTUnwrap(first["synthetic_epe"]), after = try XCTUnwrap(last["synthetic_epe"])
        XCTAssertLessThan(after, 0.6 * before, "EPE of the synthetic pairs \(before) -> \(after) after \(steps) mixed steps")
    }

    func testMovingAverageFollowsTheRecurrenceAndSurvivesAResume() throws {
        let synthetic = SyntheticPairSource(photos: [sineTexture(side: 96)], height: 64, width: 64, maxShift: 3)
        var rng = TrainingRNG(seed: 3)
        let pair = try synthetic.sample(&rng)
        // Decay 0.5, so that every step moves the average visibly.
        func averagingTrainer(steps: Int, folder: String, resume: Bool = false, checkpointEvery: Int = 1000) throws -> Trainer {
            try supervisedTrainer(pair, steps: steps, warmup: 2, emaDecay: 0.5, folder: folder, resume: resume,
                                  checkpointEvery: checkpointEvery)
        }
        let trainer = try averagingTrainer(steps: 3, folder: file("straight"))
        let average = try XCTUnwrap(trainer.average)
        let name = "decoder.estimator.out.weight"
        // average_0 = w_0; average_t = 0.5 average_{t-1} + 0.5 w_t.
        var expected = trainer.model.parameters[name].array
        XCTAssertEqual(average.parameters[name].array, expected)
        for _ in 0..<3 {
            _ = try trainer.step()
            let weights = trainer.model.parameters[name].array
            expected = zip(expected, weights).map { 0.5 * $0 + 0.5 * $1 }
            XCTAssertEqual(average.parameters[name].array, expected)
        }
        XCTAssertNotEqual(expected, trainer.model.parameters[name].array, "the average should lag the weights")

        // A run interrupted after step 2 and resumed ends with the same average, and model.safetensors holds it.
        let uninterrupted = try averagingTrainer(steps: 4, folder: file("whole"), checkpointEvery: 2)
        try uninterrupted.run()
        let first = try averagingTrainer(steps: 4, folder: file("split"), checkpointEvery: 2)
        try first.run(stopAt: 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("split/step-0000002.ema.safetensors")))
        let resumed = try averagingTrainer(steps: 4, folder: file("split"), resume: true, checkpointEvery: 2)
        XCTAssertEqual(resumed.state.step, 2)
        try resumed.run()
        let whole = try XCTUnwrap(uninterrupted.average).parameters.tensors, split = try XCTUnwrap(resumed.average).parameters.tensors
        // (XCTAssertTrue, not XCTAssertEqual: a failure would print every weight.)
        for (key, tensor) in whole { XCTAssertTrue(tensor.array == split[key]!.array, "\(key): averages differ after the resume") }
        let saved = try WeightsFile.load(path: file("whole/model.safetensors"), config: .test)
        XCTAssertTrue(saved.model.parameters[name].array == whole[name]!.array, "model.safetensors is not the average")
        XCTAssertEqual(saved.metadata["ema_decay"], "0.5")
    }

    func testATrainingRunKeepsTheDecoderOfTheWeightsItContinuesUnlessAskedForAnother() throws {
        var fineConfig = ModelConfig.test
        fineConfig.decoderStopLevel = 2
        let fine = MCJEPAModel(config: fineConfig)
        fine.initializeRandomly(seed: 4)
        let initial = LoadedWeights(model: fine, path: "fine.safetensors", metadata: [:])
        let continued = try MCJEPAModel.forTraining(preset: .test, initial: initial, seed: 9)
        XCTAssertEqual(continued.model.config, fineConfig, "the file's decoder, not the preset's")
        XCTAssertEqual(continued.fresh, [])
        XCTAssertEqual(continued.model.parameters.tensors.mapValues(\.array), fine.parameters.tensors.mapValues(\.array))
        let fresh = try MCJEPAModel.forTraining(preset: .test, seed: 9)
        XCTAssertEqual(fresh.model.config, .test)
        XCTAssertEqual(fresh.fresh, [])
        // A coarser decoder than the file's cannot be started from it.
        let coarser = DecoderChoices(stopLevel: ModelConfig.test.decoderStopLevel)
        XCTAssertThrowsError(try MCJEPAModel.forTraining(preset: .test, choices: coarser, initial: initial, seed: 9)) { error in
            XCTAssertTrue("\(error)".contains("fine.safetensors"), "\(error)")
        }
    }

    func testWarmStartCopiesEveryTensorOfACoarserDecoderAndLeavesTheNewOnes() throws {
        let coarse = MCJEPAModel(config: .test)
        coarse.initializeRandomly(seed: 1)
        var fineConfig = ModelConfig.test
        fineConfig.decoderStopLevel = 2
        let fine = MCJEPAModel(config: fineConfig)
        fine.initializeRandomly(seed: 2)
        let freshBefore = fine.parameters["decoder.reduce.l2.weight"].array
        let fresh = try fine.warmStart(from: coarse, path: "coarse.safetensors")
        XCTAssertEqual(fresh, ["decoder.reduce.l2.weight", "decoder.reduce.l2.bias"])
        for (name, tensor) in coarse.parameters.tensors {
            XCTAssertEqual(fine.parameters[name].array, tensor.array, name)
        }
        XCTAssertEqual(fine.parameters["decoder.reduce.l2.weight"].array, freshBefore)
        // Not the other way round, and not across widths.
        XCTAssertThrowsError(try coarse.warmStart(from: fine, path: "fine.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("fine.safetensors"), "\(error)")
        }
        XCTAssertThrowsError(try MCJEPAModel(config: .tiny).warmStart(from: coarse, path: "coarse.safetensors"))
    }

    /// A model with a shared estimator warm-starts one with an estimator per level, which then computes exactly the
    /// same flow (every level's estimator a copy of the shared one); the split cannot be merged back.
    func testPerLevelEstimatorsStartAsCopiesOfTheSharedOne() throws {
        let shared = MCJEPAModel(config: .test)
        shared.initializeRandomly(seed: 5)
        var config = ModelConfig.test
        config.perLevelEstimators = true
        let split = MCJEPAModel(config: config)
        split.initializeRandomly(seed: 6)
        XCTAssertEqual(try split.warmStart(from: shared, path: "shared.safetensors"), [])
        for level in config.decodedLevels {
            XCTAssertEqual(split.parameters["decoder.estimators.l\(level).convs.0.weight"].array,
                           shared.parameters["decoder.estimator.convs.0.weight"].array)
        }
        var random = TrainingRNG(seed: 2)
        let img1 = Tensor(shape: [1, 3, 64, 128], values: (0..<(3 * 64 * 128)).map { _ in random.uniform() })
        let img2 = Tensor(shape: [1, 3, 64, 128], values: (0..<(3 * 64 * 128)).map { _ in random.uniform() })
        let a = shared.flow(shared.encode(img1), shared.encode(img2))
        let b = split.flow(split.encode(img1), split.encode(img2))
        XCTAssertEqual(a.full.array, b.full.array)
        XCTAssertEqual(a.levels.map(\.array), b.levels.map(\.array))
        XCTAssertThrowsError(try shared.warmStart(from: split, path: "split.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("split.safetensors"), "\(error)")
        }
        // A finer decoder with an estimator per level: its new level's estimator starts as the file's finest (level 3,
        // made to differ from the others here).
        scaleInPlace(split.parameters["decoder.estimators.l3.out.weight"], 2)
        XCTAssertNotEqual(split.parameters["decoder.estimators.l3.out.weight"].array, split.parameters["decoder.estimators.l4.out.weight"].array)
        var finerConfig = config
        finerConfig.decoderStopLevel = 2
        let finer = MCJEPAModel(config: finerConfig)
        finer.initializeRandomly(seed: 7)
        XCTAssertEqual(try finer.warmStart(from: split, path: "split.safetensors"), ["decoder.reduce.l2.weight", "decoder.reduce.l2.bias"])
        for level in 2...6 {
            XCTAssertEqual(finer.parameters["decoder.estimators.l\(level).out.weight"].array,
                           split.parameters["decoder.estimators.l\(max(level, 3)).out.weight"].array, "level \(level)")
        }
    }

    /// The weights a warm start did not carry get the new-weight learning-rate scale, whole tensors.
    func testNewWeightLearningRateScalesCoverFreshTensors() throws {
        var config = ModelConfig.test
        config.perLevelEstimators = true
        config.decoderStopLevel = 2
        let model = MCJEPAModel(config: config)
        let fresh = ["decoder.reduce.l2.weight", "decoder.reduce.l2.bias"]
        let scales = model.newWeightLearningRateScales(fresh: fresh, scale: 10)
        XCTAssertEqual(Set(scales.keys), Set(fresh))
        XCTAssertTrue(scales["decoder.reduce.l2.bias"]!.array.allSatisfy { $0 == 10 })
        XCTAssertEqual(scales["decoder.reduce.l2.weight"]!.shape, model.parameters["decoder.reduce.l2.weight"].shape)
        // Nothing new: no scales.
        XCTAssertTrue(MCJEPAModel(config: .test).newWeightLearningRateScales(fresh: [], scale: 10).isEmpty)
    }

    /// A bilinear model warm-starts a convex one, which then starts as (half-pixel) bilinear upsampling: its full
    /// flow matches the bilinear model's away from the border, where align_corners bilinear and the stencil differ
    /// by up to half a cell.
    func testAConvexUpsamplerStartsAsBilinearUpsampling() throws {
        let bilinear = MCJEPAModel(config: .test)
        bilinear.initializeRandomly(seed: 5)
        // A larger flow than the seed's near-zero one, so that the comparison means something.
        scaleInPlace(bilinear.parameters["decoder.context.out.bias"], 0)
        bilinear.parameters["decoder.context.out.bias"].data[0] = 1.5
        bilinear.parameters["decoder.context.out.bias"].data[1] = -0.75
        var config = ModelConfig.test
        config.upsamplerWidth = 8
        let convex = MCJEPAModel(config: config)
        convex.initializeRandomly(seed: 6)
        XCTAssertEqual(try convex.warmStart(from: bilinear, path: "bilinear.safetensors"),
                       ["decoder.upsampler.conv.weight", "decoder.upsampler.conv.bias", "decoder.upsampler.mask.weight",
                        "decoder.upsampler.mask.bias"])
        var random = TrainingRNG(seed: 1)
        let img1 = Tensor(shape: [1, 3, 128, 192], values: (0..<(3 * 128 * 192)).map { _ in random.uniform() })
        let img2 = Tensor(shape: [1, 3, 128, 192], values: (0..<(3 * 128 * 192)).map { _ in random.uniform() })
        let a = bilinear.flow(bilinear.encode(img1), bilinear.encode(img2)).full
        let b = convex.flow(convex.encode(img1), convex.encode(img2)).full
        var worst: Float = 0, largest: Float = 0
        for c in 0..<2 {
            for y in 16..<112 {
                for x in 16..<176 {
                    let i = (c * 128 + y) * 192 + x
                    worst = max(worst, abs(a.data[i] - b.data[i])); largest = max(largest, abs(a.data[i]))
                }
            }
        }
        XCTAssertGreaterThan(largest, 4, "the test flow is too small to compare")
        XCTAssertLessThan(worst, 0.1 * largest, "interior max difference \(worst), max |flow| \(largest)")
        // And the convex model is a different function once its mask weights move.
        XCTAssertThrowsError(try bilinear.warmStart(from: convex, path: "convex.safetensors"))
    }
}

/// log.jsonl's records keep the keys the `[String: Any]` records had, so logs written before read the same.
final class TrainingLogRecordTests: XCTestCase {
    func testStepRecordsWriteTheTermsAsTopLevelKeysAndReadOldLines() throws {
        let record = StepLogRecord(step: 20, lr: 0.5, stepsPerSecond: 2, terms: ["total": 1.25, "photo": 0.75])
        let line = String(decoding: try JSONEncoder.trainingLog.encode(record), as: UTF8.self)
        XCTAssertEqual(line, #"{"lr":0.5,"photo":0.75,"step":20,"steps_per_s":2,"total":1.25}"#)
        // A line JSONSerialization wrote (the old trainer's) decodes to the same record.
        let old = try JSONSerialization.data(withJSONObject: ["step": 20, "lr": 0.5, "steps_per_s": 2.0, "total": 1.25,
                                                               "photo": 0.75], options: [.sortedKeys])
        XCTAssertEqual(try JSONDecoder().decode(StepLogRecord.self, from: old), record)
        XCTAssertThrowsError(try JSONDecoder().decode(StepLogRecord.self, from: Data(#"{"step":1}"#.utf8)))
    }

    func testEvaluationRecordsWriteTheRawEPEOnlyWithAnAverage() throws {
        let plain = EvaluationLogRecord(step: 0, evalEPE: 3.5, evalEPERaw: nil)
        XCTAssertEqual(String(decoding: try JSONEncoder.trainingLog.encode(plain), as: UTF8.self), #"{"eval_epe":3.5,"step":0}"#)
        let averaged = EvaluationLogRecord(step: 4, evalEPE: 3.5, evalEPERaw: 4)
        let line = try JSONEncoder.trainingLog.encode(averaged)
        XCTAssertEqual(String(decoding: line, as: UTF8.self), #"{"eval_epe":3.5,"eval_epe_raw":4,"step":4}"#)
        XCTAssertEqual(try JSONDecoder().decode(EvaluationLogRecord.self, from: line), averaged)
        XCTAssertEqual(try JSONDecoder().decode(LoggedStep.self, from: line).step, 4)
    }
}
