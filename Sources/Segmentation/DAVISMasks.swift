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
            throw SegmentationError(file: path, reason: "cannot write the mask (\(error.description))", kind: .output)
        }
    }
}
