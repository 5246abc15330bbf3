/// Just enough PNG for flow maps: decoding non-interlaced 8/16-bit grey/RGB/RGBA images into 16-bit samples,
/// and encoding 16-bit RGB with stored (uncompressed) zlib blocks. See `Inflate.swift` for why no system zlib.
struct PNG16 {
    let width: Int
    let height: Int
    let channels: Int
    /// Row-major, `channels` samples per pixel, widened to 16 bits.
    let samples: [UInt16]

    static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    /// More pixels than any flow map we expect (a 16k x 16k image); bigger headers are treated as corrupt.
    static let maxPixels = 1 << 28

    static func decode(_ bytes: [UInt8], file: String) throws -> PNG16 {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw FlowIOError(file: file, reason: "not a PNG file (bad signature)")
        }
        var reader = ByteReader(bytes, file: file)
        try reader.skip(8, "the signature")
        var header: (width: Int, height: Int, depth: Int, colorType: Int)?
        var compressed = [UInt8]()
        chunks: while true {
            let length = Int(try reader.uint32BE("a chunk length"))
            let typeAndData = try reader.slice(4 + length, "a chunk")
            let crc = try reader.uint32BE("a chunk checksum")
            guard crc == Zlib.crc32(typeAndData) else {
                throw FlowIOError(file: file, reason: "corrupt PNG (chunk checksum mismatch)")
            }
            let type = String(decoding: typeAndData.prefix(4), as: UTF8.self)
            let data = typeAndData.dropFirst(4)
            switch type {
            case "IHDR":
                var ihdr = ByteReader(Array(data), file: file)
                let width = Int(try ihdr.uint32BE("the PNG header")), height = Int(try ihdr.uint32BE("the PNG header"))
                let depth = Int(try ihdr.uint8("the PNG header")), colorType = Int(try ihdr.uint8("the PNG header"))
                _ = try ihdr.uint8("the PNG header")
                _ = try ihdr.uint8("the PNG header")
                let interlace = try ihdr.uint8("the PNG header")
                guard width > 0, height > 0, let pixels = checkedProduct(width, height), pixels <= maxPixels else {
                    throw FlowIOError(file: file, reason: "absurd PNG size \(width)x\(height)")
                }
                guard depth == 8 || depth == 16, [0, 2, 4, 6].contains(colorType) else {
                    throw FlowIOError(file: file, reason: "unsupported PNG format (bit depth \(depth), colour type \(colorType))")
                }
                guard interlace == 0 else { throw FlowIOError(file: file, reason: "interlaced PNGs are not supported") }
                header = (width, height, depth, colorType)
            case "IDAT":
                compressed += data
            case "IEND":
                break chunks
            default:
                continue
            }
        }
        guard let (width, height, depth, colorType) = header else {
            throw FlowIOError(file: file, reason: "corrupt PNG (no IHDR chunk)")
        }
        let channels = [0: 1, 2: 3, 4: 2, 6: 4][colorType]!
        let bytesPerPixel = channels * depth / 8
        let rowBytes = width * bytesPerPixel
        let raw: [UInt8]
        do {
            raw = try Zlib.decompress(compressed, maxOutput: height * (rowBytes + 1))
        } catch let failure as Inflater.Failure {
            throw FlowIOError(file: file, reason: "corrupt PNG image data (\(failure.reason))")
        }
        guard raw.count == height * (rowBytes + 1) else {
            throw FlowIOError(file: file, reason: "truncated: PNG image data holds \(raw.count) of \(height * (rowBytes + 1)) bytes")
        }
        let pixels = try unfilter(raw, rowBytes: rowBytes, bytesPerPixel: bytesPerPixel, height: height, file: file)
        var samples = [UInt16](repeating: 0, count: width * height * channels)
        pixels.withUnsafeBufferPointer { bytes in
            samples.withUnsafeMutableBufferPointer { samples in
                for i in 0..<samples.count {
                    samples[i] = depth == 16 ? UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1])
                        : UInt16(bytes[i]) * 257  // 8-bit v -> 16-bit v * 257 spans 0...65535
                }
            }
        }
        return PNG16(width: width, height: height, channels: channels, samples: samples)
    }

    /// Undoes PNG's per-row prediction filters (None, Sub, Up, Average, Paeth), one filter per row.
    private static func unfilter(_ raw: [UInt8], rowBytes: Int, bytesPerPixel bpp: Int, height: Int,
                                 file: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        var badFilter: UInt8?
        raw.withUnsafeBufferPointer { raw in
            out.withUnsafeMutableBufferPointer { out in
                for y in 0..<height where badFilter == nil {
                    let filter = raw[y * (rowBytes + 1)]
                    let src = y * (rowBytes + 1) + 1, dst = y * rowBytes, up = dst - rowBytes
                    // Bytes left of the first pixel and above the first row count as 0.
                    @inline(__always) func left(_ i: Int) -> Int { i >= bpp ? Int(out[dst + i - bpp]) : 0 }
                    @inline(__always) func above(_ i: Int) -> Int { y > 0 ? Int(out[up + i]) : 0 }
                    @inline(__always) func aboveLeft(_ i: Int) -> Int { (y > 0 && i >= bpp) ? Int(out[up + i - bpp]) : 0 }
                    switch filter {
                    case 0:
                        for i in 0..<rowBytes { out[dst + i] = raw[src + i] }
                    case 1:
                        for i in 0..<rowBytes { out[dst + i] = raw[src + i] &+ UInt8(left(i)) }
                    case 2:
                        for i in 0..<rowBytes { out[dst + i] = raw[src + i] &+ UInt8(above(i)) }
                    case 3:
                        for i in 0..<rowBytes { out[dst + i] = raw[src + i] &+ UInt8((left(i) + above(i)) / 2) }
                    case 4:
                        for i in 0..<rowBytes {
                            let a = left(i), b = above(i), c = aboveLeft(i)
                            let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                            out[dst + i] = raw[src + i] &+ UInt8((pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c))
                        }
                    default:
                        badFilter = filter
                    }
                }
            }
        }
        if let badFilter { throw FlowIOError(file: file, reason: "corrupt PNG (unknown row filter \(badFilter))") }
        return out
    }

    /// A 16-bit RGB PNG (colour type 2), rows unfiltered, data in stored zlib blocks.
    static func encodeRGB16(width: Int, height: Int, samples: [UInt16]) -> [UInt8] {
        precondition(samples.count == width * height * 3)
        // Each row: filter byte 0 (None), then big-endian samples.
        var raw = [UInt8](repeating: 0, count: height * (1 + width * 6))
        for y in 0..<height {
            let rowStart = y * (1 + width * 6) + 1
            for k in 0..<(width * 3) {
                let sample = samples[y * width * 3 + k]
                raw[rowStart + 2 * k] = UInt8(sample >> 8)
                raw[rowStart + 2 * k + 1] = UInt8(sample & 0xff)
            }
        }
        var ihdr = [UInt8]()
        ihdr.appendBE(UInt32(width))
        ihdr.appendBE(UInt32(height))
        ihdr += [16, 2, 0, 0, 0]
        var out = signature
        appendChunk("IHDR", ihdr, to: &out)
        appendChunk("IDAT", Zlib.storedStream(raw), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        out.appendBE(UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        out += typeAndData
        out.appendBE(Zlib.crc32(typeAndData))
    }
}

/// KITTI flow PNG: 16-bit RGB with R = u * 64 + 2^15, G = v * 64 + 2^15, B = 1 where the flow is known.
/// Values beyond the +-512 px the encoding can hold are clamped when writing.
enum KittiFlowPNG {
    static func decode(_ bytes: [UInt8], file: String) throws -> FlowField {
        let png = try PNG16.decode(bytes, file: file)
        guard png.channels >= 3 else {
            throw FlowIOError(file: file, reason: "a KITTI flow PNG needs 3 channels (R=u, G=v, B=valid), found \(png.channels)")
        }
        let n = png.width * png.height
        var u = [Float](repeating: 0, count: n), v = u
        var valid = [Bool](repeating: false, count: n)
        for i in 0..<n {
            let base = i * png.channels
            guard png.samples[base + 2] > 0 else { continue }
            u[i] = (Float(png.samples[base]) - 32768) / 64
            v[i] = (Float(png.samples[base + 1]) - 32768) / 64
            valid[i] = true
        }
        return FlowField(width: png.width, height: png.height, u: u, v: v, valid: valid)
    }

    static func encode(_ flow: FlowField) -> [UInt8] {
        func quantise(_ value: Float) -> UInt16 {
            UInt16(min(max((value * 64 + 32768).rounded(), 0), 65535))
        }
        var samples = [UInt16](repeating: 0, count: flow.pixelCount * 3)
        for i in 0..<flow.pixelCount where flow.valid[i] {
            samples[3 * i] = quantise(flow.u[i])
            samples[3 * i + 1] = quantise(flow.v[i])
            samples[3 * i + 2] = 1
        }
        return PNG16.encodeRGB16(width: flow.width, height: flow.height, samples: samples)
    }
}
