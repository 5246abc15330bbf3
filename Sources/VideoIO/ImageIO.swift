import AtomicOutput
import CFFmpeg
import Foundation

/// Reads a still image (PNG, JPEG, BMP, TIFF, WebP, ... whatever FFmpeg's image decoders read) as packed RGB.
/// - Throws: `VideoIOError` naming the file ("cannot open", "cannot decode", "no video frames").
public func readImage(path: String) throws -> RGBImage {
    let input = try openImage(path: path)
    let frame = input.frame.pointee
    let geometry = FrameGeometry(width: Int(frame.width), height: Int(frame.height), sar: Rational(1, 1),
                                 rotation: 0, size: .native)
    let rgb = try RGBConverter().convert(input.frame, geometry: geometry, path: path)
    return RGBImage(width: geometry.outputWidth, height: geometry.outputHeight, rgb: rgb)
}

/// A single-channel 8-bit picture: a label map or a grayscale mask.
public struct LabelImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// One byte per pixel, row-major.
    public var labels: [UInt8]
    /// The file's palette as RGB triplets (256 entries) for palette images; nil for grayscale.
    public var palette: [UInt8]?

    public init(width: Int, height: Int, labels: [UInt8], palette: [UInt8]? = nil) {
        precondition(labels.count == width * height, "labels must hold width * height bytes")
        self.width = width
        self.height = height
        self.labels = labels
        self.palette = palette
    }
}

/// Reads a mask or label image: palette indices for palette PNGs (DAVIS annotations), the gray value for
/// grayscale images (8-bit, or the high byte of 16-bit; alpha is ignored).
/// - Throws: `VideoIOError` "not a label image" for colour images.
public func readLabelImage(path: String) throws -> LabelImage {
    let input = try openImage(path: path)
    let frame = input.frame.pointee
    let width = Int(frame.width)
    let height = Int(frame.height)
    let format = AVPixelFormat(rawValue: frame.format)
    // Bytes per pixel and which byte of a pixel holds the value.
    let layout: (step: Int, offset: Int)
    switch format {
    case AV_PIX_FMT_PAL8, AV_PIX_FMT_GRAY8: layout = (1, 0)
    case AV_PIX_FMT_YA8: layout = (2, 0)
    case AV_PIX_FMT_GRAY16BE, AV_PIX_FMT_YA16BE: layout = (format == AV_PIX_FMT_GRAY16BE ? 2 : 4, 0)
    case AV_PIX_FMT_GRAY16LE: layout = (2, 1)
    default:
        let name = av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown"
        throw VideoIOError(path: path, operation: "not a label image",
                           message: "pixel format \(name) is neither palette nor grayscale")
    }
    let rowBytes = Int(frame.linesize.0)
    guard let plane = frame.data.0 else {
        throw VideoIOError(path: path, operation: "cannot decode", message: "empty picture")
    }
    var labels = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height {
        let row = plane + y * rowBytes
        for x in 0..<width { labels[y * width + x] = row[x * layout.step + layout.offset] }
    }
    var palette: [UInt8]?
    if format == AV_PIX_FMT_PAL8, let entries = frame.data.1 {
        // FFmpeg stores the palette as 256 native-endian 0xAARRGGBB words.
        let words = UnsafeRawPointer(entries).bindMemory(to: UInt32.self, capacity: 256)
        palette = (0..<256).flatMap { i -> [UInt8] in
            let v = words[i]
            return [UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
        }
    }
    return LabelImage(width: width, height: height, labels: labels, palette: palette)
}

/// Writes an RGB image as PNG. The file appears complete or not at all (written to a temporary name, renamed).
public func writePNG(_ image: RGBImage, path: String) throws {
    let bytes = try encodeForFile(path) { try $0.encode(image) }
    try writeAtomically(bytes, to: path)
}

/// Writes a label map as an 8-bit PNG: a palette PNG when `palette` (RGB triplets, up to 256) is given, as the
/// DAVIS annotations are, and a grayscale PNG otherwise.
public func writeLabelPNG(_ image: LabelImage, path: String) throws {
    let bytes = try encodeForFile(path) {
        try $0.encode(pixels: image.labels, width: image.width, height: image.height,
                      pixelFormat: image.palette == nil ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_PAL8, palette: image.palette)
    }
    try writeAtomically(bytes, to: path)
}

/// A picture with 16-bit samples, `channels` per pixel (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), row-major:
/// what a 16-bit PNG such as a KITTI flow map holds.
public struct Image16: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var samples: [UInt16]

    public init(width: Int, height: Int, channels: Int, samples: [UInt16]) {
        precondition(samples.count == width * height * channels, "samples must hold width * height * channels values")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }
}

