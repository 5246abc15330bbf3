import XCTest
@testable import NN

final class TensorTests: XCTestCase {
    func test_a_recycled_large_buffer_comes_back_zeroed() {
        let shape = [1, 4, 128, 128]  // above the pool's minimum size
        var pointer: UnsafeMutablePointer<Float>?
        do {
            let first = Tensor(shape: shape, repeating: 7)
            pointer = first.data
        }
        let second = Tensor(shape: shape)
        XCTAssertEqual(second.data, pointer, "the freed buffer should have been reused")
        XCTAssertTrue(second.array.allSatisfy { $0 == 0 })
    }

    func test_reshaped_views_share_storage() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let view = t.reshaped([3, 2])
        view[5] = 60
        XCTAssertEqual(t[5], 60)
        XCTAssertEqual(view.shape, [3, 2])
        let copy = t.copy()
        copy[0] = -1
        XCTAssertEqual(t[0], 1)
    }
}
