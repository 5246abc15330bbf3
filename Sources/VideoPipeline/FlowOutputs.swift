import AtomicOutput
import FlowIO
import Foundation
import VideoIO

/// Where `FlowPairs`' results go. Outputs are actors: they run on the writer task of `writeConcurrently`, one
/// event at a time, in order, and what they counted is read afterwards without a data race.
public protocol FlowPairOutput: Actor {
    func write(_ event: FlowPairEvent) throws
    /// Completes the output after the last event.
    func finish() throws
}

/// What `FlowFileOutput` writes for each pair, into one folder.
public struct FlowFileOptions: Sendable {
    public var format: FlowFileFormat = .flo
    /// NAME.bw.EXT: the flow from the second frame back to the first.
    public var backward = false
    /// NAME.occ.png: 255 where the first frame's pixel is occluded in the second (forward-backward check).
    public var occlusion = false
    /// NAME.conf.png: 8-bit confidence, 255 * exp(-d^2 / t) of the forward-backward check (see
    /// `ForwardBackwardCheck.confidence`); below 94 (0.37) is the occlusion mask.
    public var confidence = false

    public init(format: FlowFileFormat = .flo, backward: Bool = false, occlusion: Bool = false, confidence: Bool = false) {
        self.format = format
        self.backward = backward
        self.occlusion = occlusion
        self.confidence = confidence
    }

    /// Whether the pairs need the backward flow.
    public var needsBackward: Bool { backward || occlusion || confidence }
}

/// Writes each pair's files into `folder`, named by the pair's first frame (`FrameInput.name(ofFrame:)`:
/// 000000.flo for frames 0 -> 1), and at the end `skipped.json` listing the pairs left out at scene cuts (when any).
public actor FlowFileOutput: FlowPairOutput {
    public nonisolated let folder: URL
    public nonisolated let options: FlowFileOptions
    private let name: @Sendable (Int) -> String
    public private(set) var pairsWritten = 0
    public private(set) var skipped: [(first: Int, second: Int, cut: Int)] = []

    public init(folder: String, options: FlowFileOptions, name: @escaping @Sendable (Int) -> String) {
        self.folder = URL(fileURLWithPath: folder)
        self.options = options
        self.name = name
    }

    public func write(_ event: FlowPairEvent) throws {
        switch event {
        case .skipped(let first, let second, let cut):
            skipped.append((first, second, cut))
        case .end:
            break
        case .pair(let pair):
            let base = name(pair.first), ext = options.format.rawValue
            try FlowFile.write(pair.forward, to: folder.appendingPathComponent("\(base).\(ext)"), format: options.format)
            if options.backward, let backward = pair.backward {
                try FlowFile.write(backward, to: folder.appendingPathComponent("\(base).bw.\(ext)"), format: options.format)
            }
            if let backward = pair.backward, options.occlusion || options.confidence {
                let (w, h) = (pair.forward.width, pair.forward.height)
                if options.occlusion {
                    let mask = ForwardBackwardCheck.occlusion(forward: pair.forward, backward: backward)
                    try writeLabelPNG(LabelImage(width: w, height: h, labels: mask),
                                      path: folder.appendingPathComponent("\(base).occ.png").path)
                }
                if options.confidence {
                    let confidence = ForwardBackwardCheck.confidence(forward: pair.forward, backward: backward)
                    try writeLabelPNG(LabelImage(width: w, height: h, labels: confidence.map { UInt8(($0 * 255).rounded()) }),
                                      path: folder.appendingPathComponent("\(base).conf.png").path)
                }
            }
            pairsWritten += 1
        }
    }

    public func finish() throws {
        guard !skipped.isEmpty else { return }
        let entries = skipped.map { "  {\"first\": \($0.first), \"second\": \($0.second), \"cut\": \($0.cut), \"reason\": \"scene cut\"}" }
        let text = "[\n" + entries.joined(separator: ",\n") + "\n]\n"
        let path = folder.appendingPathComponent("skipped.json").path
        do {
            try AtomicOutput.write(Array(text.utf8), to: path)
        } catch let error as AtomicOutputError {
            throw VideoIOError(path: path, operation: "cannot write", message: error.reason)
        }
    }
}

/// Renders each pair into a flow video (`FlowVideoRenderer`), created at the first pair's size.
public actor FlowVideoOutput: FlowPairOutput {
    public nonisolated let path: String
    private let make: (Int, Int) throws -> FlowVideoRenderer
    public private(set) var renderer: FlowVideoRenderer?

    /// - Parameter replace: false refuses a `path` that exists when the finished video is renamed into place.
    public init(path: String, style: FlowVideoStyle, maxFlow: Float?, legend: Bool, options: EncodeOptions,
                replace: Bool = true) {
        self.path = path
        make = { width, height in
            try FlowVideoRenderer(path: path, style: style, maxFlow: maxFlow, legend: legend, frameWidth: width,
                                  frameHeight: height, options: options, replace: replace)
        }
    }

    public var frameCount: Int { renderer?.frameCount ?? 0 }

    public func write(_ event: FlowPairEvent) throws {
        guard case .pair(let pair) = event, let frame = pair.firstFrame else { return }
        if renderer == nil { renderer = try make(frame.width, frame.height) }
        try renderer!.write(frame: frame, flow: pair.forward, newShot: pair.startsShot)
    }

    public func finish() throws { try renderer?.finish() }
}
