import Dataset
import Foundation

/// Progress of every command that reads video, on standard error: a redrawn bar with frames/s and ETA on a
/// terminal (`auto`), JSON lines (`json`), or nothing (`none`, and `auto` when standard error is not a terminal,
/// so batch logs stay clean).
///
/// One JSON schema for all commands, one object per line:
/// `{"event":"progress","frames_done":12,"frames_total":36,"fps":3.2,"eta_s":7.5,"elapsed_s":3.7}`
/// (`frames_total` and `eta_s` are null when unknown; a command may add counters of its own, e.g. `pairs`).
/// Reports are throttled to one per `interval` seconds; `finish` always writes the last state. With `json`,
/// whatever else a command tells the user on standard error goes through `note` as
/// `{"event":"note","message":"..."}`, so a JSON reader never meets another line.
public final class ProgressReporter {
    public enum Mode: String, CaseIterable, Sendable {
        case auto, json, none
    }

    /// The mode in effect: `auto` is resolved to a bar (kept as `.auto`) on a terminal, else `.none`.
    public let mode: Mode
    private let interval: Double
    private let write: (String) -> Void
    private let start = Date()
    private var lastReport = -Double.infinity
    private var lastLineLength = 0
    private var barOpen = false

    public init(mode: Mode, interval: Double = 0.5, isTerminal: Bool = isatty(STDERR_FILENO) != 0,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.mode = mode == .auto && !isTerminal ? .none : mode
        self.interval = interval
        self.write = write
    }

    /// Reports `done` of `total` frames; `eta` overrides the estimate from the frame rate (e.g. preprocessing
    /// estimates from the share of videos done); `counters` are added to the JSON object and the bar.
    public func update(done: Int, total: Int?, eta: Double?? = nil, counters: KeyValuePairs<String, Int> = [:],
                       force: Bool = false) {
        let elapsed = Date().timeIntervalSince(start)
        guard mode != .none, force || elapsed - lastReport >= interval else { return }
        lastReport = elapsed
        let total = total.map { max($0, done) }  // a container's estimate can fall short
        let fps = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining: Double? = eta ?? total.flatMap { total in fps > 0 ? max(0, Double(total - done) / fps) : nil }
        switch mode {
        case .none: return
        case .json:
            var fields = ["\"event\":\"progress\"", "\"frames_done\":\(done)", "\"frames_total\":\(total.map(String.init) ?? "null")",
                          String(format: "\"fps\":%.2f", fps), "\"eta_s\":\(remaining.map { String(format: "%.1f", $0) } ?? "null")",
                          String(format: "\"elapsed_s\":%.1f", elapsed)]
            fields += counters.map { "\"\($0.key)\":\($0.value)" }
            write("{\(fields.joined(separator: ","))}\n")
        case .auto:
            var line = ""
            if let total, total > 0 {
                let filled = min(24, 24 * done / total)
                line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled) + "] \(done)/\(total) frames"
            } else {
                line = "\(done) frames"
            }
            line += counters.map { "  \($0.key) \($0.value)" }.joined()
            line += String(format: "  %.1f frames/s  ETA ", fps) + (remaining.map(Self.clock) ?? "--:--")
            write("\r" + line + String(repeating: " ", count: max(0, lastLineLength - line.count)))
            lastLineLength = line.count
            barOpen = true
        }
    }

    /// Writes the final state and ends the bar's line.
    public func finish(done: Int, total: Int?, counters: KeyValuePairs<String, Int> = [:]) {
        update(done: done, total: total ?? done, eta: .some(0), counters: counters, force: true)
        endBar()
    }

    /// A line for the user beside the progress: plain text, or a JSON `note` event in `json` mode.
    public func note(_ message: String) {
        endBar()
        if mode == .json {
            write(Self.jsonLine(event: "note", message: message) + "\n")
        } else {
            write(message + "\n")
        }
    }

    private func endBar() {
        if barOpen { write("\n") }
        barOpen = false
        lastLineLength = 0
    }

    /// `{"event":EVENT,"message":MESSAGE}`: how a message travels among JSON progress lines.
    public static func jsonLine(event: String, message: String) -> String {
        "{\"event\":\(quoted(event)),\"message\":\(quoted(message))}"
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(min(seconds, 1e7).rounded())
        let hours = total / 3600, minutes = total / 60 % 60, secs = total % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%02d:%02d", minutes, secs)
    }
}

extension ProgressReporter {
    /// Preprocessing's progress in the common schema, with its own counters; the ETA comes from the share of
    /// videos done, since the frame total is not known before decoding.
    public func update(_ state: PreprocessProgress, force: Bool = false) {
        let eta = state.videosDone > 0
            ? state.elapsedSeconds * Double(max(0, state.videosTotal - state.videosDone)) / Double(state.videosDone) : nil
        update(done: state.framesDecoded, total: nil, eta: .some(eta), counters: Self.counters(state), force: force)
    }

    public func finish(_ state: PreprocessProgress) {
        finish(done: state.framesDecoded, total: nil, counters: Self.counters(state))
    }

    static func counters(_ state: PreprocessProgress) -> KeyValuePairs<String, Int> {
        ["videos_done": state.videosDone, "videos_total": state.videosTotal, "shards_done": state.shardsDone,
         "shards_total": state.shardsTotal, "pairs": state.pairs]
    }
}
