import Foundation
import XCTest
@testable import FlowIO

final class FlowSetComparisonTests: XCTestCase {
    /// Zero flow against the tiny set's predictions: pair a's baseline is exact (EPE 0, floored), pair b's is 4/3.
    func test_comparison_gives_per_pair_ratios_their_geometric_mean_and_pairs_won() throws {
        let tiny = try TinyFlowSet(self)
        let zero = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .zero)
        let folder = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .folder(tiny.predictions))
        let comparison = try FlowSetComparison(folder, baseline: zero)
        XCTAssertEqual(comparison.pairs.map(\.pair), ["a", "b"])
        XCTAssertEqual(comparison.pairs[0].ratio, FlowSetComparison.epeFloor / 3, accuracy: 1e-12)
        XCTAssertEqual(comparison.pairs[1].ratio, (4.0 / 3) / (53.0 / 3), accuracy: 1e-5)
        let expected = sqrt(comparison.pairs[0].ratio * comparison.pairs[1].ratio)
        XCTAssertEqual(comparison.geometricMeanRatio, expected, accuracy: 1e-9)
        XCTAssertEqual(comparison.pairsWon, 2)
        XCTAssertEqual(comparison.mean, folder.mean)
        XCTAssertEqual(comparison.baselineMean, zero.mean)

        let reversed = try FlowSetComparison(zero, baseline: folder)
        XCTAssertEqual(reversed.pairsWon, 0)
        XCTAssertEqual(reversed.geometricMeanRatio, 1 / expected, accuracy: 1e-6)
    }

    func test_comparison_of_reports_over_different_pairs_is_refused() throws {
        let tiny = try TinyFlowSet(self)
        let zero = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .zero)
        var fewer = zero
        fewer.pairs.removeLast()
        XCTAssertThrowsError(try FlowSetComparison(zero, baseline: fewer))
    }

    func test_json_and_table_carry_the_summary() throws {
        let tiny = try TinyFlowSet(self)
        let zero = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .zero)
        let folder = try FlowSetEvaluation.evaluate(set: tiny.set, predictions: .folder(tiny.predictions))
        let comparison = try FlowSetComparison(folder, baseline: zero)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(comparison.json.utf8)) as? [String: Any])
        XCTAssertEqual(object["pairs_won"] as? Int, 2)
        XCTAssertEqual(try XCTUnwrap(object["geometric_mean_ratio"] as? Double), comparison.geometricMeanRatio, accuracy: 1e-9)
        XCTAssertNotNil((object["baseline_mean"] as? [String: Any])?["fl_all"])
        XCTAssertTrue(comparison.table.contains("pairs won 2 of 2"), comparison.table)
    }
}
