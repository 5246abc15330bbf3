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

/// Several samples per cell: a finer level brought to a coarser grid is the mean of the map cells each grid cell
/// covers, not the middle a single bilinear tap would read.
final class FrameAlignedAreaAverageTests: XCTestCase {
    /// A 320x240 frame (padded to 320x256: 8 rows above) whose every level holds x^2 + 1000 y at map cell (y, x):
    /// quadratic in x, so a mean over cells differs from the value at their centre.
    func features(inferenceWidth: Int = 320, inferenceHeight: Int = 240) -> FrameFeatures {
        let padder = InputPadder(height: inferenceHeight, width: inferenceWidth)
        let pyramid = (1...ModelConfig.levelCount).map { level -> Tensor in
            let (h, w) = (padder.paddedHeight >> level, padder.paddedWidth >> level)
            var values = [Float]()
            for y in 0..<h { for x in 0..<w { values.append(Float(x * x + 1000 * y)) } }
            return Tensor(shape: [1, 1, h, w], values: values)
        }
        return FrameFeatures(pyramid: pyramid, width: 320, height: 240, inferenceWidth: inferenceWidth,
                             inferenceHeight: inferenceHeight, padder: padder)
    }

    func value(_ grid: FrameAlignedGrid, y: Int, x: Int) -> Float { grid.values[y * grid.width + x] }

    /// The mean of x^2 + 1000 y over map columns x0 ..< x0 + n and rows y0 ..< y0 + n.
    func mean(x0: Int, y0: Int, n: Int) -> Float {
        let squares = (x0..<(x0 + n)).reduce(0) { $0 + $1 * $1 }
        return Float(squares) / Float(n) + 1000 * (Float(y0) + Float(n - 1) / 2)
    }

    func test_a_finer_level_is_the_mean_of_the_map_cells_each_grid_cell_covers() {
        let features = features()
        // Level 2 (stride 4) on the stride-8 grid: grid cell (gy, gx) covers map rows 2gy+2, 2gy+3 (the 8 rows of
        // padding are 2 level-2 rows) and columns 2gx, 2gx+1.
        let level2 = features.frameAligned(level: 2, stride: 8, samplesPerCell: 2)
        XCTAssertEqual([level2.stride, level2.width, level2.height, level2.channels], [8, 40, 30, 1])
        for (y, x) in [(0, 0), (0, 39), (29, 0), (15, 17)] {
            XCTAssertEqual(value(level2, y: y, x: x), mean(x0: 2 * x, y0: 2 * y + 2, n: 2), accuracy: 1e-2, "cell \(x),\(y)")
        }
        // Level 1 (stride 2): 4 x 4 map cells per grid cell, rows 4gy+4 ..., columns 4gx ....
        let level1 = features.frameAligned(level: 1, stride: 8, samplesPerCell: 4)
        XCTAssertEqual([level1.width, level1.height], [40, 30])
        for (y, x) in [(0, 0), (29, 39), (7, 3)] {
            XCTAssertEqual(value(level1, y: y, x: x), mean(x0: 4 * x, y0: 4 * y + 4, n: 4), accuracy: 1e-2, "cell \(x),\(y)")
        }
        // One sample per cell reads only the block's two middle columns: (13^2 + 14^2) / 2 against the mean of
        // 12^2 ... 15^2, one less.
        let centre = features.frameAligned(level: 1, stride: 8)
        XCTAssertEqual(value(level1, y: 7, x: 3) - value(centre, y: 7, x: 3), 1, accuracy: 1e-2)
    }

    func test_one_sample_per_cell_is_the_single_tap_grid() {
        let features = features(inferenceWidth: 64, inferenceHeight: 48)
        XCTAssertEqual(features.frameAligned(level: 3, stride: 20, samplesPerCell: 1).values,
                       features.frameAligned(level: 3, stride: 20).values)
    }
}
