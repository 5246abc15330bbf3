import Foundation
import NN
import XCTest
@testable import MCJEPA

/// Multi-crop VICReg (`vicregMultiViewTerms`, `contentLossesWithBackward(localViews:)`): without local views it is
/// the two-view loss bit for bit; with them its gradients match finite differences, on the embeddings and through
/// the model's one pass over the local views.
final class MultiViewVICRegTests: XCTestCase {
    func testWithoutLocalViewsTheLossAndItsGradientsAreTwoViewVICRegBitForBit() {
        var config = LossConfig()
        config.vicregInv = 3; config.vicregVar = 7; config.vicregCov = 0.5
        for seed: UInt64 in 1...3 {
            let a = smallEmbeddings(6, 5, seed: seed), b = smallEmbeddings(6, 5, seed: seed + 10)
            let (pair, pairTotal) = vicregTerms(a, b, config: config)
            let (multi, multiTotal) = vicregMultiViewTerms(a, b, locals: [], config: config)
            XCTAssertEqual(multiTotal.bitPattern, pairTotal.bitPattern)
            XCTAssertEqual(multi.invariance.bitPattern, pair.invariance.bitPattern)
            XCTAssertEqual(multi.variance.bitPattern, pair.variance.bitPattern)
            XCTAssertEqual(multi.covariance.bitPattern, pair.covariance.bitPattern)
            XCTAssertEqual(multi.gradFirst.array, pair.gradA.array)
            XCTAssertEqual(multi.gradSecond.array, pair.gradB.array)
            XCTAssertNil(multi.localInvariance)
            XCTAssertTrue(multi.gradLocals.isEmpty)
        }
    }

    /// d total / d every embedding of the two global and three local views against central differences.
    func testGradientsMatchFiniteDifferences() {
        var config = LossConfig()
        config.vicregInv = 2; config.vicregVar = 3; config.vicregCov = 5
        let views = (0..<5).map { smallEmbeddings(5, 4, seed: 20 + UInt64($0)) }
        func total() -> Float {
            vicregMultiViewTerms(views[0], views[1], locals: Array(views[2...]), config: config).total
        }
        let (terms, _) = vicregMultiViewTerms(views[0], views[1], locals: Array(views[2...]), config: config)
        XCTAssertGreaterThan(terms.variance, 0, "every feature below the variance hinge")
        let grads = [terms.gradFirst, terms.gradSecond] + terms.gradLocals
        let eps: Float = 1e-2
        var worst: Float = 0
        for (view, grad) in zip(views, grads) {
            for i in 0..<view.count {
                let kept = view.data[i]
                view.data[i] = kept + eps; let up = total()
                view.data[i] = kept - eps; let down = total()
                view.data[i] = kept
                let numeric = (up - down) / (2 * eps)
                worst = max(worst, abs(numeric - grad.data[i]) / max(0.05, abs(numeric)))
            }
        }
        XCTAssertLessThan(worst, 0.02, "largest relative difference of the analytic gradient from finite differences")
        // The local views pull on both global views: the test would see a missing pair.
        XCTAssertNotNil(terms.localInvariance)
        XCTAssertGreaterThan(grads[2].array.map(abs).max()!, 1e-3)
    }

    /// With local views, the model's parameter gradients (the local views' own encoder and expander pass, split
    /// into views and joined back) match finite differences of the loss.
    func testModelGradientsWithLocalViewsMatchFiniteDifferences() {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 4)
        let batch = 3
        let a = pseudoRandomImages([batch, 3, 128, 128], seed: 1), b = pseudoRandomImages([batch, 3, 128, 128], seed: 2)
        let local = pseudoRandomImages([2 * batch, 3, 64, 64], seed: 3)
        let config = LossConfig()
        model.parameters.zeroGradients()
        let report = model.contentLossesWithBackward(a, b, localViews: local, config: config)
        XCTAssertNotNil(report.terms["vicreg_inv_local"])
        let names = ["encoder.levels.0.conv.weight", "expander.linears.0.weight"]
        let analytic = Dictionary(uniqueKeysWithValues: names.map { ($0, model.parameters.gradient($0).copy()) })
        func total() -> Float {
            model.parameters.zeroGradients()
            return model.contentLossesWithBackward(a, b, localViews: local, config: config).total
        }
        var checked = 0
        for name in names {
            let parameter = model.parameters[name], analytic = analytic[name]!
            // The entries with the largest gradients, where a missing or misplaced term shows most.
            let indices = (0..<analytic.count).sorted { abs(analytic.data[$0]) > abs(analytic.data[$1]) }.prefix(3)
            for i in indices {
                // A small step: the expander's ReLUs put kinks within 1e-2 of some entries.
                let kept = parameter.data[i], eps: Float = 3e-4
                parameter.data[i] = kept + eps; let up = total()
                parameter.data[i] = kept - eps; let down = total()
                parameter.data[i] = kept
                let numeric = (up - down) / (2 * eps)
                XCTAssertEqual(analytic.data[i], numeric, accuracy: 0.03 * abs(numeric) + 5e-3, "\(name)[\(i)]")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 6)
    }

    /// Images in [0, 1] from a fixed seed.
    func pseudoRandomImages(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in rng.uniform() })
    }
}
