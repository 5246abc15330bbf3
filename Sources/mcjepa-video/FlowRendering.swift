import ArgumentParser
import FlowIO
import Foundation
import VideoIO

/// How a flow video shows each pair: the colour wheel picture, blended over the frame, arrows on the frame, or
/// frame | colour side by side (twice as wide).
enum FlowVideoStyle: String, ExpressibleByArgument, CaseIterable {
    case color, overlay, arrows
    case sideBySide = "side-by-side"
}

/// Renders one picture per pair and writes it through VideoWriter at the pair's first frame's timestamp, so the
/// video keeps the input's timing. Colours are normalised by a fixed `maxFlow` or by the running maximum.
/// Shared by `flow --video` and `render`.
final class FlowVideoRenderer {
    let style: FlowVideoStyle
    let fixedMaxFlow: Float?
    private var normalizer = RunningMaxNormalizer()
    private let writer: VideoWriter

    init(path: String, style: FlowVideoStyle, maxFlow: Float?, frameWidth: Int, frameHeight: Int, info: VideoInfo) throws {
        self.style = style
        fixedMaxFlow = maxFlow
        let width = style == .sideBySide ? 2 * frameWidth : frameWidth
        var options = EncodeOptions.matching(info)
        options.codec = .h264(crf: 20, preset: "veryfast")
        writer = try VideoWriter(path: path, width: width, height: frameHeight, options: options)
    }

    var frameCount: Int { writer.frameCount }

    func picture(frame: VideoFrame, flow: FlowField) -> FlowRGBImage {
        let maxFlow = fixedMaxFlow ?? normalizer.observe(flow)
        let scene = FlowRGBImage(width: frame.width, height: frame.height, rgb: frame.rgb)
        switch style {
        case .color:
            return FlowColor.render(flow, maxFlow: maxFlow).resized(width: frame.width, height: frame.height)
        case .overlay:
            return FlowOverlay.blend(frame: scene, picture: FlowColor.render(flow, maxFlow: maxFlow))
        case .arrows:
            var out = scene
            FlowArrows.draw(on: &out, flow: flow, spacing: max(8, min(frame.width, frame.height) / 24), maxFlow: maxFlow)
            return out
        case .sideBySide:
            return SideBySide.compose(scene, FlowColor.render(flow, maxFlow: maxFlow).resized(width: frame.width, height: frame.height))
        }
    }

    /// Adds the picture for the pair starting at `frame`.
    func write(frame: VideoFrame, flow: FlowField) throws {
        let image = picture(frame: frame, flow: flow)
        try writer.write(VideoFrame(width: image.width, height: image.height, rgb: image.rgb, index: frame.index,
                                    pts: frame.pts, timeBase: frame.timeBase, seconds: frame.seconds))
    }

    /// Completes the file (renamed into place only now).
    func finish() throws { try writer.finish() }
}

/// Refuses to replace an existing path unless allowed; with `overwrite` it is removed only when the new output
/// is ready (see `replace`).
func checkOutputFree(_ path: String, overwrite: Bool) throws {
    if FileManager.default.fileExists(atPath: path) && !overwrite {
        printError("\(path): already exists; pass -y/--overwrite to replace it")
        throw Exit.failure
    }
}
