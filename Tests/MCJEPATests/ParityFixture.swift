import Foundation
import NN
import XCTest
@testable import MCJEPA

/// A safetensors fixture written by the PyTorch reference and shipped in Fixtures/: the parity tests read their
/// inputs and PyTorch's outputs, losses and gradients from it, and name the exporter to rerun when it is stale.
/// The models the parity fixtures were written for, each the `test` preset or one change of it.
enum ParityVariant: String {
    case base = "tiny_parity"
    /// The decoder down to level 2 (`train --decoder-stop-level 2`).
    case level2 = "tiny_parity_l2"
    /// Convex upsampling of width 8 instead of bilinear (`train --upsampler-width`).
    case convex = "tiny_parity_convex"
    /// The convex variant with one flow estimator per decoded level (`train --per-level-estimators`), each drawn
    /// separately.
    case perLevel = "tiny_parity_per_level"

    var config: ModelConfig {
        var config = ModelConfig.test
        switch self {
        case .base: break
        case .level2: config.decoderStopLevel = 2
        case .convex: config.upsamplerWidth = 8
        case .perLevel: config.upsamplerWidth = 8; config.perLevelEstimators = true
        }
        return config
    }
}

struct ParityFixture {
    let tensors: [String: Tensor]
    let metadata: [String: String]
    /// What to run when a tensor is missing or a comparison fails because the reference changed.
    let regenerate: String

    /// tiny_parity.safetensors: the `test` preset's weights, two input pairs, every output, loss term and gradient;
    /// the other variants are the same for a changed model (`ParityVariant`).
    static func parityPath(_ variant: ParityVariant = .base) -> String { fixturePath(variant.rawValue) }

    static func parity(_ variant: ParityVariant = .base) throws -> ParityFixture {
        try ParityFixture(path: parityPath(variant), regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_fixtures")
    }

    /// alignment_training_parity.safetensors: the flow losses and supervised EPE through the feature alignment
    /// (tiny_parity's weights, frames and loss config): aligned flows, loss terms and PyTorch's parameter gradients.
    static func alignmentTraining() throws -> ParityFixture {
        try ParityFixture(path: fixturePath("alignment_training_parity"),
                          regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_alignment_training_fixture")
    }

    /// backward_parity.safetensors: cotangents for every model output and PyTorch's parameter gradients.
    static func backward() throws -> ParityFixture {
        try ParityFixture(path: fixturePath("backward_parity"),
                          regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_backward_fixture")
    }

    /// refinement_parity.safetensors: the recurrent refinement's decoder (its weights, input features, cotangents,
    /// flows and PyTorch's gradients of parameters and features).
    static func refinement() throws -> ParityFixture {
        try ParityFixture(path: fixturePath("refinement_parity"),
                          regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_refinement_fixture")
    }

    /// fine_parity.safetensors: the fine head's decoder (as `refinement`, with level-2 features).
    static func fine() throws -> ParityFixture {
        try ParityFixture(path: fixturePath("fine_parity"),
                          regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_fine_fixture")
    }

    /// dense_parity.safetensors: the `test` preset with a local projector at level 3, its weights, two views of
    /// three items with their boxes, the matched cells, every content loss term with the dense loss at weight 0.7,
    /// and PyTorch's gradients of the parameters the content loss reaches.
    static func dense() throws -> ParityFixture {
        try ParityFixture(path: fixturePath("dense_parity"),
                          regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_dense_fixture")
    }

    static func denseModel() throws -> MCJEPAModel {
        try WeightsFile.load(path: fixturePath("dense_parity"), ignoringPrefixes: ["io.", "loss.", "grad."]).model
    }

    /// alignment_parity.safetensors: level-1 features of two frames, a full-size flow and PyTorch's aligned flows.
    static func alignment() throws -> ParityFixture {
        try ParityFixture(path: fixturePath("alignment_parity"),
                          regenerate: "regenerate with: cd Reference && python3 -m mcjepa.export_alignment_fixture")
    }

    /// The `test` model whose weights tiny_parity carries (beside them, the io./loss./grad. tensors are the fixture).
    static func parityModel(_ variant: ParityVariant = .base) throws -> MCJEPAModel {
        try WeightsFile.load(path: parityPath(variant), ignoringPrefixes: ["io.", "loss.", "grad."]).model
    }

    private static func fixturePath(_ name: String) -> String {
        Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures")!.path
    }

    private init(path: String, regenerate: String) throws {
        (tensors, metadata) = try Safetensors.read(path: path)
        self.regenerate = regenerate
    }

    /// The named tensor, or a thrown failure that says which one is missing and how to regenerate the fixture.
    func tensor(_ name: String) throws -> Tensor {
        try XCTUnwrap(tensors[name], "fixture lacks \(name); \(regenerate)")
    }

    /// `actual` against the fixture's tensor `name`: same shape, max |difference| <= 1e-4 max |expected| (plus a
    /// tiny absolute floor for all-zero tensors).
    func assertMatches(_ actual: Tensor, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try tensor(name)
        XCTAssertEqual(actual.shape, expected.shape, "\(name): shape differs from the fixture (\(regenerate))",
                       file: file, line: line)
        guard actual.shape == expected.shape else { return }
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in 0..<expected.count {
            maxDiff = max(maxDiff, abs(actual.data[i] - expected.data[i]))
            maxAbs = max(maxAbs, abs(expected.data[i]))
        }
        let tolerance = 1e-4 * maxAbs + 1e-7
        XCTAssertLessThanOrEqual(maxDiff, tolerance, "\(name): max difference \(maxDiff) exceeds \(tolerance) "
                                 + "(max |value| \(maxAbs)); if the reference changed, \(regenerate)", file: file, line: line)
    }

    /// Every parameter gradient of `model` (those whose names start with `prefix`) against the fixture's
    /// grad.<name>: max |difference| <= 1e-3 max |grad| (+ 1e-6 for all-zero gradients).
    func assertParameterGradientsMatch(_ model: MCJEPAModel, prefix: String = "", file: StaticString = #filePath,
                                       line: UInt = #line) throws {
        for spec in model.parameters.specs where spec.name.hasPrefix(prefix) {
            let expected = try tensor("grad.\(spec.name)"), actual = model.parameters.gradient(spec.name)
            XCTAssertEqual(actual.shape, expected.shape, spec.name, file: file, line: line)
            guard actual.shape == expected.shape else { continue }
            var maxDiff: Float = 0, maxAbs: Float = 0
            for i in 0..<expected.count {
                maxDiff = max(maxDiff, abs(actual.data[i] - expected.data[i]))
                maxAbs = max(maxAbs, abs(expected.data[i]))
            }
            XCTAssertLessThanOrEqual(maxDiff, 1e-3 * maxAbs + 1e-6,
                                     "grad.\(spec.name): max difference \(maxDiff), max |grad| \(maxAbs); \(regenerate)",
                                     file: file, line: line)
        }
    }
}
