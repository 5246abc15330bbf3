import ArgumentParser
import Foundation

/// Progress on stderr: a bar with frames/s and ETA on a terminal, JSON lines with --progress json, nothing else.
enum FlowProgressMode: String, ExpressibleByArgument, CaseIterable { case auto, json, none }

final class FlowProgressReporter {
    private let mode: FlowProgressMode
    private let total: Int?
    private let start = Date()
    private var lastDraw = Date.distantPast

    init(mode: FlowProgressMode, total: Int?) {
        self.mode = mode == .auto ? (isatty(2) != 0 ? .auto : .none) : mode
        self.total = total
    }

    func update(frames: Int, pairs: Int) {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(frames) / elapsed : 0
        let eta = total.flatMap { total in rate > 0 ? max(0, Double(total - frames) / rate) : nil }
        switch mode {
        case .none: return
        case .json:
            var fields = ["\"frames\":\(frames)", "\"pairs\":\(pairs)", String(format: "\"fps\":%.2f", rate)]
            if let total { fields.append("\"total_frames\":\(total)") }
            if let eta { fields.append(String(format: "\"eta_s\":%.1f", eta)) }
            FileHandle.standardError.write(Data("{\(fields.joined(separator: ","))}\n".utf8))
        case .auto:
            // Redraw at most 10 times a second: terminals are slow.
            guard Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            var line = "\r"
            if let total, total > 0 {
                let filled = min(30, 30 * frames / total)
                line += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled) + "] \(frames)/\(total) frames"
            } else {
                line += "\(frames) frames"
            }
            line += String(format: ", %.1f frames/s", rate)
            if let eta { line += String(format: ", ETA %.0f s", eta) }
            FileHandle.standardError.write(Data((line + "   ").utf8))
        }
    }

    func finish() {
        if mode == .auto { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
