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

    func testSupervisedTrainingOnOnePairReducesItsEndPointError() throws {
        let synthetic = SyntheticPairSource(photos: [sineTexture(side: 96)], height: 64, width: 64, maxShift: 3)
        var rng = TrainingRNG(seed: 3)
        let pair = try synthetic.sample(&rng)
        var options = TrainerOptions()
        options.steps = 40; options.batch = 1; options.contentBatch = 2; options.crop = (64, 64); options.contentSize = 64
        options.contentWarmup = 0; options.warmup = 5; options.learningRate = 2e-3; options.supervisedWeight = 1
        options.checkpointEvery = 1000; options.logEvery = 1000
        var loss = LossConfig.selfSupervisedFlowTermsOff
        loss.vicregInv = 0; loss.vicregVar = 0; loss.vicregCov = 0
        options.loss = loss
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 1)
        let sampler = MixedSampler(sources: [FixedPair(pair)], crop: (64, 64), contentSize: 64)
        let trainer = try Trainer(model: model, sampler: sampler, options: options, folder: folder, resume: false)
        let first = try trainer.step()
        var last = first
        for _ in 1..<options.steps { last = try trainer.step() }
        let before = try XCTUnwrap(first["synthetic_epe"]), after = try XCTUnwrap(last["synthetic_epe"])
        XCTAssertLessThan(after, 0.6 * before, "EPE \(before) -> \(after) after \(options.steps) supervised steps on one pair")
    }
}
