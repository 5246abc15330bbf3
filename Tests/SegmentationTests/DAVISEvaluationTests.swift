import VideoIO
import XCTest
@testable import Segmentation

final class DAVISEvaluationTests: XCTestCase {
    func label(_ rows: [String]) -> LabelImage {
        LabelImage(width: rows[0].count, height: rows.count,
                   labels: rows.flatMap { $0.map { UInt8(String($0))! } })
    }

    func test_binary_255_masks_are_object_one_and_255_is_void_next_to_other_objects() {
        XCTAssertEqual(DAVISMasks.objectIDs([0, 255, 255]), [0, 1, 1])
        XCTAssertEqual(DAVISMasks.objectIDs([0, 1, 2, 255]), [0, 1, 2, 0])
        XCTAssertEqual(DAVISMasks.objectIDs([0, 3]), [0, 3])
    }

    func test_palette_masks_round_trip_through_label_png() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("seg-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let ids: [UInt8] = (0..<35).map { UInt8($0 % 4) }
        let path = folder.appendingPathComponent("m.png").path
        try DAVISMasks.write(ids, width: 7, height: 5, path: path)
        let read = try readLabelImage(path: path)
        XCTAssertEqual(read.labels, ids)
        XCTAssertEqual(read.width, 7)
        let palette = try XCTUnwrap(read.palette)
        XCTAssertEqual(Array(palette[3..<12]), [128, 0, 0, 0, 128, 0, 128, 128, 0], "DAVIS colours of 1, 2, 3")
        XCTAssertEqual(try DAVISMasks.read(path: path).labels, ids)
    }

    func test_palette_is_the_voc_davis_palette() {
        XCTAssertTrue(DAVISPalette.color(0) == (0, 0, 0))
        XCTAssertTrue(DAVISPalette.color(4) == (0, 0, 128))
        XCTAssertTrue(DAVISPalette.color(5) == (128, 0, 128))
        XCTAssertTrue(DAVISPalette.color(8) == (64, 0, 0))
        XCTAssertEqual(DAVISPalette.rgb.count, 768)
    }

    func test_sequence_score_skips_first_and_last_frames_and_averages_objects() throws {
        let truthMiddle = label(["1100", "1100", "0022", "0022"])
        let predictedMiddle = label(["1110", "1100", "0000", "0002"])
        // Object 1: J = 4/5; object 2: J = 1/4. The first and last frames are deliberately wrong.
        let wrong = label(["0000", "0000", "0000", "2222"])
        let truth = [truthMiddle, truthMiddle, truthMiddle]
        let result = try DAVISEvaluation.score(sequence: "s", truth: truth, predictions: [wrong, predictedMiddle, wrong])
        XCTAssertEqual(result.objects.count, 2)
        XCTAssertEqual(result.objects[0].j.mean, 0.8, accuracy: 1e-12)
        XCTAssertEqual(result.objects[1].j.mean, 0.25, accuracy: 1e-12)
        XCTAssertEqual(result.j, (0.8 + 0.25) / 2, accuracy: 1e-12)
        XCTAssertEqual(result.jAndF, (result.j + result.f) / 2, accuracy: 1e-12)
        let f1 = MaskMetrics.fMeasure(truthMiddle.labels.map { $0 == 1 }, predictedMiddle.labels.map { $0 == 1 },
                                      width: 4, height: 4)
        XCTAssertEqual(result.objects[0].f.mean, f1, accuracy: 1e-12)
    }

    func test_sequence_score_rejects_unknown_objects_and_size_mismatch() {
        let truth = label(["10", "00"])
        XCTAssertThrowsError(try DAVISEvaluation.score(sequence: "s", truth: [truth, truth, truth],
                                                       predictions: [truth, label(["20", "00"]), truth]))
        XCTAssertThrowsError(try DAVISEvaluation.score(sequence: "s", truth: [truth, truth, truth],
                                                       predictions: [truth, label(["100", "000"]), truth]))
    }
}

extension DAVISEvaluationTests {
    func test_sequences_need_three_frames_and_an_object_in_the_first() {
        let object = label(["10", "00"]), empty = label(["00", "00"])
        XCTAssertThrowsError(try DAVISEvaluation.score(sequence: "s", truth: [object, object],
                                                       predictions: [object, object]))
        XCTAssertThrowsError(try DAVISEvaluation.score(sequence: "s", truth: [empty, object, object],
                                                       predictions: [empty, object, object])) { error in
            XCTAssertEqual((error as? SegmentationError)?.reason, "the first annotation holds no object")
        }
    }
}
