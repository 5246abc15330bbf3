import VideoIO
import Foundation
import XCTest
@testable import Dataset

final class VideoInputsTests: XCTestCase {
    func test_folders_are_walked_recursively_by_extension_and_sorted() throws {
        let root = try makeTemporaryFolder() + "/corpus"
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: root + "/b/deeper", withIntermediateDirectories: true)
        for file in ["z.mp4", "a.MOV", "notes.txt", "b/deeper/c.mkv", "b/x.avi", ".hidden.mp4"] {
            _ = fileManager.createFile(atPath: root + "/" + file, contents: Data([0]))
        }
        let videos = try VideoInputs.collect(paths: [root])
        XCTAssertEqual(videos.map(\.relativePath),
                       ["corpus/a.MOV", "corpus/b/deeper/c.mkv", "corpus/b/x.avi", "corpus/z.mp4"])
        XCTAssertEqual(videos[1].path, root + "/b/deeper/c.mkv")
    }

    func test_manifest_lines_resolve_against_the_manifest_folder() throws {
        let folder = try makeTemporaryFolder()
        let manifest = folder + "/list.txt"
        try "# corpus\nclips/b.mp4\n\n  clips/a.mp4  \nclips/b.mp4\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let videos = try VideoInputs.collect(paths: [], manifests: [manifest])
        XCTAssertEqual(videos.map(\.relativePath), ["clips/a.mp4", "clips/b.mp4"])
        XCTAssertEqual(videos[0].path, folder + "/clips/a.mp4")
    }

    func test_plan_does_not_depend_on_argument_order() throws {
        let folder = try makeTemporaryFolder()
        for name in ["one.mp4", "two.mp4", "three.mp4"] {
            _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([0]))
        }
        let forward = try VideoInputs.collect(paths: ["one.mp4", "two.mp4", "three.mp4"].map { folder + "/" + $0 })
        let backward = try VideoInputs.collect(paths: ["three.mp4", "two.mp4", "one.mp4"].map { folder + "/" + $0 })
        XCTAssertEqual(forward, backward)
        XCTAssertEqual(forward.map(\.relativePath), ["one.mp4", "three.mp4", "two.mp4"])
    }

    func test_missing_input_names_the_path() {
        XCTAssertThrowsError(try VideoInputs.collect(paths: ["/no/such/folder"])) { error in
            XCTAssertEqual((error as? DatasetError)?.description, "/no/such/folder: no such file or folder")
        }
    }

    func test_two_files_with_one_relative_path_are_an_input_error() throws {
        let first = try makeTemporaryFolder() + "/clip.mp4"
        let second = try makeTemporaryFolder() + "/clip.mp4"
        _ = FileManager.default.createFile(atPath: first, contents: Data([0]))
        _ = FileManager.default.createFile(atPath: second, contents: Data([0]))
        XCTAssertThrowsError(try VideoInputs.collect(paths: [first, second]))
    }
}