/// Decodes a PNG held in memory with FFmpeg's PNG decoder, checking every chunk's CRC. 8-bit files are widened
/// to 16 bits (v * 257, so 255 becomes 65535). `name` is what errors call the bytes.
/// - Throws: `VideoIOError` "cannot decode" with FFmpeg's reason, or "unsupported pixel format" (palette and
///   1-bit PNGs).
public func decodePNG16(_ bytes: [UInt8], name: String) throws -> Image16 {
    _ = FFmpegLog.configured
    guard let decoder = avcodec_find_decoder(AV_CODEC_ID_PNG) else {
        throw VideoIOError(path: name, operation: "cannot decode", code: mcjepa_averror_decoder_not_found(),
                           message: "no PNG decoder in this FFmpeg build")
    }
    var codec = avcodec_alloc_context3(decoder)
    var frame = av_frame_alloc()
    var packet = av_packet_alloc()
    defer {
        avcodec_free_context(&codec)
        av_frame_free(&frame)
        av_packet_free(&packet)
    }
    guard let codec, let frame, let packet else {
        throw VideoIOError(path: name, operation: "cannot decode", ffmpegCode: mcjepa_averror_enomem())
    }
    codec.pointee.thread_count = 1
    // FFmpeg skips chunk CRCs unless asked, and conceals damage unless told to fail.
    codec.pointee.err_recognition = AV_EF_CRCCHECK | AV_EF_EXPLODE
    try check(avcodec_open2(codec, decoder, nil), path: name, "cannot open decoder")
    guard !bytes.isEmpty, bytes.count < Int(Int32.max) else {
        throw VideoIOError(path: name, operation: "cannot decode", message: "\(bytes.count) bytes is no PNG")
    }
    try check(av_new_packet(packet, Int32(bytes.count)), path: name, "cannot decode")
    bytes.withUnsafeBufferPointer { packet.pointee.data!.update(from: $0.baseAddress!, count: bytes.count) }
    try check(avcodec_send_packet(codec, packet), path: name, "cannot decode")
    try check(avcodec_receive_frame(codec, frame), path: name, "cannot decode")

    let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
    let format = AVPixelFormat(rawValue: frame.pointee.format)
    let layout: (channels: Int, bytesPerSample: Int)
    switch format {
    case AV_PIX_FMT_GRAY8: layout = (1, 1)
    case AV_PIX_FMT_YA8: layout = (2, 1)
    case AV_PIX_FMT_RGB24: layout = (3, 1)
    case AV_PIX_FMT_RGBA: layout = (4, 1)
    case AV_PIX_FMT_GRAY16BE: layout = (1, 2)
    case AV_PIX_FMT_YA16BE: layout = (2, 2)
    case AV_PIX_FMT_RGB48BE: layout = (3, 2)
    case AV_PIX_FMT_RGBA64BE: layout = (4, 2)
    default:
        let formatName = av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown"
        throw VideoIOError(path: name, operation: "unsupported pixel format", message: formatName)
    }
    guard let plane = frame.pointee.data.0 else {
        throw VideoIOError(path: name, operation: "cannot decode", message: "empty picture")
    }
    let rowBytes = Int(frame.pointee.linesize.0), rowSamples = width * layout.channels
    var samples = [UInt16](repeating: 0, count: rowSamples * height)
    samples.withUnsafeMutableBufferPointer { out in
        for y in 0..<height {
            let row = plane + y * rowBytes
            for i in 0..<rowSamples {
                out[y * rowSamples + i] = layout.bytesPerSample == 2
                    ? UInt16(row[2 * i]) << 8 | UInt16(row[2 * i + 1]) : UInt16(row[i]) * 257
            }
        }
    }
    return Image16(width: width, height: height, channels: layout.channels, samples: samples)
}

/// Encodes a 3-channel picture as a 16-bit RGB PNG (FFmpeg's encoder: Paeth-predicted rows, deflated).
public func encodePNG16(_ image: Image16) throws -> [UInt8] {
    precondition(image.channels == 3, "encodePNG16 writes RGB")
    var bigEndian = [UInt8](repeating: 0, count: image.samples.count * 2)
    for (i, sample) in image.samples.enumerated() {
        bigEndian[2 * i] = UInt8(sample >> 8)
        bigEndian[2 * i + 1] = UInt8(sample & 0xff)
    }
    return try FFmpegImageEncoder(format: .png).encode(pixels: bigEndian, width: image.width, height: image.height,
                                                       pixelFormat: AV_PIX_FMT_RGB48BE)
}

/// Encodes with a new PNG encoder; errors name `path`, the file the bytes are for.
private func encodeForFile(_ path: String, _ body: (FFmpegImageEncoder) throws -> [UInt8]) throws -> [UInt8] {
    do {
        return try body(FFmpegImageEncoder(format: .png))
    } catch let error as VideoIOError {
        throw VideoIOError(path: path, operation: error.operation, code: error.code, message: error.message)
    }
}

/// Opens an image and decodes its one picture.
private func openImage(path: String) throws -> DecodingInput {
    let input = try DecodingInput(path: path, threads: 1)
    guard try input.decodeNextFrame() else {
        throw VideoIOError(path: path, operation: "cannot decode", message: "the file holds no picture")
    }
    return input
}

/// Writes `bytes` under a temporary name in the same folder and renames it to `path`, so `path` never holds a
/// half-written file.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    do {
        try AtomicOutput.write(bytes, to: path)
    } catch let error as AtomicOutputError {
        throw VideoIOError(path: path, operation: "cannot write", message: error.reason)
    }
}
