/// Draws masks over a frame for the annotated videos: each object's pixels blended with its DAVIS palette
/// colour, and its outline (pixels of the object with a 4-neighbour outside it) in the full colour, so objects
/// stay readable where the translucent fill is faint.
public enum MaskOverlay {
    /// - Parameters:
    ///   - rgb: packed RGB, width x height x 3.
    ///   - labels: one id per pixel; 0 is background and left untouched.
    ///   - opacity: weight of the colour in the fill (0 = frame only, 1 = solid colour).
    ///   - outlineWidth: outline thickness in pixels (0 = none).
    /// - Returns: the annotated frame, packed RGB.
    public static func draw(rgb: [UInt8], width: Int, height: Int, labels: [UInt8], opacity: Float = 0.5,
                            outlineWidth: Int = 2, palette: [UInt8] = DAVISPalette.rgb) -> [UInt8] {
        precondition(rgb.count == width * height * 3 && labels.count == width * height, "sizes do not match")
        precondition(palette.count >= 768, "palette needs 256 RGB entries")
        var out = rgb
        let outline = outlineMask(labels, width: width, height: height, thickness: outlineWidth)
        for i in 0..<(width * height) where labels[i] != 0 {
            let colour = Int(labels[i]) * 3
            for ch in 0..<3 {
                let c = Float(palette[colour + ch])
                let blended = outline[i] ? c : (1 - opacity) * Float(rgb[i * 3 + ch]) + opacity * c
                out[i * 3 + ch] = UInt8(max(0, min(255, blended.rounded())))
            }
        }
        return out
    }

    /// Pixels of an object that have a pixel of another label within `thickness` steps along x or y. The
    /// picture's edge does not count: an object cut by the frame border is not outlined along it.
    static func outlineMask(_ labels: [UInt8], width: Int, height: Int, thickness: Int) -> [Bool] {
        var outline = [Bool](repeating: false, count: labels.count)
        guard thickness > 0 else { return outline }
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x, id = labels[i]
                guard id != 0 else { continue }
                search: for d in 1...thickness {
                    for (dx, dy) in [(d, 0), (-d, 0), (0, d), (0, -d)] {
                        let nx = x + dx, ny = y + dy
                        guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
                        if labels[ny * width + nx] != id {
                            outline[i] = true
                            break search
                        }
                    }
                }
            }
        }
        return outline
    }
}
