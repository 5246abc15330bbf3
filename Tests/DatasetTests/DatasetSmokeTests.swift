import XCTest
@testable import Dataset
final class DatasetSmokeTests: XCTestCase {
    func test_module_links() { XCTAssertTrue(true) }
}
