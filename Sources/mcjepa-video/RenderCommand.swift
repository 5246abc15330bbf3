import ArgumentParser
import FlowIO
import Foundation
import VideoIO

/// `mcjepa-video render INPUT --flow DIR -o OUT.mp4`: a flow video from flow files already written by `flow`.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a flow video from a video and its flow files (one per pair, named by frame index).",
        discussion: """
            For each decoded frame i (counted from --start) the flow DIR/%06d.flo (or .png, .npy, .pfm) is drawn \
            for that frame at its timestamp, so the output keeps the input's timing; frames without a flow file \
            (the last --stride frames) are skipped. Flow files must have the frames' size.
            """)

    @Argument(help: "The video the flow was computed from.") var input: String
    @Option(help: "Folder of flow files (as written by `flow`).") var flow: String
    @Option(name: .shortAndLong, help: "Output video (e.g. out.mp4).") var output: String
    @Option(help: "color, overlay, arrows, side-by-side.") var style: FlowVideoStyle = .color
    @Option(help: "Flow magnitude (px) of full colour saturation (default: running maximum).") var maxFlow: Float?
    @Option(help: "Seconds into the video the flow files start at (as given to `flow`).") var start: Double = 0
    @Option(help: "Decoder threads.") var threads = 2
    @Flag(name: [.customShort("y"), .long], help: "Replace an existing output.") var overwrite = false

    func validate() throws {
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        if let maxFlow, !(maxFlow > 0 && maxFlow.isFinite) { throw ValidationError("--max-flow must be a positive finite number") }
        try OptionRange.checkStart(start)
    }

    func run() async throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: flow, isDirectory: &isFolder), isFolder.boolValue else {
            printError("\(flow): no such folder of flow files")
            throw Exit.badInput
        }
        try checkOutputFree(output, overwrite: overwrite)
        var renderer: FlowVideoRenderer?
        do {
            let reader = try VideoReader(path: input, options: DecodeOptions(threads: threads, start: start))
            while let frame = try reader.nextFrame() {
                guard let file = flowFile(index: frame.index) else { continue }
                let field = try FlowFile.read(file)
                guard field.width == frame.width && field.height == frame.height else {
                    printError("\(file.path): flow is \(field.width)x\(field.height), frames are \(frame.width)x\(frame.height)")
                    throw Exit.badInput
                }
                if renderer == nil {
                    renderer = try FlowVideoRenderer(path: output, style: style, maxFlow: maxFlow, frameWidth: frame.width,
                                                     frameHeight: frame.height, info: reader.info)
                }
                try renderer!.write(frame: frame, flow: field)
            }
        } catch let error as VideoIOError {
            printError(error.description)
            throw error.path == output ? Exit.failure : Exit.badInput
        } catch let error as FlowIOError {
            printError("\(error)")
            throw Exit.badInput
        }
        guard let renderer else {
            printError("\(flow): no flow file named like 000000.flo matches a frame of \(input)")
            throw Exit.badInput
        }
        do { try renderer.finish() } catch {
            printError("\(output): cannot complete the video (\(error))")
            throw Exit.failure
        }
        FileHandle.standardError.write(Data("wrote \(renderer.frameCount) frame(s) to \(output)\n".utf8))
    }

    private func flowFile(index: Int) -> URL? {
        let base = URL(fileURLWithPath: flow).appendingPathComponent(String(format: "%06d", index))
        return ["flo", "png", "npy", "pfm"].lazy.map { base.appendingPathExtension($0) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }
}
