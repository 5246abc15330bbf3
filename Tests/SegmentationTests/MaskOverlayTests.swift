import XCTest
@testable import Segmentation

final class MaskOverlayTests: XCTestCase {
    func test_fill_is_translucent_outline_is_solid_and_background_untouched() {
        let width = 8, height = 8
        let rgb = [UInt8](repeating: 100, count: width * height * 3)
        // A 6x6 object (id 2, dark green 0,128,0) at x, y in 1...6.
        let labels = (0..<64).map { i -> UInt8 in (1...6).contains(i % 8) && (1...6).contains(i / 8) ? 2 : 0 }
        let out = MaskOverlay.draw(rgb: rgb, width: width, height: height, labels: labels, opacity: 0.5,
                                   outlineWidth: 1)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(out[((y * width + x) * 3)..<((y * width + x) * 3 + 3)]) }
        XCTAssertEqual(pixel(0, 0), [100, 100, 100], "background unchanged")
        XCTAssertEqual(pixel(1, 1), [0, 128, 0], "outline in the palette colour")
        XCTAssertEqual(pixel(6, 3), [0, 128, 0], "outline on the right edge of the object")
        XCTAssertEqual(pixel(3, 3), [50, 114, 50], "fill: half frame, half colour")
    }

    func test_thicker_outline_and_objects_cut_by_the_border() {
        let labels: [UInt8] = [1, 1, 1, 1, 0,
                               1, 1, 1, 1, 0]
        let outline = MaskOverlay.outlineMask(labels, width: 5, height: 2, thickness: 2)
        // Only pixels within 2 columns of the background on the right are outline; the frame edge is not.
        XCTAssertEqual(outline, [false, false, true, true, false,
                                 false, false, true, true, false])
    }
}
