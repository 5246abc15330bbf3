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

extension MaskOverlay {
    /// 3x5 bitmaps of the digits 0-9, one row per 3 bits (high bit left).
    static let digitGlyphs: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 2, 2, 2], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// Draws a legend in the top-left corner: for each id, a swatch of its palette colour and the id's number in
    /// white, on a darkened band, so a viewer can tell which colour is which segment or object. Ids that do not
    /// fit in the frame's height are left out.
    public static func drawLegend(rgb: inout [UInt8], width: Int, height: Int, ids: [UInt8],
                                  palette: [UInt8] = DAVISPalette.rgb) {
        precondition(rgb.count == width * height * 3, "sizes do not match")
        let scale = max(2, min(width, height) / 160)  // glyph pixel size: readable from 240p to 4K
        let row = 7 * scale, margin = scale, swatch = 5 * scale
        let fitting = ids.prefix(max(0, (height - margin) / row))
        // As wide as the longest number listed: on a small frame every column the band covers is picture lost.
        let digits = fitting.map { String($0).count }.max() ?? 1
        let boxWidth = margin + swatch + margin + digits * (4 * scale)
        guard !fitting.isEmpty, boxWidth < width else { return }
        func fill(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ colour: (Float, Float, Float), alpha: Float) {
            for y in max(0, y0)..<min(height, y0 + h) {
                for x in max(0, x0)..<min(width, x0 + w) {
                    let p = (y * width + x) * 3
                    rgb[p] = UInt8(((1 - alpha) * Float(rgb[p]) + alpha * colour.0).rounded())
                    rgb[p + 1] = UInt8(((1 - alpha) * Float(rgb[p + 1]) + alpha * colour.1).rounded())
                    rgb[p + 2] = UInt8(((1 - alpha) * Float(rgb[p + 2]) + alpha * colour.2).rounded())
                }
            }
        }
        fill(0, 0, boxWidth, margin + fitting.count * row, (0, 0, 0), alpha: 0.6)
        for (index, id) in fitting.enumerated() {
            let top = margin + index * row
            let c = Int(id) * 3
            fill(margin, top, swatch, swatch, (Float(palette[c]), Float(palette[c + 1]), Float(palette[c + 2])), alpha: 1)
            var x = margin + swatch + margin
            for character in String(id) {
                let glyph = digitGlyphs[Int(character.asciiValue! - 48)]
                for (gy, bits) in glyph.enumerated() {
                    for gx in 0..<3 where bits & (4 >> gx) != 0 {
                        fill(x + gx * scale, top + gy * scale, scale, scale, (255, 255, 255), alpha: 1)
                    }
                }
                x += 4 * scale
            }
        }
    }
}
