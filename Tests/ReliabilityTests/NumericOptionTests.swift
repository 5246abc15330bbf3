import Foundation
import XCTest

/// Absurd numbers are usage errors (exit 2) stating the range, refused before any file is opened or anything
/// allocated; each of these once crashed the tool (SIGILL/SIGABRT), started thousands of threads or tried to
/// allocate tens of gigabytes.
final class NumericOptionTests: ReliabilityTestCase {
    func test_start_and_duration_must_be_finite_seconds() throws {
        let clip = "\(samplesFolder)/realshort.mp4"
        for value in ["inf", "1e300", "nan", "-0.5"] {
            try assertRefused(["flow", clip, "-o", file("out"), "--start", value], status: 2, mentioning: ["--start"])
            try assertRefused(["render", clip, "--flow", folder, "-o", file("out.mp4"), "--start", value], status: 2,
                              mentioning: ["--start"])
        }
        for value in ["inf", "0", "nan", "1e300"] {
            try assertRefused(["flow", clip, "-o", file("out"), "--duration", value], status: 2, mentioning: ["--duration"])
        }
        XCTAssertEqual(leftovers, [], "nothing written, no hidden folder")
    }

    func test_threads_stride_and_sizes_are_capped_with_the_range_stated() throws {
        let clip = "\(samplesFolder)/realshort.mp4"
        try assertRefused(["flow", clip, "-o", file("out"), "--stride", "9223372036854775807"], status: 2,
                          mentioning: ["--stride", "1...1000"])
        try assertRefused(["flow", clip, "-o", file("out"), "--threads", "3000000000"], status: 2, mentioning: ["--threads", "1...256"])
        try assertRefused(["info", clip, "--count", "--threads", "100000"], status: 2, mentioning: ["--threads"])
        try assertRefused(["flow", clip, "-o", file("out"), "--max-side", "100000000"], status: 2, mentioning: ["--max-side"])
        try assertRefused(["preprocess", clip, "-o", file("shards"), "--size", "100000x100000"], status: 2,
                          mentioning: ["--size", "1...8192"])
        try assertRefused(["preprocess", clip, "-o", file("shards"), "--stride", "0"], status: 2, mentioning: ["--stride"])
        try assertRefused(["segment", clip, "--segments", "3", "--threads", "0"], status: 2, mentioning: ["--threads"])
        try assertRefused(["train", clip, "--out", file("run"), "--crop", "64x100032"], status: 2, mentioning: ["--crop"])
        try assertRefused(["train", clip, "--out", file("run"), "--lr", "nan"], status: 2, mentioning: ["--lr"])
        XCTAssertEqual(leftovers, [], "nothing written, no hidden folder")
    }
}
