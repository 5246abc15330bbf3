import Foundation
import VideoIO
import XCTest
@testable import MCJEPA
@testable import Segmentation
@testable import VideoPipeline

/// The descriptor each `--appearance` of flow-guided propagation compares, on a random test model's features.
final class PropagationAppearanceTests: XCTestCase {
    /// A 60x44 frame (not a multiple of the stride: the last cells are partial) with a colour gradient and a
    /// red block, and the test model's features of it.
    func frame() -> (rgb: [UInt8], features: FrameFeatures, width: Int, height: Int) {
        let (width, height) = (60, 44)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let inside = (10..<30).contains(x) && (8..<24).contains(y)
                let pixel: [UInt8] = inside ? [220, 30, 30] : [UInt8(x * 4), UInt8(y * 5), 90]
                for c in 0..<3 { rgb[(y * width + x) * 3 + c] = pixel[c] }
            }
        }
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 7)
        let features = FlowEstimator(model: model).features(FrameImage(RGBImage(width: width, height: height, rgb: rgb)))
        return (rgb, features, width, height)
    }

    func test_features_is_the_models_level_and_colour_the_colour_patches_on_the_same_grid() throws {
        let (rgb, features, width, height) = frame()
        let model = frameAlignedFeatures(features, level: 3)
        let (featureMaps, featureStride) = PropagationAppearance.features.cues(features, levels: .single(3), rgb: rgb)
        let featureMap = try XCTUnwrap(featureMaps.first)
        XCTAssertEqual(featureMaps.count, 1)
        XCTAssertEqual(featureStride, 8)
        XCTAssertEqual(featureMap.values, model.map.values, "--appearance features is the old propagation's input")
        let (colourMaps, colourStride) = PropagationAppearance.colour.cues(features, levels: .single(3), rgb: rgb)
        let colourMap = try XCTUnwrap(colourMaps.first)
        XCTAssertEqual(colourMaps.count, 1)
        // separate: the same two maps as two cues.
        let (separate, separateStride) = PropagationAppearance.separate.cues(features, levels: .single(3), rgb: rgb)
        XCTAssertEqual(separateStride, 8)
        XCTAssertEqual(separate.map(\.values), [featureMap.values, colourMap.values])
        XCTAssertEqual(colourStride, 8)
        XCTAssertEqual(colourMap.values, ColourPatchFeatures.features(rgb: rgb, width: width, height: height, stride: 8).values)
        XCTAssertEqual([colourMap.height, colourMap.width], [model.map.height, model.map.width])
        XCTAssertEqual([colourMap.height, colourMap.width], [6, 8])
    }

    func test_both_joins_the_two_with_equal_weight() {
        let (rgb, features, width, height) = frame()
        let model = frameAlignedFeatures(features, level: 3).map
        let colour = ColourPatchFeatures.features(rgb: rgb, width: width, height: height, stride: 8)
        let (joined, stride) = PropagationAppearance.both.cues(features, levels: .single(3), rgb: rgb)
        XCTAssertEqual(joined.count, 1)
        let both = joined[0]
        XCTAssertEqual(stride, 8)
        XCTAssertEqual([both.channels, both.height, both.width], [model.channels + 12, model.height, model.width])
        let cells = both.height * both.width
        for cell in 0..<cells {
            var modelNorm: Float = 0, colourNorm: Float = 0, rawModelNorm: Float = 0
            for c in 0..<model.channels {
                modelNorm += both.values[c * cells + cell] * both.values[c * cells + cell]
                rawModelNorm += model.values[c * cells + cell] * model.values[c * cells + cell]
            }
            for c in 0..<12 {
                let value = both.values[(model.channels + c) * cells + cell]
                colourNorm += value * value
            }
            XCTAssertEqual(modelNorm, 0.5, accuracy: 1e-4, "cell \(cell): the model's part")
            XCTAssertEqual(colourNorm, 0.5, accuracy: 1e-4, "cell \(cell): the colour part")
            // The parts are the sources scaled: the first channel of each, relative to its norm.
            let half: Float = 0.5
            let modelScale = half.squareRoot() / rawModelNorm.squareRoot()
            XCTAssertEqual(both.values[cell], model.values[cell] * modelScale, accuracy: 1e-5)
            var rawColourNorm: Float = 0
            for c in 0..<12 { rawColourNorm += colour.values[c * cells + cell] * colour.values[c * cells + cell] }
            let colourScale = half.squareRoot() / rawColourNorm.squareRoot()
            XCTAssertEqual(both.values[model.channels * cells + cell], colour.values[cell] * colourScale, accuracy: 1e-5)
        }
    }

    func test_a_shrunk_frame_gets_colour_patches_at_the_grids_stride() {
        let (rgb, _, width, height) = frame()
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 7)
        // --max-side 30 halves the frame for the network: level 3 stands for 16 frame pixels.
        let features = FlowEstimator(model: model, maxSide: 30).features(FrameImage(RGBImage(width: width, height: height, rgb: rgb)))
        let (maps, stride) = PropagationAppearance.separate.cues(features, levels: .single(3), rgb: rgb)
        XCTAssertEqual(stride, 16)
        for map in maps { XCTAssertEqual([map.height, map.width], [3, 4]) }
    }
}
