import Foundation
import NN
import XCTest
@testable import MCJEPA

/// Swift forward pass against the PyTorch reference on the committed fixture (preset `test`, 2 pairs of 64x128).
final class ModelParityTests: XCTestCase {
    static let regenerate = "regenerate with: cd Reference && python3 -m mcjepa.export_fixtures"

    static var fixturePath: String {
        Bundle.module.url(forResource: "tiny_parity", withExtension: "safetensors", subdirectory: "Fixtures")!.path
    }

    /// max |a - b| <= 1e-4 * max |expected| (plus a tiny absolute floor for all-zero tensors).
    func assertClose(_ actual: Tensor, _ expected: Tensor, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "\(name): shape differs from the fixture (\(Self.regenerate))", file: file, line: line)
        guard actual.shape == expected.shape else { return }
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in 0..<expected.count {
            maxDiff = max(maxDiff, abs(actual.data[i] - expected.data[i]))
            maxAbs = max(maxAbs, abs(expected.data[i]))
        }
        let tolerance = 1e-4 * maxAbs + 1e-7
        XCTAssertLessThanOrEqual(maxDiff, tolerance,
                                 "\(name): max difference \(maxDiff) exceeds \(tolerance) (max |value| \(maxAbs)); if the reference changed, \(Self.regenerate)",
                                 file: file, line: line)
    }

    func testForwardMatchesReference() throws {
        let path = Self.fixturePath
        let loaded = try WeightsFile.load(path: path, ignoringPrefixes: ["io.", "loss.", "grad."])
        XCTAssertEqual(loaded.model.config, .test)
        let (all, _) = try Safetensors.read(path: path)
        func fixture(_ name: String) -> Tensor {
            guard let t = all[name] else { XCTFail("fixture lacks \(name); \(Self.regenerate)"); return Tensor(shape: [0]) }
            return t
        }
        let model = loaded.model
        let feats1 = model.encode(fixture("io.img1")), feats2 = model.encode(fixture("io.img2"))
        for level in 1...6 {
            assertClose(feats1[level - 1], fixture("io.feats1.l\(level)"), "io.feats1.l\(level)")
            assertClose(feats2[level - 1], fixture("io.feats2.l\(level)"), "io.feats2.l\(level)")
        }
        let forward = model.flow(feats1, feats2), backward = model.flow(feats2, feats1)
        for (i, level) in model.config.decodedLevels.enumerated() {
            assertClose(forward.levels[i], fixture("io.flow_fw.l\(level)"), "io.flow_fw.l\(level)")
            assertClose(backward.levels[i], fixture("io.flow_bw.l\(level)"), "io.flow_bw.l\(level)")
        }
        assertClose(forward.full, fixture("io.flow_fw.full"), "io.flow_fw.full")
        assertClose(backward.full, fixture("io.flow_bw.full"), "io.flow_bw.full")
        let content = model.content(feats1)
        assertClose(content.representation, fixture("io.rep1"), "io.rep1")
        assertClose(content.embedding, fixture("io.emb1"), "io.emb1")
    }
}
