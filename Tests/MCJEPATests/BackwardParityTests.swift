import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The training backward pass against PyTorch autograd: dL/dparameter for a fixed linear function L of every
/// model output (Reference/mcjepa/export_backward_fixture.py), on the parity fixture's weights and first pair.
final class BackwardParityTests: XCTestCase {
    func testParameterGradientsMatchPyTorch() throws {
        let model = try ParityFixture.parityModel()
        let fixture = try ParityFixture.backward()
        let get = fixture.tensor

        let t1 = model.encodeForTraining(try get("io.img1")), t2 = model.encodeForTraining(try get("io.img2"))
        let fw = model.flowForTraining(t1.features, t2.features)
        let bw = model.flowForTraining(t2.features, t1.features)
        let content = model.contentForTraining(t1.features)
        // The traced forward computes what inference computes.
        XCTAssertEqual(fw.full.array, model.flow(t1.features, t2.features).full.array)

        let levels = model.config.decodedLevels
        let gFw = model.backwardFlow(fw, gradLevels: try levels.map { try get("ct.flow_fw.l\($0)") }, gradFull: try get("ct.full_fw"))
        let gBw = model.backwardFlow(bw, gradLevels: levels.map { _ in nil }, gradFull: try get("ct.full_bw"))
        let dTop = model.backwardContent(content, gradRepresentation: try get("ct.rep1"), gradEmbedding: try get("ct.emb1"))
        func sum(_ parts: [Tensor?]) -> Tensor? {
            let present = parts.compactMap { $0 }
            guard let first = present.first else { return nil }
            let total = first.copy()
            for part in present.dropFirst() { accumulate(total, part) }
            return total
        }
        var grad1: [Tensor?] = [], grad2: [Tensor?] = []
        for l in 0..<6 {
            // Frame 1 features feed the forward decoder as f1, the backward decoder as f2, the content branch
            // (level 6) and the direct cotangent; frame 2 the opposite decoder roles.
            grad1.append(sum([gFw.feats1[l], gBw.feats2[l], l == 5 ? dTop : nil, try get("ct.feats1.l\(l + 1)")]))
            grad2.append(sum([gFw.feats2[l], gBw.feats1[l]]))
        }
        model.backwardEncoder(t1, gradFeatures: grad1)
        model.backwardEncoder(t2, gradFeatures: grad2)

        try fixture.assertParameterGradientsMatch(model)
    }
}
