import Foundation
import XCTest
@testable import NN

final class SafetensorsTests: XCTestCase {
    /// Builds a file image from a raw JSON header and data bytes.
    private func image(header: String, data: [UInt8]) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: data)
        return bytes
    }

    private func assertRejects(_ data: Data, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.parse(data, path: "bad.safetensors"), file: file, line: line) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix("bad.safetensors: "), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), "one-line error expected: \(text)", file: file, line: line)
            for word in words { XCTAssertTrue(text.contains(word), "\(text) should mention \(word)", file: file, line: line) }
        }
    }

    func test_write_then_read_round_trips_tensors_and_metadata() throws {
        let a = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-8, -7])
        let b = Tensor(shape: [4], values: [9, 8, 7, 6])
        let scalarless = Tensor(shape: [0, 3])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nn-roundtrip-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Safetensors.write(["encoder.w": a, "b\"quoted": b, "empty": scalarless], metadata: ["format": "pt"], to: path)
        let (tensors, metadata) = try Safetensors.read(path: path)
        XCTAssertEqual(metadata, ["format": "pt"])
        XCTAssertEqual(tensors["encoder.w"]?.shape, [2, 3])
        XCTAssertEqual(tensors["encoder.w"]?.array, a.array)
        XCTAssertEqual(tensors["b\"quoted"]?.array, b.array)
        XCTAssertEqual(tensors["empty"]?.shape, [0, 3])
    }

    func test_reads_half_bfloat_double_and_int64_as_float() throws {
        // F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 1.5 = 0x3FC0; F64 0.25; I64 -3.
        var data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0xC0, 0x3F]
        withUnsafeBytes(of: (0.25 as Double).bitPattern.littleEndian) { data += $0 }
        withUnsafeBytes(of: Int64(-3).littleEndian) { data += $0 }
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"bf":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"#
            + #""d":{"dtype":"F64","shape":[1],"data_offsets":[6,14]},"i":{"dtype":"I64","shape":[1],"data_offsets":[14,22]}}"#
        let (tensors, _) = try Safetensors.parse(image(header: header, data: data))
        XCTAssertEqual(tensors["h"]?.array, [1, -2])
        XCTAssertEqual(tensors["bf"]?.array, [1.5])
        XCTAssertEqual(tensors["d"]?.array, [0.25])
        XCTAssertEqual(tensors["i"]?.array, [-3])
    }

    func test_rejects_a_file_shorter_than_its_header_length() {
        assertRejects(Data([1, 2, 3]), mentioning: ["shorter"])
        var bytes = Data()
        withUnsafeBytes(of: UInt64(1000).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array("{}".utf8))
        assertRejects(bytes, mentioning: ["header length 1000"])
    }

    func test_rejects_offsets_outside_the_data_and_names_the_tensor() {
        let header = #"{"layer1.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        assertRejects(image(header: header, data: [UInt8](repeating: 0, count: 8)), mentioning: ["layer1.weight", "data_offsets"])
    }

    func test_rejects_a_byte_count_that_disagrees_with_the_shape() {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        assertRejects(image(header: header, data: [UInt8](repeating: 0, count: 8)), mentioning: ["w", "expected 12"])
    }

    func test_rejects_absurd_shapes_and_unknown_dtypes() {
        let huge = #"{"big":{"dtype":"F32","shape":[1000000,1000000,1000000],"data_offsets":[0,4]}}"#
        assertRejects(image(header: huge, data: [0, 0, 0, 0]), mentioning: ["big", "absurd shape"])
        let negative = #"{"neg":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#
        assertRejects(image(header: negative, data: [0, 0, 0, 0]), mentioning: ["neg", "shape"])
        let dtype = #"{"q":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#
        assertRejects(image(header: dtype, data: [0, 0, 0, 0]), mentioning: ["q", "dtype Q4"])
    }

    func test_rejects_a_header_that_is_not_json() {
        assertRejects(image(header: "{not json", data: []), mentioning: ["JSON"])
    }

    func test_missing_file_is_reported_with_its_path() {
        XCTAssertThrowsError(try Safetensors.read(path: "/nonexistent/model.safetensors")) { error in
            XCTAssertTrue(String(describing: error).hasPrefix("/nonexistent/model.safetensors: "))
        }
    }

    // Hostile files the reference implementation refuses, and values no model should hold.

    func test_rejects_offsets_at_two_to_the_64_instead_of_wrapping_them() {
        // 2^64 and 2^64 + 4 wrap to 0 and 4 through NSNumber.intValue, which would pass every bounds check.
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551616,18446744073709551620]}}"#
        assertRejects(image(header: header, data: [0, 0, 0, 0]), mentioning: ["w", "data_offsets"])
        let negative = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#
        assertRejects(image(header: negative, data: [0, 0, 0, 0]), mentioning: ["w", "data_offsets"])
    }

    func test_rejects_fractional_shapes_and_offsets() {
        let shape = #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#
        assertRejects(image(header: shape, data: [0, 0, 0, 0]), mentioning: ["w", "shape"])
        let offsets = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4.5]}}"#
        assertRejects(image(header: offsets, data: [0, 0, 0, 0, 0]), mentioning: ["w", "data_offsets"])
        let huge = #"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#
        assertRejects(image(header: huge, data: [0, 0, 0, 0]), mentioning: ["w", "shape"])
    }

    func test_rejects_overlapping_tensors() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        assertRejects(image(header: header, data: [UInt8](repeating: 0, count: 8)), mentioning: ["b", "overlap"])
        let same = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        assertRejects(image(header: same, data: [0, 0, 0, 0]), mentioning: ["overlap"])
    }

    func test_rejects_tensors_that_do_not_cover_the_data_exactly() {
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        assertRejects(image(header: gap, data: [UInt8](repeating: 0, count: 12)), mentioning: ["b", "unused"])
        let trailing = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        assertRejects(image(header: trailing, data: [UInt8](repeating: 0, count: 8)), mentioning: ["cover 4 of the 8 bytes"])
    }

    func test_rejects_nan_and_infinite_values_naming_the_tensor() {
        for bad in [Float.nan, .infinity, -.infinity] {
            var data: [UInt8] = []
            for value in [1, bad] as [Float] { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 } }
            let header = #"{"decoder.w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
            assertRejects(image(header: header, data: data), mentioning: ["decoder.w", "index 1", "not finite"])
        }
        // A finite F64 too large for Float becomes an infinity when converted: refused as well.
        var data: [UInt8] = []
        withUnsafeBytes(of: (1e300 as Double).bitPattern.littleEndian) { data += $0 }
        assertRejects(image(header: #"{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: data), mentioning: ["d", "not finite"])
    }

    func test_write_refuses_non_finite_values_and_writes_nothing() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nn-nan-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tensors = ["ok": Tensor(shape: [1], values: [1]), "bad": Tensor(shape: [2], values: [0, .nan])]
        XCTAssertThrowsError(try Safetensors.write(tensors, to: path)) { error in
            XCTAssertTrue(String(describing: error).contains("tensor bad"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
