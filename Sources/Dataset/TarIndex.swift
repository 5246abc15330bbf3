import Foundation

/// Where each member of an uncompressed ustar file (a shard written by `preprocess`) lies, read from the headers
/// alone so a large shard is indexed without reading its contents.
public enum TarIndex {
    public struct Member: Sendable, Equatable {
        public let name: String
        /// Byte offset of the member's contents in the file.
        public let offset: UInt64
        public let size: Int
    }

    /// The members in file order; a header that is not ustar-shaped or a member running past the end of the file
    /// is an error naming the file and the byte offset.
    public static func members(ofFile path: String) throws -> [Member] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DatasetError.badInput(path: path, reason: "cannot open")
        }
        defer { try? handle.close() }
        let fileSize = handle.seekToEndOfFile()
        var members: [Member] = []
        var offset: UInt64 = 0
        while offset + 512 <= fileSize {
            handle.seek(toFileOffset: offset)
            let header = [UInt8](handle.readData(ofLength: 512))
            guard header.count == 512, header.contains(where: { $0 != 0 }) else { break }  // end-of-archive blocks
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 8), offset + 512 + UInt64(size) <= fileSize else {
                throw DatasetError.badInput(path: path, reason: "not a tar file (bad member header at byte \(offset))")
            }
            members.append(Member(name: name, offset: offset + 512, size: size))
            offset += 512 + UInt64((size + 511) / 512 * 512)
        }
        return members
    }
}
