import NN
import XCTest
@testable import MCJEPA

/// The frame-aligned grid undoes the padding and the --max-side shrink: a grid cell holds the features the
/// network computed for the same frame pixels.
final class FrameAlignedGridTests: XCTestCase {
    /// A pyramid whose level-3 value at (c, y, x) of the padded map encodes its position, so any misplacement shows.
    func features(width: Int, height: Int, inferenceWidth: Int, inferenceHeight: Int) -> FrameFeatures {
        let padder = InputPadder(height: inferenceHeight, width: inferenceWidth)
        let pyramid = (1...ModelConfig.levelCount).map { level -> Tensor in
            let (h, w) = (padder.paddedHeight >> level, padder.paddedWidth >> level)
            var values = [Float]()
            for c in 0..<2 { for y in 0..<h { for x in 0..<w { values.append(Float(c * 10000 + y * 100 + x)) } } }
            return Tensor(shape: [1, 2, h, w], values: values)
        }
        return FrameFeatures(pyramid: pyramid, width: width, height: height, inferenceWidth: inferenceWidth,
                             inferenceHeight: inferenceHeight, padder: padder)
    }

    func value(_ grid: FrameAlignedGrid, c: Int, y: Int, x: Int) -> Float {
        grid.values[c * grid.height * grid.width + y * grid.width + x]
    }

    func testFullSizePaddedFrameDropsThePaddingRows() {
        // 320x240 pads to 320x256: 8 rows above (one level-3 row), 8 below.
        let grid = features(width: 320, height: 240, inferenceWidth: 320, inferenceHeight: 240).frameAligned(level: 3)
        XCTAssertEqual([grid.stride, grid.width, grid.height, grid.channels], [8, 40, 30, 2])
        for (y, x) in [(0, 0), (0, 39), (29, 0), (15, 17)] {
            XCTAssertEqual(value(grid, c: 0, y: y, x: x), Float((y + 1) * 100 + x), "cell \(x),\(y)")
            XCTAssertEqual(value(grid, c: 1, y: y, x: x), Float(10000 + (y + 1) * 100 + x))
        }
    }

    func testShrunkFrameUsesTheNetworksCellSizeInFramePixels() {
        // --max-side 64: the network sees 64x48, padded to 64x64 (8 rows above); a level-3 cell is 40 frame pixels.
        let grid = features(width: 320, height: 240, inferenceWidth: 64, inferenceHeight: 48).frameAligned(level: 3)
        XCTAssertEqual([grid.stride, grid.width, grid.height], [40, 8, 6])
        for y in 0..<6 { for x in 0..<8 { XCTAssertEqual(value(grid, c: 0, y: y, x: x), Float((y + 1) * 100 + x)) } }
    }

    func testFixedStrideInterpolatesBetweenCells() {
        // Stride 20 on the shrunk frame: two grid cells per network cell, centres a quarter cell either side.
        let grid = features(width: 320, height: 240, inferenceWidth: 64, inferenceHeight: 48).frameAligned(level: 3, stride: 20)
        XCTAssertEqual([grid.stride, grid.width, grid.height], [20, 16, 12])
        // Cell x = 3: centre at frame x 70 -> network x 14 -> map 14 / 8 - 0.5 = 1.25; y = 5: 110 -> 22 + 8 pad
        // -> 30 / 8 - 0.5 = 3.25; the map holds 100 y + x, which bilinear sampling reproduces exactly.
        XCTAssertEqual(value(grid, c: 0, y: 5, x: 3), 326.25, accuracy: 1e-3)
        // Cell (0, 0): x = 10 -> 2 -> -0.25, left of the map's first centre, clamped to 0; y = 10 -> 2 + 8 -> 0.75.
        XCTAssertEqual(value(grid, c: 0, y: 0, x: 0), 75, accuracy: 1e-3)
    }
}
