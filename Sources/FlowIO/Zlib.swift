/// The zlib wrapper (RFC 1950) around DEFLATE, as PNG's IDAT data uses it, plus the checksums PNG needs.
enum Zlib {
    /// Decompresses a zlib stream to at most `maxOutput` bytes, checking the header and the Adler-32 trailer.
    static func decompress(_ data: [UInt8], maxOutput: Int) throws -> [UInt8] {
        guard data.count >= 2 else { throw Inflater.Failure(reason: "compressed data ends early") }
        let cmf = Int(data[0]), flags = Int(data[1])
        guard cmf & 0x0f == 8, (cmf << 8 | flags) % 31 == 0 else { throw Inflater.Failure(reason: "bad zlib header") }
        guard flags & 0x20 == 0 else { throw Inflater.Failure(reason: "zlib preset dictionaries are not supported") }
        let (bytes, end) = try Inflater.inflate(data, from: 2, maxOutput: maxOutput)
        guard end + 4 <= data.count else { throw Inflater.Failure(reason: "compressed data ends early") }
        let stored = UInt32(data[end]) << 24 | UInt32(data[end + 1]) << 16 | UInt32(data[end + 2]) << 8 | UInt32(data[end + 3])
        guard stored == adler32(bytes) else { throw Inflater.Failure(reason: "zlib checksum mismatch") }
        return bytes
    }

    /// Wraps bytes in a zlib stream of stored (uncompressed) DEFLATE blocks. Files are larger than zlib's, but
    /// any PNG reader opens them and writing needs no compressor; flow PNGs are written rarely.
    static func storedStream(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        out.reserveCapacity(data.count + data.count / 65535 * 5 + 16)
        var start = 0
        repeat {
            let length = min(65535, data.count - start)
            let last = start + length == data.count
            out.append(last ? 1 : 0)
            out.append(UInt8(length & 0xff))
            out.append(UInt8(length >> 8))
            out.append(UInt8(~length & 0xff))
            out.append(UInt8((~length >> 8) & 0xff))
            out += data[start..<start + length]
            start += length
        } while start < data.count
        out.appendBE(adler32(data))
        return out
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var index = 0
        // 5552 is the most bytes that can be summed before b may overflow 32 bits (zlib's NMAX).
        while index < data.count {
            let end = min(index + 5552, data.count)
            for i in index..<end {
                a &+= UInt32(data[i])
                b &+= a
            }
            a %= 65521
            b %= 65521
            index = end
        }
        return b << 16 | a
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<S: Sequence>(_ data: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xffff_ffff
        for byte in data { c = crcTable[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xffff_ffff
    }
}
