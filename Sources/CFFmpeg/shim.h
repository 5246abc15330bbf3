#ifndef MCJEPA_CFFMPEG_SHIM_H
#define MCJEPA_CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

// Swift cannot import FFmpeg's function-like macros; these wrap the ones we need.
static inline int mcjepa_averror(int posixError) { return AVERROR(posixError); }
static inline int mcjepa_averror_eof(void) { return AVERROR_EOF; }
static inline int mcjepa_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int mcjepa_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int64_t mcjepa_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational mcjepa_time_base_q(void) { return AV_TIME_BASE_Q; }

// Added for VideoIO.
static inline int mcjepa_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int mcjepa_averror_eisdir(void) { return AVERROR(EISDIR); }
static inline int mcjepa_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int mcjepa_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int mcjepa_averror_encoder_not_found(void) { return AVERROR_ENCODER_NOT_FOUND; }
static inline int mcjepa_averror_muxer_not_found(void) { return AVERROR_MUXER_NOT_FOUND; }
static inline int mcjepa_averror_patch_welcome(void) { return AVERROR_PATCHWELCOME; }
static inline int mcjepa_averror_unknown(void) { return AVERROR_UNKNOWN; }

#endif
