import FlowIO
import Foundation
import VideoIO

/// How a flow video shows each pair: the colour wheel picture, blended over the frame, arrows on the frame, or
/// frame | colour side by side (twice as wide).
public enum FlowVideoStyle: String, CaseIterable, Sendable {
    case color, overlay, arrows
    case sideBySide = "side-by-side"
}

/// What a video path asks for: `.mkv` is lossless FFV1, a `.png` pattern (`out/%06d.png`) or a folder is a PNG
/// sequence numbered by frame index from 000000 (the flow files' numbering), anything else H.264.
public func encodeOptions(forPath path: String, matching base: EncodeOptions) -> EncodeOptions {
    var options = base
    switch URL(fileURLWithPath: path).pathExtension.lowercased() {
    case "mkv": options.codec = .ffv1
    case "png", "": options.codec = .png
    default: options.codec = .h264(crf: 20, preset: "veryfast")
    }
    options.firstImageNumber = 0
    return options
}

/// Renders one picture per pair and writes it at the pair's first frame's timestamp, so the video keeps the
/// input's timing. Colours are scaled by a fixed `maxFlow` or by `RobustFlowScale` (a high percentile of recent
/// pairs, restarted at scene cuts); `legend` draws the colour wheel in the top-right corner so viewers can read
/// direction and speed. Shared by `flow --video` and `render`.
public final class FlowVideoRenderer {
    public let style: FlowVideoStyle
    public let fixedMaxFlow: Float?
    public let legend: Bool
    private var scale = RobustFlowScale()
    private let writer: VideoWriter

    /// - Throws: `VideoIOError` naming `path` when the video cannot be created.
    public init(path: String, style: FlowVideoStyle, maxFlow: Float?, legend: Bool, frameWidth: Int, frameHeight: Int,
                options: EncodeOptions, replace: Bool = true) throws {
        self.style = style
        fixedMaxFlow = maxFlow
        self.legend = legend
        let width = style == .sideBySide ? 2 * frameWidth : frameWidth
        writer = try VideoWriter(path: path, width: width, height: frameHeight,
                                 options: encodeOptions(forPath: path, matching: options), replace: replace)
    }

    public var frameCount: Int { writer.frameCount }

    /// The picture for the pair starting at `frame`; `newShot` restarts the colour scale.
    public func picture(frame: VideoFrame, flow: FlowField, newShot: Bool = false) -> FlowRGBImage {
        if newShot { scale.reset() }
        let maxFlow = fixedMaxFlow ?? scale.observe(flow)
        let scene = FlowRGBImage(width: frame.width, height: frame.height, rgb: frame.rgb)
        var colour: FlowRGBImage { FlowColor.render(flow, maxFlow: maxFlow).resized(width: frame.width, height: frame.height) }
        var picture: FlowRGBImage
        switch style {
        case .color: picture = colour
        case .overlay: picture = FlowOverlay.blend(frame: scene, picture: colour)
        case .arrows:
            picture = scene
            FlowArrows.draw(on: &picture, flow: flow, spacing: max(8, min(frame.width, frame.height) / 24), maxFlow: maxFlow)
        case .sideBySide: picture = SideBySide.compose(scene, colour)
        }
        if legend {
            ColorWheelLegend.draw(on: &picture, corner: .topRight, diameter: max(24, min(frame.width, frame.height) / 6))
        }
        return picture
    }

    /// Adds the picture for the pair starting at `frame` (a PNG sequence names it by the frame's index).
    public func write(frame: VideoFrame, flow: FlowField, newShot: Bool = false) throws {
        let image = picture(frame: frame, flow: flow, newShot: newShot)
        try writer.write(VideoFrame(width: image.width, height: image.height, rgb: image.rgb, index: frame.index,
                                    pts: frame.pts, timeBase: frame.timeBase, seconds: frame.seconds),
                         imageNumber: frame.index)
    }

    /// Completes the file (renamed into place only now).
    public func finish() throws { try writer.finish() }
}
