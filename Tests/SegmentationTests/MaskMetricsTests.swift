import XCTest
@testable import Segmentation

/// J, F and their statistics on masks small enough to work out by hand.
final class MaskMetricsTests: XCTestCase {
    /// A width x height mask from the "1" characters of rows.
    func mask(_ rows: [String]) -> [Bool] { rows.flatMap { $0.map { $0 == "1" } } }

    let square = ["0000",
                  "0110",
                  "0110",
                  "0000"]

    func test_jaccard_is_intersection_over_union_and_one_for_two_empty_masks() {
        let a = mask(["1100", "1100", "0000", "0000"]), b = mask(["1110", "1110", "0000", "0000"])
        XCTAssertEqual(MaskMetrics.jaccard(a, b), 4.0 / 6.0, accuracy: 1e-12)
        let empty = [Bool](repeating: false, count: 16)
        XCTAssertEqual(MaskMetrics.jaccard(empty, empty), 1)
        XCTAssertEqual(MaskMetrics.jaccard(empty, a), 0)
    }

    func test_boundary_map_follows_seg2bmap_east_south_southeast_rule() {
        let boundary = MaskMetrics.boundaryMap(mask(square), width: 4, height: 4)
        XCTAssertEqual(boundary, mask(["1110",
                                       "1010",
                                       "1110",
                                       "0000"]))
    }

    func test_tolerance_is_ceil_of_0_008_times_the_diagonal() {
        XCTAssertEqual(MaskMetrics.boundaryTolerance(width: 854, height: 480), 8)  // 7.84 -> 8
        XCTAssertEqual(MaskMetrics.boundaryTolerance(width: 4, height: 4), 1)
        XCTAssertEqual(MaskMetrics.boundaryTolerance(width: 100, height: 0), 1)    // 0.8 -> 1
    }

    func test_f_measure_with_exact_and_one_pixel_tolerance() {
        // Truth boundary: 8 pixels (above). A single pixel at (1,1) has boundary {(0,0),(0,1),(1,0),(1,1)}.
        let truth = mask(square)
        let dot = mask(["0000", "0100", "0000", "0000"])
        // Tolerance 0: 3 of 4 predicted boundary pixels are on the truth boundary, 3 of 8 truth pixels are hit:
        // P = 3/4, R = 3/8, F = 2PR/(P+R) = 0.5.
        XCTAssertEqual(MaskMetrics.fMeasure(truth, dot, width: 4, height: 4, tolerance: 0), 0.5, accuracy: 1e-12)
        // Tolerance 1 (a plus-shaped disk): every predicted pixel matches, 7 of 8 truth pixels ((2,2) is 2 away).
        XCTAssertEqual(MaskMetrics.fMeasure(truth, dot, width: 4, height: 4, tolerance: 1), 14.0 / 15.0,
                       accuracy: 1e-12)
        // The default tolerance on 4x4 is 1.
        XCTAssertEqual(MaskMetrics.fMeasure(truth, dot, width: 4, height: 4), 14.0 / 15.0, accuracy: 1e-12)
    }

    func test_f_measure_conventions_for_empty_boundaries() {
        let empty = [Bool](repeating: false, count: 16)
        XCTAssertEqual(MaskMetrics.fMeasure(empty, empty, width: 4, height: 4), 1)
        XCTAssertEqual(MaskMetrics.fMeasure(mask(square), empty, width: 4, height: 4), 0)
        XCTAssertEqual(MaskMetrics.fMeasure(empty, mask(square), width: 4, height: 4), 0)
    }

    func test_disk_dilation_uses_dx2_plus_dy2_within_r2() {
        var single = [Bool](repeating: false, count: 49)
        single[24] = true
        let dilated = MaskMetrics.dilated(single, width: 7, height: 7, radius: 2)
        // Radius 2: rows of half-width 0, 1, 2, 1, 0 -> 1 + 3 + 5 + 3 + 1 = 13 pixels.
        XCTAssertEqual(dilated.filter { $0 }.count, 13)
        XCTAssertFalse(dilated[1 * 7 + 2], "(dy,dx) = (-2,-1) has 5 > 4")
        XCTAssertTrue(dilated[1 * 7 + 3])
    }

    func test_statistics_mean_recall_and_decay_follow_db_statistics() {
        // ids = round(linspace(1, 8, 5)) - 1 = 0, 2, 4, 5, 7: first bin frames 0...2, last bin 5...7.
        let stats = MeasureStatistics([1, 1, 1, 1, 0, 0, 0, 0])
        XCTAssertEqual(stats.mean, 0.5)
        XCTAssertEqual(stats.recall, 0.5)
        XCTAssertEqual(stats.decay, 1)
        let rising = MeasureStatistics([0, 0, 0, 0.6, 0.6, 0.6, 0.6, 0.6])
        XCTAssertEqual(rising.recall, 5.0 / 8.0)
        XCTAssertEqual(rising.decay, 0 - 0.6, accuracy: 1e-12)
    }
}
