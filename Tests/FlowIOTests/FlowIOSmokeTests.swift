import XCTest
@testable import FlowIO
final class FlowIOSmokeTests: XCTestCase {
    func test_module_links() { XCTAssertTrue(true) }
}
