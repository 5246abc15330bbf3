import Foundation

extension VideoInfo {
    /// What `mcjepa-video info` prints: one labelled line per fact, then the streams.
    public func summary(decodedFrames: Int? = nil) -> String {
        let info = self
        let fps = { (r: Rational) in r.isValid ? String(format: "%.3f", r.doubleValue) : "unknown" }
        var lines = ["\(info.path)"]
        lines.append("  container:  \(info.containerFormat)")
        lines.append("  duration:   \(String(format: "%.3f", info.duration)) s")
        let profile = info.codecProfile.map { " (\($0))" } ?? ""
        lines.append("  video:      stream #\(info.videoStreamIndex), \(info.codecName)\(profile), \(info.pixelFormat)")
        lines.append("  size:       \(info.width)x\(info.height), sample aspect \(info.sampleAspectRatio.num):"
            + "\(info.sampleAspectRatio.den), rotation \(info.rotation)")
        lines.append("  display:    \(info.displayWidth)x\(info.displayHeight)")
        lines.append("  frame rate: \(fps(info.averageFrameRate)) fps average, \(fps(info.realFrameRate)) base, "
            + (info.isVariableFrameRate ? "variable" : "constant"))
        lines.append("  time base:  \(info.timeBase)")
        if let frames = info.metadataFrameCount { lines.append("  frames:     \(frames) (container)") }
        if let decodedFrames { lines.append("  decoded:    \(decodedFrames) frames") }
        lines.append("  streams:")
        for stream in info.streams {
            var details = "    #\(stream.index) \(stream.type) \(stream.codec)"
            if let w = stream.width, let h = stream.height { details += " \(w)x\(h)" }
            if let rate = stream.sampleRate { details += " \(rate) Hz" }
            if let channels = stream.channels { details += " \(channels) ch" }
            if stream.isAttachedPicture { details += " (attached picture)" }
            lines.append(details)
        }
        return lines.joined(separator: "\n")
    }
}
