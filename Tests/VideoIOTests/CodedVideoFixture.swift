import CFFmpeg
import Foundation
import XCTest

/// Writes fixtures `VideoWriter` does not make (it writes H.264 and FFV1 only): `count` frames of a moving
/// pattern coded with one of FFmpeg's own encoders (`codec`: "mpeg2video", "mpeg1video", ...), keyframes every
/// `keyframeInterval` frames, in the container `path`'s extension names (.mpg: an MPEG program stream).
///
/// `falseKeyframeEvery`: packets whose frame number is a multiple of it are also marked as keyframes although
/// they are predicted frames, as some files in the wild are, so a seek may land where decoding cannot start.
func writeCodedVideo(_ path: String, codec codecName: String, width: Int, height: Int, count: Int,
                     frameRate: Int32 = 25, keyframeInterval: Int32, falseKeyframeEvery: Int64? = nil) throws {
    func check(_ code: Int32, _ what: String) throws {
        if code < 0 { throw FixtureError(message: "\(what) failed for \(path) (FFmpeg error \(code))") }
    }
    var format: UnsafeMutablePointer<AVFormatContext>?
    try check(avformat_alloc_output_context2(&format, nil, nil, path), "avformat_alloc_output_context2")
    guard let format else { throw FixtureError(message: "no muxer for \(path)") }
    defer {
        if format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
        avformat_free_context(format)
    }
    guard let encoder = avcodec_find_encoder_by_name(codecName) else {
        throw FixtureError(message: "FFmpeg has no \(codecName) encoder")
    }
    var codec = avcodec_alloc_context3(encoder)
    defer { avcodec_free_context(&codec) }
    var frame = av_frame_alloc()
    defer { av_frame_free(&frame) }
    var packet = av_packet_alloc()
    defer { av_packet_free(&packet) }
    guard let codec, let frame, let packet, let stream = avformat_new_stream(format, nil) else {
        throw FixtureError(message: "out of memory")
    }
    codec.pointee.width = Int32(width)
    codec.pointee.height = Int32(height)
    codec.pointee.pix_fmt = AV_PIX_FMT_YUV420P
    codec.pointee.time_base = AVRational(num: 1, den: frameRate)
    codec.pointee.framerate = AVRational(num: frameRate, den: 1)
    codec.pointee.gop_size = keyframeInterval
    codec.pointee.max_b_frames = 0
    codec.pointee.bit_rate = 400_000
    if (format.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 {
        codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
    }
    try check(avcodec_open2(codec, encoder, nil), "avcodec_open2")
    try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "avcodec_parameters_from_context")
    stream.pointee.time_base = codec.pointee.time_base
    try check(avio_open(&format.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open")
    try check(avformat_write_header(format, nil), "avformat_write_header")

    func writePackets() throws {
        while true {
            let received = avcodec_receive_packet(codec, packet)
            if received == mcjepa_averror_eagain() || received == mcjepa_averror_eof() { return }
            try check(received, "avcodec_receive_packet")
            if let every = falseKeyframeEvery, packet.pointee.pts % every == 0 {
                packet.pointee.flags |= AV_PKT_FLAG_KEY
            }
            av_packet_rescale_ts(packet, codec.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            try check(av_interleaved_write_frame(format, packet), "av_interleaved_write_frame")
        }
    }
    frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
    frame.pointee.width = Int32(width)
    frame.pointee.height = Int32(height)
    try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer")
    for t in 0..<count {
        try check(av_frame_make_writable(frame), "av_frame_make_writable")
        // A gradient with a bright square moving 2 pixels a frame, and chroma that changes with the frame number.
        let square = (x: (t * 2) % max(1, width - 8), y: height / 3)
        let luma = frame.pointee.data.0!, lumaStride = Int(frame.pointee.linesize.0)
        for y in 0..<height {
            for x in 0..<width {
                let inSquare = x >= square.x && x < square.x + 8 && y >= square.y && y < square.y + 8
                // Fine texture that changes every frame costs bits: frames big enough to each start a new packet.
                let texture = ((x &* 37) ^ (y &* 91) ^ (t &* 53)) & 63
                luma[y * lumaStride + x] = inSquare ? 235 : UInt8(30 + texture + (x * 60 + y * 30) / max(1, width + height))
            }
        }
        for (plane, stride, offset) in [(frame.pointee.data.1!, frame.pointee.linesize.1, 0),
                                        (frame.pointee.data.2!, frame.pointee.linesize.2, 90)] {
            for y in 0..<(height + 1) / 2 {
                for x in 0..<(width + 1) / 2 { plane[y * Int(stride) + x] = UInt8(40 + (t * 7 + offset + x) % 170) }
            }
        }
        frame.pointee.pts = Int64(t)
        try check(avcodec_send_frame(codec, frame), "avcodec_send_frame")
        try writePackets()
    }
    try check(avcodec_send_frame(codec, nil), "avcodec_send_frame")
    try writePackets()
    try check(av_write_trailer(format), "av_write_trailer")
}

struct FixtureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
