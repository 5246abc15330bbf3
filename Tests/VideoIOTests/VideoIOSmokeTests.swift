import XCTest
@testable import VideoIO
final class VideoIOSmokeTests: XCTestCase {
    func test_module_links() { XCTAssertTrue(true) }
}
