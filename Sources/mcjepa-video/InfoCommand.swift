import ArgumentParser
import Foundation
import VideoIO

/// `mcjepa-video info FILE...`: what each video holds. Bad files are reported one line each (exit 3) and do not
/// stop the others.
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print streams, codec, size, rotation, frame rate and duration of videos.",
        discussion: """
            Sizes: 'size' is the stored picture, 'display' the upright picture with square pixels (what frames \
            are decoded to). The frame rate is marked variable when frames are unevenly spaced. With --count \
            every frame is decoded, and the count and the variable-rate verdict come from the decoded timestamps.
            With --json each file is one JSON object per line.
            """)

    @Argument(help: "Video files.") var files: [String]
    @Flag(help: "Decode every frame to count them (slower).") var count = false
    @Flag(help: "One JSON object per file, one per line.") var json = false
    @Option(help: "Decoder threads for --count.") var threads = 2

    func validate() throws {
        try OptionRange.check(threads, OptionRange.threads, "--threads")
    }

    func run() async throws {
        var failed = false
        for file in files {
            do {
                var info = try probe(path: file)
                var decoded: FrameCount?
                if count {
                    let counted = try countFrames(path: file, threads: threads)
                    if counted.frames == 0 {
                        throw VideoIOError(path: file, operation: "no video frames",
                                           message: "the video stream holds no decodable frame")
                    }
                    info.isVariableFrameRate = counted.isVariableFrameRate
                    decoded = counted
                }
                print(json ? try jsonLine(info, decoded) : info.summary(decodedFrames: decoded?.frames))
            } catch let error as VideoIOError {
                printError(error.description)
                failed = true
            }
        }
        if failed { throw Exit.badInput }
    }

    private func jsonLine(_ info: VideoInfo, _ decoded: FrameCount?) throws -> String {
        struct Report: Encodable {
            var info: VideoInfo
            var decodedFrames: Int?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Report(info: info, decodedFrames: decoded?.frames))
        return String(decoding: data, as: UTF8.self)
    }
}
