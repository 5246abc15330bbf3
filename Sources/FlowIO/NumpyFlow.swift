import Foundation

/// NumPy `.npy` holding an H x W x 2 array (u, v), C order. Reads '<f4' and '<f8'; writes '<f4'.
/// The format has no notion of unknown flow, so we write NaN for it and read any non-finite value, or one
/// beyond the Middlebury 1e9 limit, as unknown.
enum NumpyFlow {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    static func decode(_ bytes: [UInt8], file: String) throws -> FlowField {
        var reader = ByteReader(bytes, file: file)
        guard bytes.count >= 6, Array(bytes[0..<6]) == magic else {
            throw FlowIOError(file: file, reason: "not a .npy file (bad magic)")
        }
        try reader.skip(6, "the magic")
        let major = try reader.uint8("the version")
        _ = try reader.uint8("the version")
        let headerLength: Int
        switch major {
        case 1: headerLength = Int(try reader.uint16LE("the header length"))
        case 2, 3: headerLength = Int(try reader.uint32LE("the header length"))
        default: throw FlowIOError(file: file, reason: "unsupported .npy version \(major)")
        }
        let headerBytes = try reader.slice(headerLength, "the header")
        guard let header = String(bytes: headerBytes, encoding: .utf8) else {
            throw FlowIOError(file: file, reason: "the .npy header is not text")
        }
        let descr = try value(of: "descr", in: header, file: file)
        let fortran = try value(of: "fortran_order", in: header, file: file)
        let shapeText = try value(of: "shape", in: header, file: file)
        let elementSize: Int
        switch descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) {
        case "<f4": elementSize = 4
        case "<f8": elementSize = 8
        default: throw FlowIOError(file: file, reason: "unsupported .npy dtype \(descr) (expected '<f4' or '<f8')")
        }
        guard fortran == "False" else {
            throw FlowIOError(file: file, reason: "Fortran-order .npy arrays are not supported")
        }
        let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { Int($0) }
        guard shape.count == 3, let height = shape[0], let width = shape[1], shape[2] == 2, height > 0, width > 0 else {
            throw FlowIOError(file: file, reason: "expected an array of shape (H, W, 2), found \(shapeText)")
        }
        guard let payload = checkedProduct(width, height, 2, elementSize), payload <= reader.remaining else {
            throw FlowIOError(file: file, reason: "truncated: shape \(shapeText) needs more data than the file's \(reader.remaining) bytes")
        }
        let n = width * height
        var u = [Float](repeating: 0, count: n), v = u
        var valid = [Bool](repeating: true, count: n)
        bytes.withUnsafeBufferPointer { buffer in
            let start = reader.offset
            for i in 0..<n {
                let fu: Float, fv: Float
                if elementSize == 4 {
                    fu = float32LE(buffer, start + 8 * i)
                    fv = float32LE(buffer, start + 8 * i + 4)
                } else {
                    fu = Float(float64LE(buffer, start + 16 * i))
                    fv = Float(float64LE(buffer, start + 16 * i + 8))
                }
                if abs(fu) <= MiddleburyFlo.unknownThreshold && abs(fv) <= MiddleburyFlo.unknownThreshold {
                    u[i] = fu
                    v[i] = fv
                } else {
                    valid[i] = false
                }
            }
        }
        return FlowField(width: width, height: height, u: u, v: v, valid: valid)
    }

    /// The text after `'key':` up to the next top-level comma, e.g. "'<f4'" or "(384, 512, 2)".
    private static func value(of key: String, in header: String, file: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
              let colon = header[keyRange.upperBound...].firstIndex(of: ":") else {
            throw FlowIOError(file: file, reason: "the .npy header has no '\(key)'")
        }
        var depth = 0
        var text = ""
        for ch in header[header.index(after: colon)...] {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if (ch == "," && depth == 0) || ch == "}" { break }
            text.append(ch)
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    static func encode(_ flow: FlowField) -> [UInt8] {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(flow.height), \(flow.width), 2), }"
        // NumPy pads the header with spaces so the data starts on a 64-byte boundary, and ends it with "\n".
        let prefix = magic.count + 2 + 2
        while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out = magic + [1, 0]
        out.append(UInt8(header.utf8.count & 0xff))
        out.append(UInt8(header.utf8.count >> 8))
        out += Array(header.utf8)
        out.reserveCapacity(out.count + flow.pixelCount * 8)
        var interleaved = [Float](repeating: .nan, count: flow.pixelCount * 2)
        for i in 0..<flow.pixelCount where flow.valid[i] {
            interleaved[2 * i] = flow.u[i]
            interleaved[2 * i + 1] = flow.v[i]
        }
        out.appendLE(interleaved)
        return out
    }
}
