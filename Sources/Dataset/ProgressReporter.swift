import Foundation

/// Shows preprocessing progress on standard error: a redrawn bar on a terminal, JSON lines for machines
/// (`--progress json`, one object per line), or nothing. Reports are throttled to `interval` seconds.
public final class ProgressReporter {
    public enum Style: String, CaseIterable, Sendable {
        case bar, json, none
    }

    public let style: Style
    private let interval: Double
    private let write: (String) -> Void
    private var lastReport = -Double.infinity
    private var lastLineLength = 0

    public init(style: Style, interval: Double = 0.5,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.style = style
        self.interval = interval
        self.write = write
    }

    /// `bar` only when standard error is a terminal: logs of batch jobs stay clean.
    public static func defaultStyle(requested: Style?) -> Style {
        if let requested { return requested }
        return isatty(STDERR_FILENO) != 0 ? .bar : .none
    }

    public func report(_ progress: PreprocessProgress, force: Bool = false) {
        guard style != .none, force || progress.elapsedSeconds - lastReport >= interval else { return }
        lastReport = progress.elapsedSeconds
        switch style {
        case .none: return
        case .json: write(Self.jsonLine(progress) + "\n")
        case .bar:
            let line = Self.barLine(progress)
            write("\r" + line + String(repeating: " ", count: max(0, lastLineLength - line.count)))
            lastLineLength = line.count
        }
    }

    /// Ends the bar's line so later output starts on a fresh one.
    public func finish(_ progress: PreprocessProgress) {
        report(progress, force: true)
        if style == .bar { write("\n") }
    }

    static func framesPerSecond(_ progress: PreprocessProgress) -> Double {
        progress.elapsedSeconds > 0 ? Double(progress.framesDecoded) / progress.elapsedSeconds : 0
    }

    /// Remaining time from the share of videos done; nil until the first video is done.
    static func etaSeconds(_ progress: PreprocessProgress) -> Double? {
        guard progress.videosDone > 0 else { return nil }
        let remaining = max(0, progress.videosTotal - progress.videosDone)
        return progress.elapsedSeconds * Double(remaining) / Double(progress.videosDone)
    }

    static func jsonLine(_ progress: PreprocessProgress) -> String {
        let eta = etaSeconds(progress).map { String(format: "%.1f", $0) } ?? "null"
        return "{\"event\":\"progress\",\"videos_done\":\(progress.videosDone),\"videos_total\":\(progress.videosTotal),"
            + "\"shards_done\":\(progress.shardsDone),\"shards_total\":\(progress.shardsTotal),"
            + "\"pairs\":\(progress.pairs),\"frames_decoded\":\(progress.framesDecoded),"
            + "\"frames_per_second\":\(String(format: "%.1f", framesPerSecond(progress))),"
            + "\"elapsed_s\":\(String(format: "%.1f", progress.elapsedSeconds)),\"eta_s\":\(eta)}"
    }

    static func barLine(_ progress: PreprocessProgress) -> String {
        let width = 24
        let fraction = progress.videosTotal > 0 ? Double(progress.videosDone) / Double(progress.videosTotal) : 1
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = etaSeconds(progress).map(clock) ?? "--:--"
        return "[\(bar)] videos \(progress.videosDone)/\(progress.videosTotal)  pairs \(progress.pairs)  "
            + String(format: "%.1f", framesPerSecond(progress)) + " frames/s  ETA \(eta)"
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let hours = total / 3600, minutes = total / 60 % 60, secs = total % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%02d:%02d", minutes, secs)
    }
}
