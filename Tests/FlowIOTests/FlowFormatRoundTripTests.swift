import Foundation
import XCTest
@testable import FlowIO

final class FlowFormatRoundTripTests: XCTestCase {
    func roundTrip(_ flow: FlowField, ext: String) throws -> FlowField {
        let url = try makeTemporaryFolder(self).appendingPathComponent("flow.\(ext)")
        try FlowFile.write(flow, to: url)
        return try FlowFile.read(url)
    }

    func test_flo_round_trips_values_and_unknown_pixels() throws {
        let flow = sampleFlow()
        XCTAssertEqual(try roundTrip(flow, ext: "flo"), flow)
    }

    func test_kitti_png_round_trips_values_and_unknown_pixels() throws {
        let flow = sampleFlow(width: 9, height: 4, unknown: [0, 8, 35])
        XCTAssertEqual(try roundTrip(flow, ext: "png"), flow)
    }

    func test_kitti_png_is_written_compressed() throws {
        // A smooth 128x96 flow, as real flow is: the deflated, Paeth-predicted file is far below the 6 bytes per
        // pixel of its raw samples (uncompressed "stored" blocks would be above them).
        var u = [Float](), v = [Float]()
        for y in 0..<96 {
            for x in 0..<128 {
                u.append((Float(x) / 8 - Float(y) / 16).rounded() / 4)
                v.append((Float(y) / 10).rounded() / 2 - 3)
            }
        }
        let flow = FlowField(width: 128, height: 96, u: u, v: v)
        let bytes = try FlowFile.encode(flow, format: .png)
        XCTAssertLessThan(bytes.count, 128 * 96 * 6 / 10, "\(bytes.count) bytes")
        XCTAssertEqual(try FlowFile.decode(bytes, format: .png, name: "smooth.png"), flow)
    }

    func test_npy_round_trips_values_and_unknown_pixels() throws {
        let flow = sampleFlow()
        XCTAssertEqual(try roundTrip(flow, ext: "npy"), flow)
    }

    func test_pfm_round_trips_values_and_unknown_pixels() throws {
        let flow = sampleFlow(width: 3, height: 6, unknown: [1, 16])
        XCTAssertEqual(try roundTrip(flow, ext: "pfm"), flow)
    }

    func test_extension_is_case_insensitive() throws {
        let flow = sampleFlow()
        XCTAssertEqual(try roundTrip(flow, ext: "FLO"), flow)
    }

