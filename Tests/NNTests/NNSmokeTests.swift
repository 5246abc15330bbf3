import XCTest
@testable import NN
final class NNSmokeTests: XCTestCase {
    func test_module_links() { XCTAssertTrue(true) }
}
