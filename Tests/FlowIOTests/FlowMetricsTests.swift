import XCTest
@testable import FlowIO

final class FlowMetricsTests: XCTestCase {
    // Ground truth: 5 pixels, the last unknown. Prediction errors, by construction: 0.5, 2, 4, 10 (and the
    // unknown pixel, which must not count).
    let truth = FlowField(width: 5, height: 1, u: [0, 0, 100, 3, 7], v: [0, 0, 0, 4, 7],
                          valid: [true, true, true, true, false])
    let prediction = FlowField(width: 5, height: 1, u: [0.5, 0, 104, 3, 1000], v: [0, -2, 0, -6, 0])

    func test_endpoint_errors_per_pixel() throws {
        let errors = try FlowMetrics.endpointErrors(prediction: prediction, groundTruth: truth)
        XCTAssertEqual(Array(errors[0..<4]), [0.5, 2, 4, 10])
        XCTAssertTrue(errors[4].isNaN)
    }

    func test_scores_on_a_hand_made_field() throws {
        let s = try XCTUnwrap(FlowMetrics.scores(prediction: prediction, groundTruth: truth))
        XCTAssertEqual(s.validPixels, 4)
        XCTAssertEqual(s.epe, (0.5 + 2 + 4 + 10) / 4, accuracy: 1e-6)
        XCTAssertEqual(s.px1, 0.25)
        XCTAssertEqual(s.px3, 0.5)
        XCTAssertEqual(s.px5, 0.75)
        // Error 4 is > 3 px but only 4% of |gt| = 100: not an outlier. Error 10 at |gt| = 5 is.
        XCTAssertEqual(s.flAll, 0.25)
        // Speeds 0, 0 and 5 are under 10 px, 100 is over 40; nothing moves 10-40 px.
        XCTAssertEqual(try XCTUnwrap(s.epeSlow), (0.5 + 2 + 10) / 3, accuracy: 1e-6)
        XCTAssertNil(s.epeMedium)
        XCTAssertEqual(try XCTUnwrap(s.epeFast), 4, accuracy: 1e-6)
    }

    func test_speed_bands_follow_sintel_boundaries() throws {
        // Speeds 9.99 | 10 and 40 | 40.01, each predicted with a different error (1, 2, 3, 4) along v.
        let gt = FlowField(width: 4, height: 1, u: [9.99, 10, 40, 40.01], v: [0, 0, 0, 0])
        let pred = FlowField(width: 4, height: 1, u: [9.99, 10, 40, 40.01], v: [1, 2, 3, 4])
        let s = try XCTUnwrap(FlowMetrics.scores(prediction: pred, groundTruth: gt))
        for (band, expected) in zip(s.epeBySpeed, [1, 2.5, 4]) {
            XCTAssertEqual(try XCTUnwrap(band), expected, accuracy: 1e-5)
        }
    }

    func test_outlier_needs_both_3px_and_5_percent() throws {
        // |gt| = 50: an error of 3.5 px is > 3 px and 7% of |gt|: outlier. |gt| = 80: 3.5 px is 4.4%: not.
        let gt = FlowField(width: 2, height: 1, u: [50, 80], v: [0, 0])
        let pred = FlowField(width: 2, height: 1, u: [53.5, 83.5], v: [0, 0])
        XCTAssertEqual(try XCTUnwrap(FlowMetrics.scores(prediction: pred, groundTruth: gt)).flAll, 0.5)
    }

    func test_zero_prediction_error_is_the_ground_truth_magnitude() throws {
        let s = try XCTUnwrap(FlowMetrics.scores(prediction: .zero(width: 5, height: 1), groundTruth: truth))
        XCTAssertEqual(s.epe, (0 + 0 + 100 + 5) / 4, accuracy: 1e-6)
    }

    func test_unknown_prediction_pixels_count_as_zero_motion() throws {
        var holes = prediction
        holes.valid[2] = false
        let errors = try FlowMetrics.endpointErrors(prediction: holes, groundTruth: truth)
        XCTAssertEqual(errors[2], 100)
    }

    func test_ground_truth_without_known_pixels_has_no_score_and_sizes_must_match() throws {
        let empty = FlowField(width: 1, height: 1, u: [1], v: [1], valid: [false])
        XCTAssertNil(try FlowMetrics.scores(prediction: .zero(width: 1, height: 1), groundTruth: empty))
        XCTAssertThrowsError(try FlowMetrics.scores(prediction: .zero(width: 2, height: 1), groundTruth: empty))
    }

    func test_mean_weighs_each_pair_equally() throws {
        let a = FlowScores(epe: 1, px1: 1, px3: 1, px5: 1, flAll: 0, validPixels: 10)
        let b = FlowScores(epe: 3, px1: 0, px3: 0.5, px5: 1, flAll: 1, validPixels: 1000)
        let mean = try XCTUnwrap(FlowMetrics.mean([a, b]))
        XCTAssertEqual(mean.epe, 2)
        XCTAssertEqual(mean.px3, 0.75)
        XCTAssertEqual(mean.flAll, 0.5)
        XCTAssertEqual(mean.validPixels, 1010)
    }

    func test_speed_band_mean_is_over_the_pairs_that_have_the_band() throws {
        let a = FlowScores(epe: 1, px1: 1, px3: 1, px5: 1, flAll: 0, validPixels: 10, epeSlow: 1, epeMedium: nil, epeFast: 6)
        let b = FlowScores(epe: 3, px1: 0, px3: 0.5, px5: 1, flAll: 1, validPixels: 1000, epeSlow: 3, epeMedium: nil, epeFast: nil)
        let mean = try XCTUnwrap(FlowMetrics.mean([a, b]))
        XCTAssertEqual(mean.epeSlow, 2)
        XCTAssertNil(mean.epeMedium)
        XCTAssertEqual(mean.epeFast, 6)
    }
}
