import Foundation
import VideoIO

/// Object masks as the DAVIS evaluation reads them.
///
/// DAVIS 2017 annotations are palette PNGs: index k > 0 is object k, 255 marks void pixels (ignored by the
/// semi-supervised measures, so they count as background here). DAVIS 2016 annotations are grayscale 0/255 with
/// one object; a mask whose only non-zero value is 255 is read that way: 255 is object 1.
public enum DAVISMasks {
    /// Object ids per pixel (0 = background), normalised as described above.
    public static func objectIDs(_ labels: [UInt8]) -> [UInt8] {
        var hasVoid = false, hasObject = false
        for value in labels {
            if value == 255 { hasVoid = true } else if value != 0 { hasObject = true }
        }
        guard hasVoid else { return labels }
        let voidMeans: UInt8 = hasObject ? 0 : 1
        return labels.map { $0 == 255 ? voidMeans : $0 }
    }

    /// Reads a mask PNG as object ids.
    /// - Throws: `SegmentationError` naming the file when it cannot be read or is not a label image.
    public static func read(path: String) throws -> LabelImage {
        do {
            var image = try readLabelImage(path: path)
            image.labels = objectIDs(image.labels)
            return image
        } catch let error as VideoIOError {
            throw SegmentationError(file: path, reason: "cannot read the mask (\(error.description))")
        }
    }

    /// Writes object ids as a palette PNG with the DAVIS palette, the format DAVIS predictions are submitted in.
    public static func write(_ ids: [UInt8], width: Int, height: Int, path: String) throws {
        do {
            try writeLabelPNG(LabelImage(width: width, height: height, labels: ids, palette: DAVISPalette.rgb),
                              path: path)
        } catch let error as VideoIOError {
            throw SegmentationError(file: path, reason: "cannot write the mask (\(error.description))")
        }
    }
}

/// The DAVIS (= PASCAL VOC) palette: colour k is built from the bits of k spread over R, G and B, so 1 is dark
/// red (128,0,0), 2 dark green (0,128,0), 3 olive (128,128,0), 4 navy (0,0,128)...
public enum DAVISPalette {
    /// 256 RGB triplets, 768 bytes.
    public static let rgb: [UInt8] = (0..<256).flatMap { index -> [UInt8] in
        var r = 0, g = 0, b = 0, k = index
        for shift in 0..<8 {
            r |= ((k >> 0) & 1) << (7 - shift)
            g |= ((k >> 1) & 1) << (7 - shift)
            b |= ((k >> 2) & 1) << (7 - shift)
            k >>= 3
        }
        return [UInt8(r), UInt8(g), UInt8(b)]
    }

    public static func color(_ index: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = Int(index) * 3
        return (rgb[i], rgb[i + 1], rgb[i + 2])
    }
}
