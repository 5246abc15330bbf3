import XCTest
@testable import MCJEPA
final class MCJEPASmokeTests: XCTestCase {
    func test_module_links() { XCTAssertTrue(true) }
}
