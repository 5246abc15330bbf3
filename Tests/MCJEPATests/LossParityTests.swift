import Foundation
import NN
import XCTest
@testable import MCJEPA

/// Every loss term and d loss.total / d every parameter against Reference/mcjepa/export_fixtures.py
/// (total = content(img1, img2 as the two views) + flow(img1, img2)), on the `test` preset's fixture weights.
final class LossParityTests: XCTestCase {
    func testLossConfigParsesTheReferenceDefaults() throws {
        let parsed = try LossConfig.fromJSON(try XCTUnwrap(try ParityFixture.parity().metadata["loss_config"])).get()
        XCTAssertEqual(parsed, LossConfig(), "the Swift defaults must equal the reference's")
        XCTAssertEqual(try LossConfig.fromJSON(LossConfig().json).get(), LossConfig())
        guard case .failure(let error) = LossConfig.fromJSON(#"{"photo_wieght": 1}"#) else { return XCTFail("typo accepted") }
        XCTAssertTrue(error.reason.contains("photo_wieght"), error.reason)
    }

    func testEveryLossTermAndParameterGradientMatchPyTorch() throws {
        try checkLossesAndGradients(.base)
    }

    /// The decoder down to level 2: its masks, losses at five levels, and the gradients through the finer level.
    func testEveryLossTermAndParameterGradientMatchPyTorchWithTheDecoderDownToLevel2() throws {
        try checkLossesAndGradients(.level2)
    }

    /// Convex upsampling: the full-size losses reach the upsampler's weights, and through it the stop level's
    /// flow, estimator hidden features and frame-1 features.
    func testEveryLossTermAndParameterGradientMatchPyTorchWithConvexUpsampling() throws {
        try checkLossesAndGradients(.convex)
    }

    /// One estimator per level: each level's loss gradients reach that level's estimator only.
    func testEveryLossTermAndParameterGradientMatchPyTorchWithAnEstimatorPerLevel() throws {
        try checkLossesAndGradients(.perLevel)
    }

    private func checkLossesAndGradients(_ variant: ParityVariant) throws {
        let model = try ParityFixture.parityModel(variant)
        XCTAssertEqual(model.config, variant.config)
        let fixture = try ParityFixture.parity(variant), metadata = fixture.metadata
        let get = fixture.tensor
        let config = try LossConfig.fromJSON(try XCTUnwrap(metadata["loss_config"])).get()
        let img1 = try get("io.img1"), img2 = try get("io.img2")

        model.parameters.zeroGradients()
        let content = model.contentLossesWithBackward(img1, img2, config: config)
        let (flow, outputs) = model.flowLossesWithBackward(img1, img2, config: config)

        // Masks first: a flipped pixel would explain any loss difference. The fixture warns how close its nearest
        // pixel is to the threshold; one flip is tolerated only when that margin is below float32 noise scale.
        let margin = Float(metadata["mask_margin_min"] ?? "1") ?? 1
        let allowedFlips = margin < 1e-3 ? 1 : 0
        let levels = model.config.decodedLevels
        for (name, actual) in [("io.mask_fw.full", outputs.forwardMaskFull)] + zip(levels, outputs.forwardMaskLevels).map({ ("io.mask_fw.l\($0)", $1) }) {
            let expected = try get(name)
            let flips = (0..<expected.count).filter { expected.data[$0] != actual.data[$0] }.count
            XCTAssertLessThanOrEqual(flips, allowedFlips, "\(name): \(flips) pixels differ (fixture margin \(margin))")
        }

        var terms = content.terms.merging(flow.terms) { a, _ in a }
        terms["content"] = content.total
        terms["flow"] = flow.total
        terms["total"] = content.total + flow.total
        for name in fixture.tensors.keys.filter({ $0.hasPrefix("loss.") }).sorted() {
            let key = String(name.dropFirst("loss.".count))
            let expected = try get(name).data[0]
            let actual = try XCTUnwrap(terms[key], "Swift computes no term \(key)")
            XCTAssertEqual(actual, expected, accuracy: 2e-4 * max(1, abs(expected)),
                           "\(name): Swift \(actual), PyTorch \(expected); \(fixture.regenerate)")
        }

        try fixture.assertParameterGradientsMatch(model)
    }
}
