import CFFmpeg

/// The FFmpeg libraries this build links against, e.g. "libavformat 59.27.100".
public enum FFmpegVersion {
    public static var libavformat: String {
        let v = avformat_version()
        return "libavformat \(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)"
    }
}
