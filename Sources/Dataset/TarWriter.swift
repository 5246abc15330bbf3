import Foundation

/// Writes a POSIX ustar archive, streaming members to a file as they come (bounded memory).
///
/// Headers are deterministic so the same samples give byte-identical shards on any machine: mtime 0, uid/gid 0,
/// empty user/group names, mode 0644, regular files only. Members are written in the order appended; callers
/// append a sample's files one after another, which WebDataset needs to group them.
public final class TarWriter {
    public static let blockSize = 512
    private let handle: FileHandle
    private let path: String
    private var buffer: [UInt8] = []
    private let flushThreshold = 1 << 20
    public private(set) var bytesWritten = 0

    /// Creates (truncates) the file at `path`.
    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw DatasetError.output(path: path, reason: "cannot create file")
        }
        self.handle = handle
        self.path = path
    }

    deinit { try? handle.close() }

    public func append(name: String, contents: [UInt8]) throws {
        buffer += try Self.header(name: name, size: contents.count)
        buffer += contents
        let padding = (Self.blockSize - contents.count % Self.blockSize) % Self.blockSize
        buffer += [UInt8](repeating: 0, count: padding)
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Writes the end-of-archive marker (two zero blocks), flushes and closes the file.
    public func finish() throws {
        buffer += [UInt8](repeating: 0, count: 2 * Self.blockSize)
        try flush()
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw DatasetError.output(path: path, reason: "cannot close: \(error.localizedDescription)")
        }
    }

    private func flush() throws {
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw DatasetError.output(path: path, reason: "write failed: \(error.localizedDescription)")
        }
        bytesWritten += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// One 512-byte ustar header. Names longer than 100 bytes are not needed (keys are short, no folders), so
    /// they are refused rather than split into prefix/name.
    static func header(name: String, size: Int) throws -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= 100 else {
            throw DatasetError.usage("tar member name '\(name)' must be 1...100 bytes")
        }
        var block = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int) {
            for (i, byte) in bytes.enumerated() { block[offset + i] = byte }
        }
        /// Numeric fields: zero-padded octal digits followed by NUL, filling the field.
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0]
        }
        put(nameBytes, at: 0)
        put(octal(0o644, width: 8), at: 100)   // mode
        put(octal(0, width: 8), at: 108)       // uid
        put(octal(0, width: 8), at: 116)       // gid
        put(octal(size, width: 12), at: 124)   // size
        put(octal(0, width: 12), at: 136)      // mtime
        put(Array("        ".utf8), at: 148)   // checksum field counts as spaces while summing
        block[156] = UInt8(ascii: "0")         // regular file
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        let checksum = block.reduce(0) { $0 + Int($1) }
        let digits = String(checksum, radix: 8)
        put(Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8) + [0, UInt8(ascii: " ")], at: 148)
        return block
    }
}
