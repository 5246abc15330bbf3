import FlowIO
import XCTest
@testable import Segmentation

/// Flow-guided propagation must not shrink an object frame after frame: what it carries to the next frame is its
/// decision, not soft maps that the guided filter and the warp blur again every frame.
final class CarriedDecisionTests: XCTestCase {
    let (width, height) = (160, 120)

    /// A disc that differs little from the background (a weak edge, where the guided filter blurs), moving 3 px
    /// right and 1 px down a frame.
    func frame(_ t: Int) -> (rgb: [UInt8], mask: [UInt8]) {
        let (cx, cy, radius) = (40 + 3 * t, 50 + t, 22)
        var rgb = [UInt8](repeating: 0, count: width * height * 3), mask = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius
                let base = 110 + (x + 2 * y) % 7  // a faint texture on both
                let p = (y * width + x) * 3
                (rgb[p], rgb[p + 1], rgb[p + 2]) = inside ? (UInt8(base + 9), UInt8(base + 4), UInt8(base)) : (UInt8(base), UInt8(base), UInt8(base))
                if inside { mask[y * width + x] = 1 }
            }
        }
        return (rgb, mask)
    }

    /// The disc's motion inside it, none outside.
    func flow(_ mask: [UInt8], dx: Float, dy: Float) -> FlowField {
        FlowField(width: width, height: height, u: mask.map { $0 == 1 ? dx : 0 }, v: mask.map { $0 == 1 ? dy : 0 })
    }

    func areaRatioAfter(frames: Int, carriesDecision: Bool) throws -> Double {
        let first = frame(0)
        let propagation = try FlowGuidedPropagation(
            firstFeatures: ColourPatchFeatures.features(rgb: first.rgb, width: width, height: height, stride: 8),
            firstMask: first.mask, frameWidth: width, frameHeight: height,
            configuration: .init(affinity: .init(stride: 8), fusion: .confidence, carriesDecision: carriesDecision))
        var previousMask = first.mask, ratio = 1.0
        for t in 1...frames {
            let current = frame(t)
            let predicted = try propagation.propagate(
                ColourPatchFeatures.features(rgb: current.rgb, width: width, height: height, stride: 8), rgb: current.rgb,
                backward: flow(current.mask, dx: -3, dy: -1), forward: flow(previousMask, dx: 3, dy: 1))
            previousMask = current.mask
            ratio = Double(predicted.filter { $0 == 1 }.count) / Double(current.mask.filter { $0 == 1 }.count)
        }
        return ratio
    }

    func test_an_object_keeps_its_area_over_many_frames() throws {
        // With the true motion as flow, the carried decision keeps the disc's area over 30 frames; the soft maps,
        // blurred again each frame by the guided filter at the weak edge, lose more than a tenth of it.
        let decision = try areaRatioAfter(frames: 30, carriesDecision: true)
        let softMaps = try areaRatioAfter(frames: 30, carriesDecision: false)
        XCTAssertEqual(decision, 1, accuracy: 0.05)
        XCTAssertLessThan(softMaps, 0.9)
    }
}
