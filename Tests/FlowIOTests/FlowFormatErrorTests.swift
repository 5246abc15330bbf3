import Foundation
import XCTest
@testable import FlowIO

/// Malformed files give a one-line error naming the file and the cause, and never allocate the header's size.
final class FlowFormatErrorTests: XCTestCase {
    func flo(width: Int32, height: Int32, floats: Int, magic: Float = 202021.25) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.appendLE(magic)
        bytes.appendLE(UInt32(bitPattern: width))
        bytes.appendLE(UInt32(bitPattern: height))
        for _ in 0..<floats { bytes.appendLE(Float(0)) }
        return bytes
    }

    func test_flo_with_bad_magic_is_rejected() {
        assertFlowError(try FlowFile.decode(flo(width: 1, height: 1, floats: 2, magic: 1), format: .flo, name: "a.flo"),
                        file: "a.flo", cause: "bad magic")
    }

    func test_truncated_flo_is_rejected() {
        assertFlowError(try FlowFile.decode(flo(width: 4, height: 4, floats: 31), format: .flo, name: "a.flo"),
                        file: "a.flo", cause: "truncated")
        assertFlowError(try FlowFile.decode(Array(flo(width: 4, height: 4, floats: 0)[0..<6]), format: .flo, name: "a.flo"),
                        file: "a.flo", cause: "truncated")
    }

    func test_flo_with_absurd_size_is_rejected_without_allocating() {
        assertFlowError(try FlowFile.decode(flo(width: 1_000_000_000, height: 1_000_000_000, floats: 2), format: .flo, name: "a.flo"),
                        file: "a.flo", cause: "truncated")
        assertFlowError(try FlowFile.decode(flo(width: -5, height: 3, floats: 2), format: .flo, name: "a.flo"),
                        file: "a.flo", cause: "invalid size")
    }

    func test_npy_with_absurd_shape_or_wrong_layout_is_rejected() {
        func npy(_ header: String) -> [UInt8] {
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [0, 0, 0, 0]
        }
        assertFlowError(try FlowFile.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000, 2), }"),
                                            format: .npy, name: "b.npy"), file: "b.npy", cause: "truncated")
        assertFlowError(try FlowFile.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4, 3), }"),
                                            format: .npy, name: "b.npy"), file: "b.npy", cause: "shape (H, W, 2)")
        assertFlowError(try FlowFile.decode(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 2), }"),
                                            format: .npy, name: "b.npy"), file: "b.npy", cause: "dtype")
        assertFlowError(try FlowFile.decode(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1, 2), }"),
                                            format: .npy, name: "b.npy"), file: "b.npy", cause: "Fortran")
        assertFlowError(try FlowFile.decode(Array("not numpy".utf8), format: .npy, name: "b.npy"), file: "b.npy", cause: "bad magic")
    }

    func test_pfm_with_bad_magic_absurd_size_or_short_data_is_rejected() {
        assertFlowError(try FlowFile.decode(Array("P6\n1 1\n255\nabc".utf8), format: .pfm, name: "c.pfm"), file: "c.pfm", cause: "bad magic")
        assertFlowError(try FlowFile.decode(Array("Pf\n1 1\n-1\nabcd".utf8), format: .pfm, name: "c.pfm"), file: "c.pfm", cause: "single-channel")
        assertFlowError(try FlowFile.decode(Array("PF\n1000000000 1000000000\n-1\n1234".utf8), format: .pfm, name: "c.pfm"),
                        file: "c.pfm", cause: "truncated")
        assertFlowError(try FlowFile.decode(Array("PF\n2 2\n-1\n12345678".utf8), format: .pfm, name: "c.pfm"), file: "c.pfm", cause: "truncated")
        assertFlowError(try FlowFile.decode(Array("PF\n2".utf8), format: .pfm, name: "c.pfm"), file: "c.pfm", cause: "truncated")
    }

    func test_png_with_bad_signature_absurd_size_or_short_data_is_rejected() throws {
        assertFlowError(try FlowFile.decode(Array("GIF89a".utf8), format: .png, name: "d.png"), file: "d.png", cause: "not a PNG")
        var png = pngSignature
        var ihdr = [UInt8]()
        ihdr.appendBE(1_000_000_000)
        ihdr.appendBE(1_000_000_000)
        ihdr += [16, 2, 0, 0, 0]
        png.appendBE(UInt32(ihdr.count))
        png += Array("IHDR".utf8) + ihdr
        png.appendBE(crc32(Array("IHDR".utf8) + ihdr))
        assertFlowError(try FlowFile.decode(png, format: .png, name: "d.png"), file: "d.png", cause: "absurd PNG size")
        let good = try FlowFile.encode(sampleFlow(), format: .png)
        assertFlowError(try FlowFile.decode(Array(good.prefix(good.count - 30)), format: .png, name: "d.png"),
                        file: "d.png", cause: "truncated")
    }

    func test_png_with_corrupt_image_data_is_rejected() throws {
        var bytes = try FlowFile.encode(sampleFlow(), format: .png)
        // Damage the zlib header of the IDAT payload and fix up the chunk CRC, so the inflate layer sees it.
        let idat = try XCTUnwrap(chunkOffset("IDAT", in: bytes))
        let length = Int(bytes[idat]) << 24 | Int(bytes[idat + 1]) << 16 | Int(bytes[idat + 2]) << 8
            | Int(bytes[idat + 3])
        bytes[idat + 8] ^= 0xff  // the zlib CMF byte: no longer deflate
        let crc = crc32(Array(bytes[(idat + 4)..<(idat + 8 + length)]))
        bytes.replaceSubrange((idat + 8 + length)..<(idat + 12 + length),
                              with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xff), UInt8((crc >> 8) & 0xff), UInt8(crc & 0xff)])
        assertFlowError(try FlowFile.decode(bytes, format: .png, name: "e.png"), file: "e.png", cause: "corrupt PNG")
        // A damaged byte under an unchanged CRC: the checksum catches it.
        var badCRC = try FlowFile.encode(sampleFlow(), format: .png)
        badCRC[idat + 10] ^= 1
        assertFlowError(try FlowFile.decode(badCRC, format: .png, name: "e.png"), file: "e.png", cause: "corrupt PNG")
    }

    func test_damaged_files_never_crash_the_readers() throws {
        // Deterministic byte flips and cuts of valid files of every format: each must decode or throw.
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for format in FlowFileFormat.allCases {
            let good = try FlowFile.encode(sampleFlow(), format: format)
            for _ in 0..<150 {
                var bytes = good
                for _ in 0..<(1 + next() % 3) { bytes[next() % bytes.count] = UInt8(next() & 0xff) }
                if next() % 4 == 0 { bytes = Array(bytes.prefix(next() % bytes.count)) }
                do {
                    let flow = try FlowFile.decode(bytes, format: format, name: "fuzz")
                    XCTAssertEqual(flow.u.count, flow.width * flow.height)
                } catch is FlowIOError {
                } catch {
                    XCTFail("unexpected error \(error)")
                }
            }
        }
    }

    func test_missing_file_and_unknown_extension_are_named() throws {
        let folder = try makeTemporaryFolder(self)
        assertFlowError(try FlowFile.read(folder.appendingPathComponent("nope.flo")), file: "nope.flo", cause: "no such file")
        assertFlowError(try FlowFile.read(folder.appendingPathComponent("flow.txt")), file: "flow.txt", cause: "unknown flow file extension")
        assertFlowError(try FlowFile.write(sampleFlow(), to: folder.appendingPathComponent("flow.jpg")), file: "flow.jpg", cause: "unknown flow file extension")
    }
}
