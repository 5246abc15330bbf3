import NN
import XCTest

final class SplitMix64Tests: XCTestCase {
    func test_the_stream_is_the_published_splitmix64() {
        // The first outputs of SplitMix64 from state 0, as in Vigna's reference splitmix64.c.
        var generator = SplitMix64(state: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
    }

    func test_a_saved_state_resumes_the_stream() {
        var generator = SplitMix64(seed: 7)
        _ = generator.next()
        var resumed = SplitMix64(state: generator.state)
        XCTAssertEqual((0..<5).map { _ in resumed.next() }, (0..<5).map { _ in generator.next() })
        XCTAssertNotEqual(SplitMix64(seed: 1).state, SplitMix64(seed: 2).state)
    }

    func test_uniform_and_below_stay_in_range() {
        var generator = SplitMix64(seed: 3)
        for _ in 0..<1000 {
            let u = generator.uniform(-2, 3)
            XCTAssertTrue(u >= -2 && u < 3)
            XCTAssertTrue((0..<7).contains(generator.below(7)))
        }
    }
}
