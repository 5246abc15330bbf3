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
    let bytes = try encodePNG(pixels: image.rgb, width: image.width, height: image.height,
                              format: AV_PIX_FMT_RGB24, palette: nil, path: path)
    try writeAtomically(bytes, to: path)
}

/// Writes a label map as an 8-bit PNG: a palette PNG when `palette` (RGB triplets, up to 256) is given, as the
/// DAVIS annotations are, and a grayscale PNG otherwise.
public func writeLabelPNG(_ image: LabelImage, path: String) throws {
    let bytes = try encodePNG(pixels: image.labels, width: image.width, height: image.height,
                              format: image.palette == nil ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_PAL8,
                              palette: image.palette, path: path)
    try writeAtomically(bytes, to: path)
}

/// Opens an image and decodes its one picture.
private func openImage(path: String) throws -> DecodingInput {
    let input = try DecodingInput(path: path, threads: 1)
    guard try input.decodeNextFrame() else {
        throw VideoIOError(path: path, operation: "cannot decode", message: "the file holds no picture")
    }
    return input
}

/// Encodes one picture with FFmpeg's PNG encoder and returns the file's bytes.
func encodePNG(pixels: [UInt8], width: Int, height: Int, format: AVPixelFormat, palette: [UInt8]?,
               path: String) throws -> [UInt8] {
    _ = FFmpegLog.configured
    guard let encoder = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
        throw VideoIOError(path: path, operation: "cannot create", code: mcjepa_averror_encoder_not_found(),
                           message: "no PNG encoder in this FFmpeg build")
    }
    var codec = avcodec_alloc_context3(encoder)
    var frame = av_frame_alloc()
    var packet = av_packet_alloc()
    defer {
        avcodec_free_context(&codec)
        av_frame_free(&frame)
        av_packet_free(&packet)
    }
    guard let codec, let frame, let packet else {
        throw VideoIOError(path: path, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
    }
    codec.pointee.width = Int32(width)
    codec.pointee.height = Int32(height)
    codec.pointee.pix_fmt = format
    codec.pointee.time_base = AVRational(num: 1, den: 1)
    try check(avcodec_open2(codec, encoder, nil), path: path, "cannot open encoder")
    frame.pointee.format = format.rawValue
    frame.pointee.width = Int32(width)
    frame.pointee.height = Int32(height)
    try check(av_frame_get_buffer(frame, 0), path: path, "cannot create")
    let bytesPerPixel = format == AV_PIX_FMT_RGB24 ? 3 : 1
    let rowBytes = width * bytesPerPixel
    let stride = Int(frame.pointee.linesize.0)
    pixels.withUnsafeBufferPointer { src in
        for y in 0..<height {
            (frame.pointee.data.0! + y * stride).update(from: src.baseAddress! + y * rowBytes, count: rowBytes)
        }
    }
    if format == AV_PIX_FMT_PAL8, let palette, let entries = frame.pointee.data.1 {
        let words = UnsafeMutableRawPointer(entries).bindMemory(to: UInt32.self, capacity: 256)
        for i in 0..<256 {
            let (r, g, b) = i * 3 + 2 < palette.count
                ? (UInt32(palette[i * 3]), UInt32(palette[i * 3 + 1]), UInt32(palette[i * 3 + 2])) : (0, 0, 0)
            words[i] = 0xff00_0000 | (r << 16) | (g << 8) | b
        }
    }
    try check(avcodec_send_frame(codec, frame), path: path, "cannot encode")
    try check(avcodec_send_frame(codec, nil), path: path, "cannot encode")
    try check(avcodec_receive_packet(codec, packet), path: path, "cannot encode")
    defer { av_packet_unref(packet) }
    return Array(UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)))
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
