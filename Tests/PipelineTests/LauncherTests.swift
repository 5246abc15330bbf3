import CommandLineTestSupport
import Foundation
import XCTest

/// The cluster launchers in Pipelines/: what they install and what they pass to other machines.
final class LauncherTests: XCTestCase {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The words of `text` from `start` up to the first line that does not end with a backslash or `)`.
    func packages(in text: String, after marker: String, until end: String) throws -> Set<String> {
        let start = try XCTUnwrap(text.range(of: marker), "no \(marker)")
        let rest = text[start.upperBound...]
        let stop = rest.range(of: end)?.lowerBound ?? rest.endIndex
        return Set(rest[..<stop].split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }).map(String.init)
            .filter { !$0.hasPrefix("-") && !$0.isEmpty })
    }

    func test_the_kubernetes_image_installs_the_packages_install_deps_installs() throws {
        let script = try String(contentsOf: repository.appendingPathComponent("Scripts/install-deps.sh"), encoding: .utf8)
        let dockerfile = try String(contentsOf: repository.appendingPathComponent("Pipelines/Dockerfile"), encoding: .utf8)
        let wanted = try packages(in: script, after: "packages=(", until: ")")
        XCTAssertTrue(wanted.contains("libopenblas-dev") && wanted.count >= 5, "\(wanted)")
        XCTAssertEqual(try packages(in: dockerfile, after: "apt-get install -y -qq --no-install-recommends", until: "&&"), wanted)
        XCTAssertTrue(dockerfile.contains("RUN Scripts/install-deps.sh"), "the build stage runs the script itself")
        let job = try String(contentsOf: repository.appendingPathComponent("Pipelines/preprocess-k8s-indexed-job.yaml"), encoding: .utf8)
        XCTAssertTrue(job.contains("image: mcjepa-video:latest   # docker build -f Pipelines/Dockerfile"), "the manifest names the image the Dockerfile builds")
    }

    func test_the_ray_launcher_passes_absolute_paths() throws {
        let check = try runProcess("/usr/bin/env", ["python3", "-c", "print(1)"])
        try XCTSkipUnless(check.status == 0, "python3 not installed")
        let code = """
            import sys; sys.path.insert(0, 'Pipelines'); import preprocess_ray as r
            print(r.absolute_arguments(['videos', '--out', 'shards', '--size', '320x256', '--manifest=list.txt', \
            '/abs/v.mp4', '--resume', 'more'], cwd='/work/here'))
            """
        let run = try runProcess("/usr/bin/env", ["python3", "-c", code], in: repository)
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(run.out.trimmingCharacters(in: .whitespacesAndNewlines),
                       "['/work/here/videos', '--out', '/work/here/shards', '--size', '320x256', "
                       + "'--manifest=/work/here/list.txt', '/abs/v.mp4', '--resume', '/work/here/more']")
    }
}
