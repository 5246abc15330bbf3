import NN
import VideoIO
import XCTest
@testable import MCJEPA
@testable import Segmentation
@testable import VideoPipeline

/// `--levels`: several encoder levels as one descriptor map on one level's grid, each level weighing the same.
final class FeatureLevelsTests: XCTestCase {
    /// A 320x240 frame (padded to 320x256: 8 rows above) seen at `inferenceWidth` x `inferenceHeight`, whose
    /// levels hold known vectors: level 2, (1, 0) in even map columns and (1, 2) in odd ones; level 3, (3, 0, 4)
    /// everywhere; level 4, (1, map row); the other levels, 1.
    func features(inferenceWidth: Int = 320, inferenceHeight: Int = 240) -> FrameFeatures {
        let padder = InputPadder(height: inferenceHeight, width: inferenceWidth)
        let pyramid = (1...ModelConfig.levelCount).map { level -> Tensor in
            let (h, w) = (padder.paddedHeight >> level, padder.paddedWidth >> level)
            let channels: [(Int, Int) -> Float]
            switch level {
            case 2: channels = [{ _, _ in 1 }, { _, x in x % 2 == 0 ? 0 : 2 }]
            case 3: channels = [{ _, _ in 3 }, { _, _ in 0 }, { _, _ in 4 }]
            case 4: channels = [{ _, _ in 1 }, { y, _ in Float(y) }]
            default: channels = [{ _, _ in 1 }]
            }
            var values = [Float]()
            for channel in channels { for y in 0..<h { for x in 0..<w { values.append(channel(y, x)) } } }
            return Tensor(shape: [1, channels.count, h, w], values: values)
        }
        return FrameFeatures(pyramid: pyramid, width: 320, height: 240, inferenceWidth: inferenceWidth,
                             inferenceHeight: inferenceHeight, padder: padder)
    }

    /// Cell (y, x)'s vector, channel by channel.
    func vector(_ map: FeatureMap, y: Int, x: Int) -> [Float] {
        (0..<map.channels).map { map.values[($0 * map.height + y) * map.width + x] }
    }

    func test_three_levels_on_the_stride_8_grid_are_resampled_unit_length_and_equally_weighted() {
        let (map, stride) = FeatureLevels(grid: 3, levels: [4, 2, 3]).map(features())
        XCTAssertEqual(stride, 8)
        XCTAssertEqual([map.channels, map.height, map.width], [2 + 3 + 2, 30, 40])
        let third = (1 / Float(3)).squareRoot()
        for (y, x) in [(0, 0), (10, 7), (29, 39)] {
            let cell = vector(map, y: y, x: x)
            // Level 2: each cell averages an even and an odd map column, (1, 1), scaled to unit length.
            let fine = (1 / Float(2)).squareRoot() * third
            // Level 4 at the cell centre: frame row 8y + 4, padded 8y + 12, map row (8y + 12) / 16 - 0.5.
            let row = Float(8 * y + 12) / 16 - 0.5, coarseNorm = (1 + row * row).squareRoot()
            let expected: [Float] = [fine, fine, 0.6 * third, 0, 0.8 * third, third / coarseNorm, third * row / coarseNorm]
            for (got, want) in zip(cell, expected) { XCTAssertEqual(got, want, accuracy: 1e-5, "cell \(x),\(y): \(cell)") }
        }
        // The cosine of two cells is the mean of the levels' cosines: here levels 2 and 3 agree (1) and level 4's
        // cosine is that of (1, r0) and (1, r1).
        let (a, b) = (vector(map, y: 0, x: 0), vector(map, y: 20, x: 5))
        let (r0, r1): (Float, Float) = (0.25, Float(8 * 20 + 12) / 16 - 0.5)
        let coarseCosine = (1 + r0 * r1) / ((1 + r0 * r0).squareRoot() * (1 + r1 * r1).squareRoot())
        XCTAssertEqual(zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }, (1 + 1 + coarseCosine) / 3, accuracy: 1e-5)
    }

    func test_the_grid_follows_the_grid_level_on_a_shrunk_frame() {
        // The network saw the frame at half size: level 3 stands for 16 frame pixels, and so does the joined map.
        let features = features(inferenceWidth: 160, inferenceHeight: 120)
        let single = frameAlignedFeatures(features, level: 3)
        let (joined, stride) = FeatureLevels(grid: 3, levels: [2, 3, 4]).map(features)
        XCTAssertEqual(single.stride, 16)
        XCTAssertEqual(stride, 16)
        XCTAssertEqual([joined.height, joined.width], [single.map.height, single.map.width])
        // Levels need not include the grid's: level 4 alone, upsampled onto level 3's grid.
        let (coarse, coarseStride) = FeatureLevels(grid: 3, levels: [4]).map(features)
        XCTAssertEqual(coarseStride, 16)
        XCTAssertEqual([coarse.channels, coarse.height, coarse.width], [2, single.map.height, single.map.width])
    }

    func test_one_level_on_its_own_grid_is_the_single_level_map_unchanged() {
        let model = MCJEPAModel(config: .test)
        model.initializeRandomly(seed: 3)
        var rgb = [UInt8](repeating: 0, count: 60 * 44 * 3)
        for i in rgb.indices { rgb[i] = UInt8(truncatingIfNeeded: i * 37 ^ (i >> 5)) }
        let features = FlowEstimator(model: model).features(FrameImage(RGBImage(width: 60, height: 44, rgb: rgb)))
        for level in 1...ModelConfig.levelCount {
            let levels = FeatureLevels(grid: level, levels: [level])
            XCTAssertEqual(levels, .single(level))
            XCTAssertTrue(levels.isSingle)
            XCTAssertEqual(levels.description, "level \(level)")
            let (map, stride) = levels.map(features)
            let reference = frameAlignedFeatures(features, level: level)
            XCTAssertEqual(stride, reference.stride)
            XCTAssertEqual(map.values, reference.map.values, "level \(level): not rescaled, not resampled")
        }
        XCTAssertEqual(FeatureLevels(grid: 3, levels: [4, 2, 3]).description, "levels 2+3+4 on level 3's grid")
    }
}
