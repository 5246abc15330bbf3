import CommandLineTestSupport
import Foundation
import XCTest

/// The README's commands table against the tool's own help: every command of `mcjepa-video help` has a row, and
/// every option a row names is one `mcjepa-video help COMMAND` lists.
final class ReadmeCommandsTests: XCTestCase {
    func test_the_readme_commands_table_matches_the_help_of_every_command() throws {
        let tool = try commandLineTool()
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { row -> String in
            let cell = row.dropFirst(3)
            return String(cell[..<(cell.range(of: "` |")?.lowerBound ?? cell.endIndex)])
        }
        let root = try runProcess(tool, ["help"])
        let listed = root.out.components(separatedBy: "SUBCOMMANDS:").last ?? ""
        // Command lines are indented by two spaces; their wrapped descriptions by more.
        let commands = listed.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0 != "See" }
        XCTAssertTrue(commands.contains("flow") && commands.contains("preprocess"), root.out)
        for command in commands where command != "help" {
            XCTAssertTrue(rows.contains { $0.hasPrefix(command + " ") }, "README has no row for \(command)")
        }
        for row in rows {
            let words = row.split(separator: " ").map(String.init)
            var path = [words[0]]
            if words[0] == "eval", words.count > 1 { path.append(words[1]) }
            let help = try runProcess(tool, ["help"] + path)
            XCTAssertEqual(help.status, 0, "\(path): \(help.err)")
            // Options as the row writes them: [--stride N], [-o DIR], --format flo\|png, --video OUT --style ...
            var options: [String] = []
            for word in words {
                for piece in word.split(separator: "[").flatMap({ $0.split(separator: "/") }) {
                    let trimmed = piece.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                    guard trimmed.hasPrefix("-"), trimmed.count > 1 else { continue }
                    options.append(String(trimmed.prefix { $0 != "=" && $0 != "\\" }))
                }
            }
            for option in options {
                let listed = [" ", ",", "\n", "/", ">"].contains { help.out.contains(option + $0) }
                XCTAssertTrue(listed, "README's \(path.joined(separator: " ")) row names \(option), which its help does not list")
            }
        }
    }
}
