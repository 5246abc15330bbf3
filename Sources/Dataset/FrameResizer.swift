import VideoIO

/// Brings frames to the training size: `--size WxH` centre-crops to the target aspect ratio and resizes to
/// exactly WxH; `--max-side S` shrinks (never enlarges) so the longer side is at most S, keeping the aspect.
public enum ResizeMode: Equatable, Sendable {
    case keep
    case exact(width: Int, height: Int)
    case maxSide(Int)
}

public enum FrameResizer {
    public static func apply(_ mode: ResizeMode, to image: RGBImage) -> RGBImage {
        switch mode {
        case .keep:
            return image
        case let .maxSide(limit):
            let longer = max(image.width, image.height)
            guard longer > limit else { return image }
            // Round to even sizes: encoders and later 2x-downsampling models prefer them, and it is deterministic.
            let width = max(2, (image.width * limit / longer) & ~1)
            let height = max(2, (image.height * limit / longer) & ~1)
            return resize(image, cropX: 0, cropY: 0, cropWidth: image.width, cropHeight: image.height,
                          width: width, height: height)
        case let .exact(width, height):
            // Largest centred window with the target aspect ratio (integer arithmetic, so the same everywhere).
            var cropWidth = image.width, cropHeight = image.height
            if image.width * height > image.height * width {
                cropWidth = max(1, image.height * width / height)
            } else {
                cropHeight = max(1, image.width * height / width)
            }
            return resize(image, cropX: (image.width - cropWidth) / 2, cropY: (image.height - cropHeight) / 2,
                          cropWidth: cropWidth, cropHeight: cropHeight, width: width, height: height)
        }
    }

    /// Resamples the crop window: box averaging where it shrinks (no aliasing of fine texture), bilinear where it
    /// enlarges. Integer box bounds and Float bilinear weights give the same bytes on every machine.
    static func resize(_ image: RGBImage, cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int,
                       width: Int, height: Int) -> RGBImage {
        if cropX == 0, cropY == 0, cropWidth == image.width, cropHeight == image.height,
           width == image.width, height == image.height { return image }
        var output = [UInt8](repeating: 0, count: width * height * 3)
        if cropWidth == width && cropHeight == height {
            // A pure crop (the decoder already scaled): copy rows.
            image.rgb.withUnsafeBufferPointer { source in
                output.withUnsafeMutableBufferPointer { target in
                    for y in 0..<height {
                        let from = source.baseAddress! + ((cropY + y) * image.width + cropX) * 3
                        (target.baseAddress! + y * width * 3).update(from: from, count: width * 3)
                    }
                }
            }
            return RGBImage(width: width, height: height, rgb: output)
        }
        let shrinking = cropWidth >= width && cropHeight >= height
        image.rgb.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for y in 0..<height {
                    for x in 0..<width {
                        let out = (y * width + x) * 3
                        if shrinking {
                            let y0 = cropY + y * cropHeight / height, y1 = max(y0 + 1, cropY + (y + 1) * cropHeight / height)
                            let x0 = cropX + x * cropWidth / width, x1 = max(x0 + 1, cropX + (x + 1) * cropWidth / width)
                            var r = 0, g = 0, b = 0
                            for sy in y0..<y1 {
                                var offset = (sy * image.width + x0) * 3
                                for _ in x0..<x1 {
                                    r += Int(source[offset]); g += Int(source[offset + 1]); b += Int(source[offset + 2])
                                    offset += 3
                                }
                            }
                            let count = (y1 - y0) * (x1 - x0)
                            target[out] = UInt8((r + count / 2) / count)
                            target[out + 1] = UInt8((g + count / 2) / count)
                            target[out + 2] = UInt8((b + count / 2) / count)
                        } else {
                            // Pixel-centre alignment, clamped at the crop border.
                            let fy = min(max(0, (Float(y) + 0.5) * Float(cropHeight) / Float(height) - 0.5), Float(cropHeight - 1))
                            let fx = min(max(0, (Float(x) + 0.5) * Float(cropWidth) / Float(width) - 0.5), Float(cropWidth - 1))
                            let iy = Int(fy), ix = Int(fx)
                            let iy1 = min(iy + 1, cropHeight - 1), ix1 = min(ix + 1, cropWidth - 1)
                            let wy = fy - Float(iy), wx = fx - Float(ix)
                            for c in 0..<3 {
                                func at(_ yy: Int, _ xx: Int) -> Float {
                                    Float(source[((cropY + yy) * image.width + cropX + xx) * 3 + c])
                                }
                                let top = at(iy, ix) * (1 - wx) + at(iy, ix1) * wx
                                let bottom = at(iy1, ix) * (1 - wx) + at(iy1, ix1) * wx
                                target[out + c] = UInt8(min(255, max(0, (top * (1 - wy) + bottom * wy).rounded())))
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, rgb: output)
    }
}
