import Foundation
import NN
import XCTest
@testable import MCJEPA

/// `train --train-only PREFIX`: only the named parameters move, the others stay bit for bit; the backward passes that
/// reach no trained parameter are skipped without changing a loss value or a trained parameter's gradient.
final class TrainOnlyTests: TemporaryFolderTestCase {
    /// The `test` network with a convex upsampler and a fine head whose `out` conv is not zero (so that the head's
    /// gradients reach its other convs), drawn from seed 1.
    private func fineModel() -> MCJEPAModel {
        var config = ModelConfig.test
        config.upsamplerWidth = 8
        config.fineIterations = 2
        config.fineWidth = 4
        let model = MCJEPAModel(config: config)
        model.initializeRandomly(seed: 1)
        model.parameters["decoder.fine.out.weight"].fill(0.01)
        return model
    }

    private func pair() throws -> TrainingSample {
        let synthetic = SyntheticPairSource(photos: [sineTexture(side: 96)], height: 64, width: 64, maxShift: 3)
        var rng = TrainingRNG(seed: 3)
        return try synthetic.sample(&rng)
    }

    /// Every flow term on (both directions, occlusion, per-level terms) and the supervised end-point error: with only
    /// the fine head trainable, the same loss values and, bit for bit, the same fine-head gradients as the full pass.
    func testSkippedBackwardPassesChangeNeitherTheLossesNorTheFineHeadsGradients() throws {
        let sample = try pair()
        let img1 = Tensor(shape: [1, 3, 64, 64], values: sample.first.planar)
        let img2 = Tensor(shape: [1, 3, 64, 64], values: sample.second.planar)
        let target = Tensor(shape: [1, 2, 64, 64], values: try XCTUnwrap(sample.flow))
        let fineOnly = TrainableParts(trainable: ["decoder.fine.out.weight"])
        XCTAssertEqual(fineOnly, TrainableParts(encoder: false, decoder: false, fineHead: true, expander: false))
        var results: [(terms: [String: Float], gradients: [String: [Float]])] = []
        for trainable in [TrainableParts.all, fineOnly] {
            let model = fineModel()
            model.parameters.zeroGradients()
            let (report, _) = model.flowLossesWithBackward(img1, img2, config: LossConfig(), targetFlow: target,
                                                           supervisedWeight: 1, trainable: trainable)
            var gradients: [String: [Float]] = [:]
            for spec in model.parameters.specs { gradients[spec.name] = model.parameters.gradient(spec.name).array }
            results.append((report.terms, gradients))
        }
        let (full, skipped) = (results[0], results[1])
        XCTAssertEqual(full.terms, skipped.terms)
        for (name, gradient) in full.gradients where name.hasPrefix("decoder.fine.") {
            XCTAssertTrue(gradient == skipped.gradients[name]!, "\(name) differs with the skipped passes")
            XCTAssertTrue(gradient.contains { $0 != 0 }, "\(name) has no gradient")
        }
        // The skipped passes did not run: the encoder and the coarse decoder have no gradient.
        let encoderWeight = try XCTUnwrap(fineModel().parameters.specs.first { $0.name.hasPrefix("encoder.") }).name
        for name in [encoderWeight, "decoder.context.out.weight", "decoder.upsampler.mask.weight"] {
            let gradient = try XCTUnwrap(skipped.gradients[name], name)
            XCTAssertTrue(gradient.allSatisfy { $0 == 0 }, "\(name) got a gradient")
            XCTAssertTrue(full.gradients[name]!.contains { $0 != 0 }, "\(name) has no gradient in the full pass")
        }
    }

