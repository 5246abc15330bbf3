import Foundation
import XCTest
@testable import FlowIO

final class ZlibTests: XCTestCase {
    /// bytes 0...255 three times, "abc" x 120, 300 sevens: literals, long matches and overlapping runs.
    let original: [UInt8] = Array((0..<768).map { UInt8($0 % 256) }) + Array(String(repeating: "abc", count: 120).utf8)
        + [UInt8](repeating: 7, count: 300)
    /// `zlib.compress(original, 9)` from CPython's zlib.
    let level9 = "eNpjYGRiZmFlY+fg5OLm4eXjFxAUEhYRFROXkJSSlpGVk1dQVFJWUVVT19DU0tbR1dM3MDQyNjE1M7ewtLK2sbWzd3B0cnZxdXP38PTy9vH18w8IDAoOCQ0Lj4iMio6JjYtPSExKTklNS8/IzMrOyc3LLygsKi4pLSuvqKyqrqmtq29obGpuaW1r7+js6u7p7eufMHHS5ClTp02fMXPW7Dlz581fsHDR4iVLly1fsXLV6jVr163fsHHT5i1bt23fsXPX7j179+0/cPDQ4SNHjx0/cfLU6TNnz52/cPHS5StXr12/cfPW7Tt3791/8PDR4ydPnz1/8fLV6zdv373/8PHT5y9fv33/8fPX7z9///1nGPX/iPY/0HmjiA6IfRQQDQCKvhCj"

    func test_decodes_a_stream_written_by_zlib() throws {
        let compressed = [UInt8](Data(base64Encoded: level9)!)
        XCTAssertEqual(try Zlib.decompress(compressed, maxOutput: 1 << 20), original)
        XCTAssertEqual(try Zlib.decompress([UInt8](Data(base64Encoded: "eNrLSM3JyVfIQCcBaAMIsQ==")!), maxOutput: 100),
                       Array("hello hello hello hello".utf8))
    }

    func test_adler32_matches_zlib() {
        XCTAssertEqual(Zlib.adler32(original), 2_327_711_907)
        XCTAssertEqual(Zlib.crc32(Array("IEND".utf8)), 0xae42_6082)
    }

    func test_stored_streams_round_trip_across_block_boundaries() throws {
        let big = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let stream = Zlib.storedStream(big)
        XCTAssertEqual(stream.count, 2 + 150_000 + 3 * 5 + 4, "three stored blocks of at most 65535 bytes")
        XCTAssertEqual(try Zlib.decompress(stream, maxOutput: big.count), big)
        XCTAssertEqual(try Zlib.decompress(Zlib.storedStream([]), maxOutput: 0), [])
    }

    func test_output_beyond_the_limit_is_refused() {
        let compressed = [UInt8](Data(base64Encoded: level9)!)
        XCTAssertThrowsError(try Zlib.decompress(compressed, maxOutput: 1000))
    }

    func test_damaged_streams_throw_instead_of_crashing() {
        let good = [UInt8](Data(base64Encoded: level9)!)
        var state: UInt64 = 12345
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var failures = 0
        for _ in 0..<300 {
            var bytes = good
            for _ in 0..<(1 + next() % 4) { bytes[2 + next() % (bytes.count - 2)] = UInt8(next() & 0xff) }
            if next() % 3 == 0 { bytes = Array(bytes.prefix(next() % bytes.count)) }
            do {
                let out = try Zlib.decompress(bytes, maxOutput: 4096)
                XCTAssertLessThanOrEqual(out.count, 4096)
            } catch {
                failures += 1
            }
        }
        XCTAssertGreaterThan(failures, 250, "the Adler-32 check catches nearly every damaged stream")
    }
}
