import Foundation
import XCTest
@testable import Dataset

final class TarIndexTests: XCTestCase {
    func test_members_of_a_written_shard_are_found_with_their_offsets_and_sizes() throws {
        let path = try makeTemporaryFolder() + "/shard.tar"
        let contents: [(String, [UInt8])] = [("a_000001.f0.png", Array(repeating: 7, count: 700)),
                                             ("a_000001.f1.png", [1, 2, 3]), ("a_000001.json", [])]
        let writer = try TarWriter(path: path)
        for (name, bytes) in contents { try writer.append(name: name, contents: bytes) }
        try writer.finish()

        let members = try TarIndex.members(ofFile: path)
        XCTAssertEqual(members.map(\.name), contents.map(\.0))
        XCTAssertEqual(members.map(\.size), [700, 3, 0])
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for (member, (_, bytes)) in zip(members, contents) {
            XCTAssertEqual(Array(data[Int(member.offset)..<Int(member.offset) + member.size]), bytes, member.name)
        }
    }

    func test_a_truncated_shard_is_an_error_naming_the_file() throws {
        let path = try makeTemporaryFolder() + "/shard.tar"
        let writer = try TarWriter(path: path)
        try writer.append(name: "a_000001.f0.png", contents: Array(repeating: 7, count: 2000))
        try writer.finish()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(1200).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try TarIndex.members(ofFile: path)) { error in
            XCTAssertEqual("\(error)", "\(path): not a tar file (bad member header at byte 0)")
        }
        XCTAssertThrowsError(try TarIndex.members(ofFile: path + ".missing")) { error in
            XCTAssertEqual("\(error)", "\(path).missing: cannot open")
        }
    }
}
