/// A DEFLATE (RFC 1951) decoder, after Mark Adler's `puff.c`: canonical Huffman codes, decoded through a
/// 9-bit lookup table for the common short codes and bit by bit (puff's way) for the rest.
///
/// Why our own: Foundation on Linux exposes no zlib API, and linking the system zlib would need `zlib1g-dev`,
/// which our install script (FFmpeg + OpenBLAS dev packages) does not pull in on a clean machine. Flow PNGs are
/// the only compressed thing FlowIO reads, so a small, bounds-checked decoder is the lighter dependency.
/// `maxOutput` caps the output at the size the PNG header promises, so a corrupt or hostile stream cannot grow
/// memory beyond what the image itself would need.
struct Inflater {
    struct Failure: Error { let reason: String }

    private let input: [UInt8]
    private var position: Int
    private var bitBuffer: UInt32 = 0
    private var bitCount: UInt32 = 0
    private(set) var output: [UInt8] = []
    private let maxOutput: Int

    /// Canonical Huffman code: how many codes of each length 0...15, and the symbols in code order.
    private struct Huffman {
        static let fastBits = 9
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int]
        /// Indexed by the next `fastBits` input bits (first bit lowest): symbol << 4 | code length, or -1 when
        /// the code is longer than `fastBits`.
        var fast = [Int32](repeating: -1, count: 1 << fastBits)

