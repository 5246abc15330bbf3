import AtomicOutput
import Foundation

// Safetensors (https://github.com/huggingface/safetensors) read and write:
//   8-byte little-endian header length L | L bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
//   "__metadata__": {string: string}} | raw little-endian tensor data, offsets relative to the end of the header.
// The reader checks everything a truncated or hostile file could get wrong (header length, exact integer offsets
// and shapes, sizes, overlapping or uncovered bytes, non-finite values) and names the offending tensor; F32 is read
// as is, F16/BF16/F64/I64/I32 are converted to Float. The writer refuses non-finite values, so a diverged model is
// never saved as if it were one.

public struct SafetensorsError: Error, CustomStringConvertible {
    /// A file that is not valid (reading, or values that must not be written), or a failed write.
    public enum Kind: Sendable { case invalid, outputExists, cannotWrite }
    public let path: String
    public let reason: String
    public var kind: Kind = .invalid
    public var description: String { "\(path): \(reason)" }
}

public enum Safetensors {
    /// Largest header accepted (the format's reference implementation uses 100 MB as well).
    static let maxHeaderBytes = 100_000_000
    /// Largest element count accepted for one tensor (catches absurd shapes before any allocation).
    static let maxElements = 1 << 34

    /// Reads every tensor of a safetensors file, converted to Float32.
    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) }
        catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw SafetensorsError(path: path, reason: exists ? "cannot read the file" : "cannot read: no such file")
        }
        return try parse(data, path: path)
    }

    /// Parses a safetensors image held in memory; `path` only names it in errors.
    public static func parse(_ data: Data, path: String = "<memory>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: path, reason: reason) }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maxHeaderBytes), Int(headerLength) <= data.count - 8 else {
            throw fail("header length \(headerLength) exceeds the file size \(data.count) or the \(maxHeaderBytes)-byte limit")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) }
        catch { throw fail("header is not valid JSON") }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let meta = meta as? [String: Any] else { throw fail("__metadata__ is not an object") }
            for (key, value) in meta {
                guard let text = value as? String else { throw fail("__metadata__ value for \(key) is not a string") }
                metadata[key] = text
            }
        }
        let dataLength = data.count - headerEnd
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, entry) in header where name != "__metadata__" {
            guard let info = entry as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [Any], let offsetValues = info["data_offsets"] as? [Any] else {
                throw fail("tensor \(name): entry needs dtype, shape and data_offsets")
            }
            // Exact integers only: NSNumber.intValue would truncate 2.5 to 2 and wrap 2^64 to 0, which then
            // passes every bounds check and reads the wrong bytes.
            let shape = shapeValues.compactMap { exactInteger($0, limit: maxElements) }
            guard shape.count == shapeValues.count else {
                throw fail("tensor \(name): shape \(shapeValues) is not a list of non-negative integers up to \(maxElements)")
            }
            var elements = 1
            for dimension in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= maxElements else { throw fail("tensor \(name): absurd shape \(shape)") }
                elements = product
            }
            let offsets = offsetValues.compactMap { exactInteger($0, limit: dataLength) }
            guard offsetValues.count == 2 else { throw fail("tensor \(name): data_offsets must be [begin, end]") }
            guard offsets.count == 2, offsets[0] <= offsets[1] else {
                throw fail("tensor \(name): data_offsets \(offsetValues) outside the \(dataLength)-byte data section")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard let elementSize = byteSize(of: dtype) else { throw fail("tensor \(name): unsupported dtype \(dtype)") }
            guard end - begin == elements * elementSize else {
                throw fail("tensor \(name): \(end - begin) bytes for shape \(shape) of \(dtype) (expected \(elements * elementSize))")
            }
            entries.append((name, dtype, shape, begin, end))
        }
        // As the reference implementation requires: in offset order, each tensor starts where the previous one
        // ended, so no two overlap, no bytes are left between them, and together they cover the data exactly.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for entry in entries {
            guard entry.begin == covered else {
                throw fail(entry.begin < covered
                           ? "tensor \(entry.name): data_offsets [\(entry.begin), \(entry.end)] overlap the previous tensor (which ends at \(covered))"
                           : "tensor \(entry.name): data_offsets [\(entry.begin), \(entry.end)] leave bytes \(covered)..<\(entry.begin) unused")
            }
            covered = entry.end
        }
        guard covered == dataLength else {
            throw fail("the tensors cover \(covered) of the \(dataLength) bytes of the data section")
        }
        var tensors: [String: Tensor] = [:]
        for entry in entries {
            let elements = entry.shape.reduce(1, *)
            let tensor = Tensor(shape: entry.shape)
            data.withUnsafeBytes { raw in
                convert(UnsafeRawBufferPointer(rebasing: raw[(headerEnd + entry.begin)..<(headerEnd + entry.end)]),
                        dtype: entry.dtype, into: tensor.data, count: elements)
            }
            // A NaN or infinity (or an F64 too large for Float) would flow silently into every output.
            if let index = (0..<elements).first(where: { !tensor.data[$0].isFinite }) {
                throw fail("tensor \(entry.name): value \(tensor.data[index]) at index \(index) is not finite")
            }
            tensors[entry.name] = tensor
        }
        return (tensors, metadata)
    }

    /// Writes tensors as F32 (names sorted, so files are reproducible), atomically (temporary file + rename).
    /// - Parameter replace: false refuses an existing `path`, checked at the rename.
    /// - Throws: `SafetensorsError` naming the first tensor holding a NaN or an infinity (nothing is written),
    ///   or the write error (a full disk, an existing file); `kind` tells which.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String,
                             replace: Bool = true) throws {
        for name in tensors.keys.sorted() {
            let tensor = tensors[name]!
            if let index = (0..<tensor.count).first(where: { !tensor.data[$0].isFinite }) {
                throw SafetensorsError(path: path, reason: "tensor \(name): value \(tensor.data[index]) at index \(index) is not finite; nothing written")
            }
        }
        do {
            try AtomicOutput.write(try serialize(tensors, metadata: metadata), to: path, replace: replace)
        } catch let error as AtomicOutputError {
            throw SafetensorsError(path: path, reason: error.reason, kind: error.kind == .exists ? .outputExists : .cannotWrite)
        }
    }

    public static func serialize(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var entries: [String] = []
        var offset = 0
        let names = tensors.keys.sorted()
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        for name in names {
            let tensor = tensors[name]!
            let bytes = tensor.count * 4
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                           + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        // Pad the header with spaces so the data section starts 8-byte aligned (allowed by the format).
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for name in names {
            let tensor = tensors[name]!
            // Every platform Swift and OpenBLAS run on here is little-endian, so the buffer is the file layout.
            data.append(UnsafeBufferPointer(start: tensor.data, count: tensor.count))
        }
        return data
    }

    private static func jsonString(_ text: String) -> String {
        let encoded = try? JSONSerialization.data(withJSONObject: [text], options: [])
        let array = encoded.flatMap { String(data: $0, encoding: .utf8) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }

    /// A JSON number that is exactly an integer in 0...limit, or nil (fractions, negatives, values past the
    /// limit and strings give nil). Every limit here is far below 2^53, where Double holds every integer exactly,
    /// so the test in Double decides without the wrap-around of `NSNumber.intValue` (2^64 read as 0).
    static func exactInteger(_ value: Any, limit: Int) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double >= 0, double.rounded() == double, double <= Double(limit) else { return nil }
        return Int(double)
    }

    static func byteSize(of dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32": return 4
        case "F16", "BF16": return 2
        case "F64", "I64": return 8
        default: return nil
        }
    }

    private static func convert(_ raw: UnsafeRawBufferPointer, dtype: String, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            switch dtype {
            case "F32": dst[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case "I32": dst[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            case "F64": dst[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            case "I64": dst[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            case "BF16":
                let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                dst[i] = Float(bitPattern: UInt32(bits) << 16)
            default: // F16
                dst[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        }
    }

    /// IEEE 754 binary16 to Float (Float16 is not available on every Swift platform).
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F), mantissa = Float(bits & 0x3FF)
        if exponent == 0 { return sign * mantissa * Float(pow(2.0, -24.0)) }
        if exponent == 31 { return mantissa == 0 ? sign * .infinity : .nan }
        return sign * (1 + mantissa / 1024) * Float(pow(2.0, Double(exponent - 15)))
    }
}
