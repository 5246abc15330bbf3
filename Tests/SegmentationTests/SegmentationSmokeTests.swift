import XCTest
@testable import Segmentation
final class SegmentationSmokeTests: XCTestCase {
    func test_module_links() { XCTAssertTrue(true) }
}