        init(lengths: ArraySlice<Int>) throws {
            symbols = [Int](repeating: 0, count: lengths.count)
            for length in lengths { counts[length] += 1 }
            var left = 1
            for length in 1...15 {
                left <<= 1
                left -= counts[length]
                if left < 0 { throw Failure(reason: "over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
            // Canonical codes: consecutive values within a length, in symbol order (RFC 1951 3.2.2). Input
            // bits arrive first-bit-lowest, so the table is indexed by the bit-reversed code.
            var next = 0
            var index = 0
            for length in 1...Huffman.fastBits {
                for _ in 0..<counts[length] {
                    var reversed = 0
                    for bit in 0..<length where next & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
                    var fill = reversed
                    while fill < (1 << Huffman.fastBits) {
                        fast[fill] = Int32(symbols[index] << 4 | length)
                        fill += 1 << length
                    }
                    next += 1
                    index += 1
                }
                next <<= 1
            }
        }
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
                                     99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11,
                                        11, 12, 12, 13, 13]
    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Decodes a raw DEFLATE stream starting at `start`; returns the bytes and where the stream ended.
    static func inflate(_ input: [UInt8], from start: Int, maxOutput: Int) throws -> (bytes: [UInt8], end: Int) {
        var inflater = Inflater(input: input, position: start, maxOutput: maxOutput)
        try inflater.run()
        return (inflater.output, inflater.position)
    }

    private init(input: [UInt8], position: Int, maxOutput: Int) {
        self.input = input
        self.position = position
        self.maxOutput = maxOutput
    }

    private mutating func bits(_ count: UInt32) throws -> Int {
        var value = bitBuffer
        while bitCount < count {
            guard position < input.count else { throw Failure(reason: "compressed data ends early") }
            value |= UInt32(input[position]) << bitCount
            position += 1
            bitCount += 8
        }
        bitBuffer = count == 32 ? 0 : value >> count
        bitCount -= count
        return Int(value & ((1 << count) - 1))
    }

    private mutating func run() throws {
        var last = false
        while !last {
            last = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(literal: Inflater.fixedLiteral, distance: Inflater.fixedDistance)
            case 2:
                let (literal, distance) = try dynamicTables()
                try codes(literal: literal, distance: distance)
            default: throw Failure(reason: "invalid block type")
            }
        }
        alignToByte()
    }

    /// Gives back whole bytes the look-ahead in `decode` took but did not use, so byte-aligned reads (stored
    /// blocks, the zlib trailer) start at the right byte; the partial byte's bits are dropped.
    private mutating func alignToByte() {
        position -= Int(bitCount / 8)
        bitBuffer = 0
        bitCount = 0
    }

    private mutating func stored() throws {
        alignToByte()
        guard position + 4 <= input.count else { throw Failure(reason: "compressed data ends early") }
        let length = Int(input[position]) | Int(input[position + 1]) << 8
        let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
        position += 4
        guard length == (~complement & 0xffff) else { throw Failure(reason: "stored block length check failed") }
        guard position + length <= input.count else { throw Failure(reason: "compressed data ends early") }
        guard output.count + length <= maxOutput else { throw Failure(reason: "decompresses to more data than the image holds") }
        output += input[position..<position + length]
        position += length
    }

    private mutating func decode(_ code: Huffman) throws -> Int {
        // Look ahead up to 9 bits; near the end of the input fewer may exist, and a short code still fits.
        while bitCount < UInt32(Huffman.fastBits), position < input.count {
            bitBuffer |= UInt32(input[position]) << bitCount
            position += 1
            bitCount += 8
        }
        let entry = code.fast[Int(bitBuffer & UInt32((1 << Huffman.fastBits) - 1))]
        if entry >= 0, UInt32(entry & 15) <= bitCount {
            bitBuffer >>= UInt32(entry & 15)
            bitCount -= UInt32(entry & 15)
            return Int(entry >> 4)
        }
        var value = 0, first = 0, index = 0
        for length in 1...15 {
            value |= try bits(1)
            let count = code.counts[length]
            if value - count < first { return code.symbols[index + (value - first)] }
            index += count
            first += count
            first <<= 1
            value <<= 1
        }
        throw Failure(reason: "invalid Huffman code")
    }

    private mutating func codes(literal: Huffman, distance: Huffman) throws {
        while true {
            let symbol = try decode(literal)
            if symbol < 256 {
                guard output.count < maxOutput else { throw Failure(reason: "decompresses to more data than the image holds") }
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let lengthSymbol = symbol - 257
                guard lengthSymbol < 29 else { throw Failure(reason: "invalid length code") }
                let length = Inflater.lengthBase[lengthSymbol] + (try bits(UInt32(Inflater.lengthExtra[lengthSymbol])))
                let distanceSymbol = try decode(distance)
                guard distanceSymbol < 30 else { throw Failure(reason: "invalid distance code") }
                let back = Inflater.distanceBase[distanceSymbol] + (try bits(UInt32(Inflater.distanceExtra[distanceSymbol])))
                guard back <= output.count else { throw Failure(reason: "distance reaches before the start") }
                guard output.count + length <= maxOutput else { throw Failure(reason: "decompresses to more data than the image holds") }
                // Byte by byte: a copy may overlap the bytes it is producing (run-length encoding).
                let from = output.count - back
                for k in 0..<length { output.append(output[from + k]) }
            }
        }
    }

    private mutating func dynamicTables() throws -> (Huffman, Huffman) {
        let literalCount = try bits(5) + 257
        let distanceCount = try bits(5) + 1
        let codeLengthCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw Failure(reason: "bad dynamic block counts") }
        var codeLengthLengths = [Int](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengthLengths[Inflater.codeLengthOrder[i]] = try bits(3) }
        let codeLengthCode = try Huffman(lengths: codeLengthLengths[...])
        var lengths = [Int]()
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try decode(codeLengthCode)
            if symbol < 16 {
                lengths.append(symbol)
                continue
            }
            var repeated = 0, count = 0
            switch symbol {
            case 16:
                guard let previous = lengths.last else { throw Failure(reason: "repeat with no previous length") }
                repeated = previous
                count = 3 + (try bits(2))
            case 17: count = 3 + (try bits(3))
            default: count = 11 + (try bits(7))
            }
            guard lengths.count + count <= literalCount + distanceCount else { throw Failure(reason: "too many code lengths") }
            lengths += [Int](repeating: repeated, count: count)
        }
        guard lengths[256] != 0 else { throw Failure(reason: "no end-of-block code") }
        return (try Huffman(lengths: lengths[0..<literalCount]),
                try Huffman(lengths: lengths[literalCount..<literalCount + distanceCount]))
    }

    private static let fixedLiteral: Huffman = {
        var lengths = [Int](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        return try! Huffman(lengths: lengths[...])
    }()

    private static let fixedDistance: Huffman = try! Huffman(lengths: [Int](repeating: 5, count: 30)[...])
}
