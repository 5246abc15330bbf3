/// The flow colour picture blended over the video frame, so motion is seen on the scene that moves.
public enum FlowOverlay {
    /// out = (1 - alpha) * frame + alpha * picture, per channel, rounded. The picture is resized (nearest) to
    /// the frame if their sizes differ. `alpha` is clamped to [0, 1]. With `known` (the flow's `valid`, at the
    /// picture's size) unknown pixels show the plain frame instead of being darkened by their black.
    public static func blend(frame: FlowRGBImage, picture: FlowRGBImage, alpha: Float = 0.5,
                             known: [Bool]? = nil) -> FlowRGBImage {
        precondition(known == nil || known!.count == picture.width * picture.height, "mask size differs from the picture")
        let top = picture.resized(width: frame.width, height: frame.height)
        let a = min(max(alpha, 0), 1)
        var out = frame
        for y in 0..<frame.height {
            // The same nearest-neighbour mapping as `resized`, to find each frame pixel's mask entry.
            let my = min(picture.height - 1, y * picture.height / max(frame.height, 1))
            for x in 0..<frame.width {
                if let known, !known[my * picture.width + min(picture.width - 1, x * picture.width / max(frame.width, 1))] {
                    continue
                }
                for c in 0..<3 {
                    let i = 3 * (y * frame.width + x) + c
                    let mixed = (1 - a) * Float(frame.rgb[i]) + a * Float(top.rgb[i])
                    out.rgb[i] = UInt8(min(max(mixed.rounded(), 0), 255))
                }
            }
        }
        return out
    }
}

/// Two pictures next to each other (frame | flow colour), on black where their heights differ.
public enum SideBySide {
    public static func compose(_ left: FlowRGBImage, _ right: FlowRGBImage) -> FlowRGBImage {
        let width = left.width + right.width, height = max(left.height, right.height)
        var out = FlowRGBImage(width: width, height: height)
        for y in 0..<height {
            if y < left.height {
                let row = (y * left.width * 3)..<((y + 1) * left.width * 3)
                out.rgb.replaceSubrange((y * width * 3)..<(y * width * 3 + left.width * 3), with: left.rgb[row])
            }
            if y < right.height {
                let row = (y * right.width * 3)..<((y + 1) * right.width * 3)
                let start = (y * width + left.width) * 3
                out.rgb.replaceSubrange(start..<(start + right.width * 3), with: right.rgb[row])
            }
        }
        return out
    }
}
