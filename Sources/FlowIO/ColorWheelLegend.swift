/// The colour wheel drawn as a disc in a corner of a picture, so viewers can read direction and speed:
/// the centre is no motion, the rim is `maxFlow`, and the hue at each angle is the hue of motion that way.
public enum ColorWheelLegend {
    public enum Corner: String, CaseIterable, Sendable {
        case topLeft, topRight, bottomLeft, bottomRight
    }

    /// Draws a disc of `diameter` px (clamped to the picture) `margin` px from the corner. Pixels outside the
    /// disc are left as they were.
    public static func draw(on image: inout FlowRGBImage, corner: Corner = .topRight, diameter: Int = 64,
                            margin: Int = 8) {
        let size = min(diameter, image.width - 2 * margin, image.height - 2 * margin)
        guard size >= 4 else { return }
        let left = (corner == .topLeft || corner == .bottomLeft) ? margin : image.width - margin - size
        let top = (corner == .topLeft || corner == .topRight) ? margin : image.height - margin - size
        let radius = Float(size) / 2
        for dy in 0..<size {
            for dx in 0..<size {
                // A pixel at (dx, dy) stands for the motion from the centre towards it, scaled to the rim.
                let u = (Float(dx) + 0.5 - radius) / radius, v = (Float(dy) + 0.5 - radius) / radius
                guard u * u + v * v <= 1 else { continue }
                image.setPixel(x: left + dx, y: top + dy, FlowColor.color(u: u, v: v))
            }
        }
    }
}
