import AtomicOutput
import Dataset
import FlowIO
import Foundation
import VideoIO

/// `render`'s run: the flow files of a folder written by `flow` (NAME.flo, .png, .npy or .pfm, NAME as
/// `FrameInput.name(ofFrame:)` gives it) drawn over the frames they start from into a flow video, at the frames'
/// timestamps; frames without a flow file are skipped. Scene cuts are detected on the frames (as `flow` detects
/// them) and restart the video's robust colour scale, so one shot's motion does not set the next one's colours.
public struct FlowRenderJob {
    public let source: FrameInput
    public let decode: DecodeOptions
    public let flowFolder: String
    public let video: FlowVideoRequest
    /// `SceneCutDetector`'s threshold; nil: no detection (one scale over the whole input).
    public let sceneCutThreshold: Double?
    public let overwrite: Bool

    public init(source: FrameInput, decode: DecodeOptions, flowFolder: String, video: FlowVideoRequest,
                sceneCutThreshold: Double? = SceneCutDetector.defaultThreshold, overwrite: Bool = false) {
        self.source = source
        self.decode = decode
        self.flowFolder = flowFolder
        self.video = video
        self.sceneCutThreshold = sceneCutThreshold
        self.overwrite = overwrite
    }

    /// Renders the video, reporting frames read to `reporter`; returns the frames written.
    /// - Throws: `VideoPipelineError` when the flow folder is missing or no flow file matches a frame, `FlowIOError`
    ///   naming a flow file that cannot be read or does not have the frames' size, `VideoIOError` for the input,
    ///   `AtomicOutputError` for an output that exists or cannot be written. Nothing is left behind then.
    public func run(reporter: ProgressReporter) async throws -> Int {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: flowFolder, isDirectory: &isFolder), isFolder.boolValue else {
            throw VideoPipelineError(path: flowFolder, reason: "no such folder of flow files")
        }
        let opened = try source.open(decode)
        try AtomicOutput.checkFree(video.path, overwrite: overwrite)
        let output = video.output(opened.encodeOptions, replace: overwrite)
        var detector = sceneCutThreshold.map { SceneCutDetector(threshold: $0) }
        // The detector decides on a frame once it has seen the next one, so each frame is drawn one frame late.
        var pending: VideoFrame?, cutSinceLastDrawn = false, read = 0
        func draw(_ frame: VideoFrame, startsShot: Bool) async throws {
            cutSinceLastDrawn = cutSinceLastDrawn || startsShot
            guard let field = try flowFile(of: frame) else { return }
            try await output.write(.pair(FlowPair(first: frame.index, second: frame.index + 1, firstFrame: frame,
                                                  forward: field, backward: nil, startsShot: cutSinceLastDrawn)))
            cutSinceLastDrawn = false
        }
        for try await frame in source.framesDecodedAhead(decode) {
            read += 1
            let pendingIsCut = detector?.push(Thumbnail(frame.image)) == true
            if let pending { try await draw(pending, startsShot: pendingIsCut) }
            pending = frame
            reporter.update(done: read, total: opened.expectedFrames)
        }
        if let pending { try await draw(pending, startsShot: detector?.finish() == true) }
        reporter.finish(done: read, total: opened.expectedFrames)
        guard await output.frameCount > 0 else {
            throw VideoPipelineError(path: flowFolder, reason: "no flow file named like 000000.flo matches a frame of \(source.displayPath)")
        }
        try await output.finish()
        return await output.frameCount
    }

    /// The flow file that starts at `frame`, read; nil when there is none.
    private func flowFile(of frame: VideoFrame) throws -> FlowField? {
        let base = URL(fileURLWithPath: flowFolder).appendingPathComponent(source.name(ofFrame: frame.index, options: decode))
        guard let file = FlowFileFormat.allCases.lazy.map({ base.appendingPathExtension($0.rawValue) })
            .first(where: { FileManager.default.fileExists(atPath: $0.path) }) else { return nil }
        let field = try FlowFile.read(file)
        guard field.width == frame.width && field.height == frame.height else {
            throw FlowIOError(url: file, reason: "flow is \(field.width)x\(field.height), frames are \(frame.width)x\(frame.height)")
        }
        return field
    }
}
