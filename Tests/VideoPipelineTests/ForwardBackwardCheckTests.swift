import FlowIO
import XCTest

final class ForwardBackwardCheckTests: XCTestCase {
    /// A square moving 4 px right over a still background: the background the square covers in frame 2 is
    /// occluded, the square and the rest of the background are not.
    func test_occlusion_marks_the_background_the_moving_square_covers() {
        let (w, h) = (32, 16)
        var fu = [Float](repeating: 0, count: w * h), bu = fu
        let zeros = [Float](repeating: 0, count: w * h)
        for y in 4..<12 {
            for x in 8..<16 { fu[y * w + x] = 4 }       // frame 1: the square at x 8..<16 moves to 12..<20
            for x in 12..<20 { bu[y * w + x] = -4 }     // frame 2: the square at x 12..<20 came from 8..<16
        }
        let forward = FlowField(width: w, height: h, u: fu, v: zeros), backward = FlowField(width: w, height: h, u: bu, v: zeros)
        let mask = ForwardBackwardCheck.occlusion(forward: forward, backward: backward)
        XCTAssertEqual(mask[6 * w + 10], 0, "the square itself is visible")
        XCTAssertEqual(mask[6 * w + 2], 0, "still background far from the square is visible")
        XCTAssertEqual(mask[6 * w + 17], 255, "background covered by the square in frame 2 is occluded")
        XCTAssertEqual(mask[1 * w + 17], 0)
        let confidence = ForwardBackwardCheck.confidence(forward: forward, backward: backward)
        XCTAssertEqual(confidence[6 * w + 10], 1, accuracy: 1e-6)
        XCTAssertLessThan(confidence[6 * w + 17], Float(exp(-1.0)))
    }

    func test_pixels_that_leave_the_frame_are_occluded_with_zero_confidence() {
        let forward = FlowField(width: 4, height: 4, u: [Float](repeating: 10, count: 16), v: [Float](repeating: 0, count: 16))
        let backward = FlowField.zero(width: 4, height: 4)
        XCTAssertEqual(Set(ForwardBackwardCheck.occlusion(forward: forward, backward: backward)), [255])
        XCTAssertEqual(Set(ForwardBackwardCheck.confidence(forward: forward, backward: backward)), [0])
    }
}
