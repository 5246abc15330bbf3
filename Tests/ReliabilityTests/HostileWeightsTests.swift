import Foundation
import XCTest

/// A weights file holding NaN or Inf is refused by `flow` naming the file and the tensor (exit 3), instead of
/// writing all-NaN flow with exit 0. (The container checks, offsets at 2^64 among them, are in NNTests'
/// SafetensorsTests; `average` on such files in MCJEPATests' WeightsAverageTests.)
final class HostileWeightsTests: ReliabilityTestCase {
    private let builtInWeights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/MCJEPA/Weights/mcjepa-tiny.safetensors").path

    func test_flow_refuses_weights_holding_nan_or_inf() throws {
        let clip = "\(samplesFolder)/realshort.mp4"
        for (value, name) in [(Float.nan, "nan.safetensors"), (-Float.infinity, "inf.safetensors")] {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: builtInWeights))
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange((bytes.count - 4)..<bytes.count, with: $0) }
            let hostile = file(name)
            try bytes.write(to: URL(fileURLWithPath: hostile))
            try assertRefused(["flow", clip, "-o", file("out"), "--model", hostile, "--max-side", "32", "--no-refine"],
                              status: 3, mentioning: [hostile, "tensor", "not finite"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: file("out")))
        }
    }
}
