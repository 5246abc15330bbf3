import Foundation
import NN
import XCTest
@testable import MCJEPA

/// Swift forward pass against the PyTorch reference on the committed fixture (preset `test`, 2 pairs of 64x128).
final class ModelParityTests: XCTestCase {
    func testForwardMatchesReference() throws {
        try checkForward(.base)
    }

    /// The decoder down to level 2 (the estimator and context network then run on quarter-resolution features).
    func testForwardWithTheDecoderDownToLevel2MatchesReference() throws {
        try checkForward(.level2)
    }

    /// Convex upsampling (its mask weights random in the fixture, so every pixel's softmax depends on the input).
    func testForwardWithConvexUpsamplingMatchesReference() throws {
        try checkForward(.convex)
    }

    /// One estimator per level: every level must read its own (the fixture's four differ).
    func testForwardWithAnEstimatorPerLevelMatchesReference() throws {
        try checkForward(.perLevel)
    }

    private func checkForward(_ variant: ParityVariant) throws {
        let model = try ParityFixture.parityModel(variant)
        XCTAssertEqual(model.config, variant.config)
        let fixture = try ParityFixture.parity(variant)
        let feats1 = model.encode(try fixture.tensor("io.img1")), feats2 = model.encode(try fixture.tensor("io.img2"))
        for level in 1...6 {
            try fixture.assertMatches(feats1[level - 1], "io.feats1.l\(level)")
            try fixture.assertMatches(feats2[level - 1], "io.feats2.l\(level)")
        }
        let forward = model.flow(feats1, feats2), backward = model.flow(feats2, feats1)
        for (i, level) in model.config.decodedLevels.enumerated() {
            try fixture.assertMatches(forward.levels[i], "io.flow_fw.l\(level)")
            try fixture.assertMatches(backward.levels[i], "io.flow_bw.l\(level)")
        }
        try fixture.assertMatches(forward.full, "io.flow_fw.full")
        try fixture.assertMatches(backward.full, "io.flow_bw.full")
        let content = model.content(feats1)
        try fixture.assertMatches(content.representation, "io.rep1")
        try fixture.assertMatches(content.embedding, "io.emb1")
    }
}
