import ArgumentParser
import VideoIO

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print streams, codec, size, rotation, frame rate and duration of videos.")

    @Argument(help: "Video files.") var files: [String]

    func run() async throws {
        print(FFmpegVersion.libavformat)
    }
}