    /// A trainer of `fineModel()` on one fixed pair: self-supervised flow terms, the supervised error, and VICReg
    /// when `content`.
    private func trainer(trainOnly: [String], content: Bool, steps: Int = 2, folder: String, resume: Bool = false,
                         checkpointEvery: Int = 1000) throws -> Trainer {
        var options = TrainerOptions()
        options.steps = steps; options.batch = 1; options.contentBatch = 2; options.crop = (64, 64); options.contentSize = 64
        options.contentWarmup = 0; options.warmup = 1; options.learningRate = 1e-3; options.supervisedWeight = 1
        options.checkpointEvery = checkpointEvery; options.logEvery = 1000; options.trainOnly = trainOnly
        if !content { options.loss.vicregInv = 0; options.loss.vicregVar = 0; options.loss.vicregCov = 0 }
        let sampler = MixedSampler(sources: [TrainerTests.FixedPair(try pair())], crop: (64, 64), contentSize: 64)
        return try Trainer(model: fineModel(), sampler: sampler, options: options, folder: folder, resume: resume)
    }

    /// Two steps training only `decoder.fine.`: every other parameter is bit for bit the initial one, the head's have
    /// moved, and the first step logs the same losses as training everything (no content terms, so that both draw
    /// the same batches).
    func testTrainingOnlyTheFineHeadLeavesEveryOtherParameterAndTheLossesAsTheyWere() throws {
        let initial = fineModel()
        let everything = try trainer(trainOnly: [], content: false, folder: file("all"))
        let head = try trainer(trainOnly: ["decoder.fine."], content: false, folder: file("head"))
        XCTAssertEqual(head.trainable, TrainableParts(encoder: false, decoder: false, fineHead: true, expander: false))
        var all = try everything.step(), only = try head.step()
        all["grad_norm"] = nil; only["grad_norm"] = nil  // the norm of the updated gradients only
        XCTAssertEqual(all, only)
        _ = try head.step()
        for spec in initial.parameters.specs {
            let before = initial.parameters[spec.name].array, after = head.model.parameters[spec.name].array
            if spec.name.hasPrefix("decoder.fine.") {
                XCTAssertNotEqual(before, after, "\(spec.name) did not move")
            } else {
                XCTAssertTrue(before == after, "\(spec.name) moved")
            }
        }
    }

    /// With VICReg on and neither the encoder nor the expander trained, the content batch is not computed; with the
    /// expander trained, it is.
    func testTheContentBatchIsSkippedWhenItsLossReachesNothingTrained() throws {
        let head = try trainer(trainOnly: ["decoder.fine."], content: true, folder: file("head"))
        XCTAssertFalse(head.computesContent)
        XCTAssertNil(try head.step()["vicreg_inv"])
        let expander = try trainer(trainOnly: ["decoder.fine.", "expander."], content: true, folder: file("expander"))
        XCTAssertTrue(expander.computesContent)
        XCTAssertNotNil(try expander.step()["vicreg_inv"])
        XCTAssertThrowsError(try trainer(trainOnly: ["decoder.nothing."], content: false, folder: file("none"))) { error in
            XCTAssertTrue("\(error)".contains("--train-only decoder.nothing.: no parameter"), "\(error)")
        }
    }

    /// A run training only the head, interrupted after step 2 and resumed, ends with the weights of an uninterrupted one.
    func testAResumedRunEqualsAnUninterruptedOne() throws {
        let whole = try trainer(trainOnly: ["decoder.fine."], content: false, steps: 4, folder: file("whole"), checkpointEvery: 2)
        try whole.run()
        let first = try trainer(trainOnly: ["decoder.fine."], content: false, steps: 4, folder: file("split"), checkpointEvery: 2)
        try first.run(stopAt: 2)
        let resumed = try trainer(trainOnly: ["decoder.fine."], content: false, steps: 4, folder: file("split"), resume: true,
                                  checkpointEvery: 2)
        XCTAssertEqual(resumed.state.step, 2)
        try resumed.run()
        for spec in whole.model.parameters.specs {
            XCTAssertTrue(whole.model.parameters[spec.name].array == resumed.model.parameters[spec.name].array,
                          "\(spec.name) differs after the resume")
        }
    }
}