    func test_flo_bytes_follow_the_middlebury_layout() throws {
        let flow = FlowField(width: 2, height: 1, u: [1.5, 0], v: [-2, 0], valid: [true, false])
        let bytes = try FlowFile.encode(flow, format: .flo)
        XCTAssertEqual(bytes.count, 12 + 2 * 8)
        XCTAssertEqual(Array(bytes[0..<4]), Array("PIEH".utf8))  // 202021.25 as little-endian float32
        XCTAssertEqual(Array(bytes[4..<12]), [2, 0, 0, 0, 1, 0, 0, 0])
        let floats = stride(from: 12, to: bytes.count, by: 4).map { at in
            Float(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
        }
        XCTAssertEqual(floats, [1.5, -2, 1e10, 1e10])
    }

    func test_flo_reads_values_beyond_1e9_and_nan_as_unknown() throws {
        var bytes = [UInt8]()
        bytes.appendLE(Float(202021.25))
        bytes.appendLE(UInt32(3))
        bytes.appendLE(UInt32(1))
        for value: Float in [0.5, 2e9, 3, 4, Float.nan, 1] { bytes.appendLE(value) }
        let flow = try FlowFile.decode(bytes, format: .flo, name: "x.flo")
        XCTAssertEqual(flow.valid, [false, true, false])
        XCTAssertEqual(flow.u[1], 3)
        XCTAssertEqual(flow.v[1], 4)
    }

    func test_kitti_png_written_by_a_real_encoder_is_decoded() throws {
        // 7x5 KITTI flow PNG written by OpenCV at compression 9 (dynamic Huffman block, Sub and Paeth row
        // filters): u = (x-3)*1.5 + y*0.25, v = -x*0.5 + (y-2)*2, unknown at (2,1) and (6,4).
        let base64 = "iVBORw0KGgoAAAANSUhEUgAAAAcAAAAFEAIAAABWaL3MAAAAWUlEQVQI15WOwQ3AMAgDbSkDMEJHY5KSbNLR2IQSqqh59NPPCRnrgKcbQGo4AEWSRWx8kgZBz0iYHDouRBc7wMxnVUpRM202ib/WZdr5WtsqhX9VWdu8nI/dk/osYVNvRd0AAAAASUVORK5CYII="
        let flow = try FlowFile.decode([UInt8](Data(base64Encoded: base64)!), format: .png, name: "k.png")
        XCTAssertEqual(flow.width, 7)
        XCTAssertEqual(flow.height, 5)
        for y in 0..<5 {
            for x in 0..<7 {
                let i = y * 7 + x
                let unknown = (x == 2 && y == 1) || (x == 6 && y == 4)
                XCTAssertEqual(flow.valid[i], !unknown, "pixel \(x),\(y)")
                if !unknown {
                    XCTAssertEqual(flow.u[i], Float(x - 3) * 1.5 + Float(y) * 0.25, "u at \(x),\(y)")
                    XCTAssertEqual(flow.v[i], -Float(x) * 0.5 + Float(y - 2) * 2, "v at \(x),\(y)")
                }
            }
        }
    }

    func test_kitti_png_clamps_motion_beyond_its_range() throws {
        let flow = FlowField(width: 2, height: 1, u: [1000, -1000], v: [0.5, 0])
        let back = try roundTrip(flow, ext: "png")
        XCTAssertEqual(back.u, [Float(65535 - 32768) / 64, -512])
        XCTAssertEqual(back.v, [0.5, 0])
    }

    func test_npy_reads_float64_arrays() throws {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count + 1), 0]
        bytes += Array(header.utf8) + [0x0a]
        for value: Double in [1.25, -3.5, .nan, 0] {
            let bits = value.bitPattern
            for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
        }
        let flow = try FlowFile.decode(bytes, format: .npy, name: "x.npy")
        XCTAssertEqual(flow.width, 2)
        XCTAssertEqual(flow.height, 1)
        XCTAssertEqual(flow.valid, [true, false])
        XCTAssertEqual(flow.u[0], 1.25)
        XCTAssertEqual(flow.v[0], -3.5)
    }

    func test_npy_header_is_padded_to_64_bytes() throws {
        let bytes = try FlowFile.encode(sampleFlow(), format: .npy)
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(bytes[10 + headerLength - 1], 0x0a)
        XCTAssertEqual(bytes.count, 10 + headerLength + 7 * 5 * 8)
    }

    func test_pfm_rows_are_stored_bottom_to_top() throws {
        let flow = FlowField(width: 1, height: 2, u: [1, 2], v: [10, 20])
        let bytes = try FlowFile.encode(flow, format: .pfm)
        let header = Array("PF\n1 2\n-1.0\n".utf8)
        XCTAssertEqual(Array(bytes[0..<header.count]), header)
        let firstU = Float(bitPattern: UInt32(bytes[header.count]) | UInt32(bytes[header.count + 1]) << 8
            | UInt32(bytes[header.count + 2]) << 16 | UInt32(bytes[header.count + 3]) << 24)
        XCTAssertEqual(firstU, 2, "the first stored row is the bottom row")
    }

    func test_pfm_reads_big_endian_and_two_channel_files() throws {
        // Positive scale = big-endian; 2 floats per pixel under a "PF" header.
        var bytes = Array("PF\n2 1\n1.0\n".utf8)
        for value: Float in [1, 2, 3, 4] { bytes.appendBE(value.bitPattern) }
        let flow = try FlowFile.decode(bytes, format: .pfm, name: "x.pfm")
        XCTAssertEqual(flow.u, [1, 3])
        XCTAssertEqual(flow.v, [2, 4])
    }
}
