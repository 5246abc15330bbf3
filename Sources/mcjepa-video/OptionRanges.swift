import ArgumentParser
import Foundation

/// The ranges numeric options are held to, checked in `validate()` so that an absurd value is a usage error
/// (exit 2) that states the range, before anything is opened or allocated. The limits are far beyond any real
/// use and far below what would crash (a time in seconds converted to 64-bit timestamps) or exhaust the machine
/// (a thread per `--threads`, frames held per `--stride`, pixels per `--size`).
enum OptionRange {
    /// Threads each command starts for decoding, encoding and the network.
    static let threads = 1...256
    /// Frames between the two frames of a pair (the pair's first frame is held until its second arrives).
    static let stride = 1...1000
    /// Longest side, in pixels, of any frame size the user asks for (8192: 8K video).
    static let side = 1...8192
    /// Seconds into, or of, a video (about 115 days: far past any video, far below timestamp overflow).
    static let seconds = 0.0...10_000_000.0

    /// Throws a usage error "--NAME must be in LOW...HIGH, got VALUE" when `value` is outside `range`.
    static func check<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ option: String) throws {
        guard let value else { return }
        guard range.contains(value) else { throw ValidationError("\(option) must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
    }

    /// `--start`: finite, 0 or more, within `seconds`.
    static func checkStart(_ value: Double, _ option: String = "--start") throws {
        guard value.isFinite, seconds.contains(value) else {
            throw ValidationError("\(option) must be a number of seconds in 0...\(Int(seconds.upperBound)), got \(value)")
        }
    }

    /// `--duration`: finite, positive, within `seconds`.
    static func checkDuration(_ value: Double?, _ option: String = "--duration") throws {
        guard let value else { return }
        guard value.isFinite, value > 0, value <= seconds.upperBound else {
            throw ValidationError("\(option) must be a positive number of seconds up to \(Int(seconds.upperBound)), got \(value)")
        }
    }

    /// A finite real option (a learning rate, a weight): NaN and infinities are refused.
    static func checkFinite<T: BinaryFloatingPoint>(_ value: T?, _ option: String) throws {
        guard let value else { return }
        guard value.isFinite else { throw ValidationError("\(option) must be a finite number, got \(value)") }
    }

    /// Refuses a frame size whose working set (`bytesPerPixel` for every pixel, counting every copy the command
    /// keeps) would not fit in this machine's memory, before anything is allocated: an error naming the size.
    static func checkFitsInMemory(width: Int, height: Int, bytesPerPixel: Int, _ option: String) throws {
        let needed = Double(width) * Double(height) * Double(bytesPerPixel)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed <= available / 2 else {
            throw ValidationError("\(option) \(width)x\(height) needs about \(Int(needed / 1e9)) GB, more than half of this machine's \(Int(available / 1e9)) GB")
        }
    }
}
