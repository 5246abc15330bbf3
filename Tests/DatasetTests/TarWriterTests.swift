import CommandLineTestSupport
import Foundation
import VideoIO
import XCTest
@testable import Dataset

final class TarWriterTests: XCTestCase {
    func test_members_read_back_with_deterministic_ustar_headers() throws {
        let folder = try makeTemporaryFolder()
        let path = folder + "/a.tar"
        let tar = try TarWriter(path: path)
        let payloads: [(String, [UInt8])] = [
            ("clip-1234abcd_000000.f0.ppm", [UInt8](repeating: 7, count: 513)),
            ("clip-1234abcd_000000.json", Array("{\"a\":1}".utf8)),
            ("empty.txt", []),
        ]
        for (name, contents) in payloads { try tar.append(name: name, contents: contents) }
        try tar.finish()

        let bytes = try readBytes(path)
        XCTAssertEqual(bytes.count % 512, 0)
        XCTAssertEqual(bytes.count, tar.bytesWritten)
        let members = TarReader.members(bytes)
        XCTAssertEqual(members.map(\.name), payloads.map(\.0))
        XCTAssertEqual(members.map(\.contents), payloads.map(\.1))
        for member in members {
            XCTAssertEqual(member.mode, 0o644)
            XCTAssertEqual(member.uid, 0)
            XCTAssertEqual(member.gid, 0)
            XCTAssertEqual(member.mtime, 0)
            XCTAssertEqual(member.typeflag, UInt8(ascii: "0"))
            XCTAssertEqual(member.magic, "ustar")
        }
    }

    func test_system_tar_lists_the_archive() throws {
        let folder = try makeTemporaryFolder()
        let path = folder + "/b.tar"
        let tar = try TarWriter(path: path)
        try tar.append(name: "k_000001.f0.ppm", contents: [1, 2, 3])
        try tar.append(name: "k_000001.json", contents: Array("{}".utf8))
        try tar.finish()

        let listing = try runProcess("/usr/bin/env", ["tar", "-tvf", path])
        XCTAssertEqual(listing.status, 0, listing.err)
        let lines = listing.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("-rw-r--r--"), String(lines[0]))
        XCTAssertTrue(lines[0].contains("1970-01-01"), String(lines[0]))
        XCTAssertTrue(lines[0].hasSuffix(" 3 1970-01-01 00:00 k_000001.f0.ppm"), String(lines[0]))
        XCTAssertTrue(lines[1].hasSuffix("k_000001.json"))
    }

    func test_names_longer_than_ustar_allows_are_refused() throws {
        XCTAssertThrowsError(try TarWriter.header(name: String(repeating: "a", count: 101), size: 0))
        XCTAssertNoThrow(try TarWriter.header(name: String(repeating: "a", count: 100), size: 0))
    }
}
