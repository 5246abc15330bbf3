import AtomicOutput
import Foundation

/// Bounds-checked reading of a file's bytes. Every read past the end throws "truncated" instead of trapping,
/// because the bytes come from files we did not write.
struct ByteReader {
    let bytes: [UInt8]
    let file: String
    private(set) var offset = 0

    init(_ bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    func truncated(_ what: String) -> FlowIOError {
        FlowIOError(file: file, reason: "truncated: \(what) needs more bytes than the file's \(bytes.count)")
    }

    mutating func skip(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= remaining else { throw truncated(what) }
        offset += count
    }

    mutating func uint8(_ what: String) throws -> UInt8 {
        guard remaining >= 1 else { throw truncated(what) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint32LE(_ what: String) throws -> UInt32 {
        guard remaining >= 4 else { throw truncated(what) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    mutating func uint32BE(_ what: String) throws -> UInt32 {
        guard remaining >= 4 else { throw truncated(what) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func uint16LE(_ what: String) throws -> UInt16 {
        guard remaining >= 2 else { throw truncated(what) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    mutating func slice(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw truncated(what) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
}

/// Little-endian float decoding from a byte array; callers have already checked the length.
@inline(__always)
func float32LE(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> Float {
    Float(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
        | UInt32(bytes[at + 3]) << 24)
}

@inline(__always)
func float32BE(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> Float {
    Float(bitPattern: UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8
        | UInt32(bytes[at + 3]))
}

@inline(__always)
func float64LE(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> Double {
    var bits: UInt64 = 0
    for i in 0..<8 { bits |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
    return Double(bitPattern: bits)
}

/// Appends little-endian encodings to a byte array (all our writers write little-endian).
extension Array where Element == UInt8 {
    mutating func appendLE(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 24))
    }

    mutating func appendBE(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendLE(_ value: Float) { appendLE(value.bitPattern) }

    /// Appends many floats at once (flow payloads are megabytes; byte-by-byte appends dominate write time).
    mutating func appendLE(_ values: [Float]) {
        let bits = values.map { $0.bitPattern.littleEndian }
        bits.withUnsafeBytes { append(contentsOf: $0) }
    }
}

/// Reads a whole file, turning Foundation's error into our one-line form.
func readFileBytes(_ url: URL) throws -> [UInt8] {
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        let exists = FileManager.default.fileExists(atPath: url.path)
        throw FlowIOError(url: url, reason: exists ? "cannot be read" : "no such file")
    }
}

/// Writes through a temporary name and a rename, so no half-written flow file is ever left behind.
func writeFileBytes(_ bytes: [UInt8], to url: URL) throws {
    do {
        try AtomicOutput.write(bytes, to: url.path)
    } catch let error as AtomicOutputError {
        throw FlowIOError(url: url, reason: "cannot be written (\(error.reason))", isAboutOutput: true)
    }
}
