import CFFmpeg

/// How much FFmpeg itself prints to standard error.
///
/// VideoIO reports every failure as a `VideoIOError`, so FFmpeg's own chatter ("moov atom not found", concealed
/// decode errors) is silenced by default: the user should see one line per problem, not FFmpeg's log.
/// Set `MCJEPA_FFMPEG_LOG=warning` (or `error`, `info`, `debug`) to see it while debugging a file.
enum FFmpegLog {
    /// Applied once, before the first FFmpeg call of any VideoIO entry point.
    static let configured: Void = {
        let levels: [String: Int32] = [
            "quiet": AV_LOG_QUIET, "error": AV_LOG_ERROR, "warning": AV_LOG_WARNING,
            "info": AV_LOG_INFO, "verbose": AV_LOG_VERBOSE, "debug": AV_LOG_DEBUG,
        ]
        let requested = getenvString("MCJEPA_FFMPEG_LOG").flatMap { levels[$0.lowercased()] }
        av_log_set_level(requested ?? AV_LOG_QUIET)
    }()
}

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
