/// Stable sample-key prefixes for videos.
///
/// WebDataset splits a member name into key and extension at the first dot of its base name and groups adjacent
/// members by key, so a video id must contain no dot and no slash. The id is a readable slug of the video's
/// relative path plus a hash of the exact relative path: the slug alone would merge `a/b.mp4` and `a-b.mp4`.
/// Only the relative path enters the id, so the same corpus mounted anywhere gives the same keys.
public enum VideoID {
    /// Longest slug kept; with the hash and `_000000.flow.npy` a member name stays well under ustar's 100 bytes.
    static let maxSlugLength = 48

    public static func make(relativePath: String) -> String {
        var slug = ""
        var lastWasDash = false
        for scalar in relativePath.unicodeScalars {
            let keep = scalar.isASCII && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar))
            if keep {
                slug.unicodeScalars.append(scalar)
                lastWasDash = false
            } else if !lastWasDash && !slug.isEmpty {
                slug.append("-")
                lastWasDash = true
            }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        if slug.count > maxSlugLength { slug = String(slug.suffix(maxSlugLength)) }
        while slug.hasPrefix("-") { slug.removeFirst() }
        let hash = fnv1a32(Array(relativePath.utf8))
        let hex = String(hash, radix: 16)
        let paddedHex = String(repeating: "0", count: 8 - hex.count) + hex
        return slug.isEmpty ? paddedHex : slug + "-" + paddedHex
    }

    /// FNV-1a, 32 bit: tiny, platform independent, and enough to separate slugs of distinct paths.
    static func fnv1a32(_ bytes: [UInt8]) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    /// The sample key of a pair starting at `frameIndex`: `<videoid>_<frame6>`.
    public static func sampleKey(videoID: String, frameIndex: Int) -> String {
        let digits = String(frameIndex)
        return videoID + "_" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
