/// Floating-point operations (multiply and add counted separately) of one inference pass at a padded size, for
/// reporting GFLOP/s. Counts convolutions, linear layers and the correlation; norms, activations, warps and
/// resizes are memory-bound and left out, so the figure slightly understates the work done.
public enum ModelFLOPs {
    /// Encoder of one frame, [1, 3, height, width] with height and width multiples of 64.
    public static func encoder(_ cfg: ModelConfig, height: Int, width: Int) -> Double {
        var total = 0.0
        var channels = 3
        for level in 0..<ModelConfig.levelCount {
            let (h, w) = (height >> (level + 1), width >> (level + 1))
            let c = cfg.widths[level], pixels = Double(h * w)
            let kernel = level == 0 ? 4 : (level == 1 ? 3 : 2)
            total += 2 * Double(c * channels * kernel * kernel) * pixels
            let blocks = level < 2 ? 0 : cfg.blocks[level - 2]
            // depthwise 7x7 + two 1x1 convs C -> 4C -> C per block.
            total += Double(blocks) * (2 * Double(c * 49) + 2 * 2 * Double(4 * c * c)) * pixels
            channels = c
        }
        return total
    }

    /// Decoder of one direction (every decoded level, the context network and a convex upsampler if any).
    public static func decoder(_ cfg: ModelConfig, height: Int, width: Int) -> Double {
        var total = 0.0
        for level in cfg.decodedLevels {
            let pixels = Double((height >> level) * (width >> level))
            let c = cfg.widths[level - 1]
            total += 2 * Double(ModelConfig.correlationChannels * c) * pixels
            total += 2 * Double(cfg.reducedChannels * c) * pixels
            var channels = cfg.estimatorInputChannels
            for width in cfg.estimatorWidths {
                total += 2 * Double(width * channels * 9) * pixels
                channels = width
            }
            total += 2 * Double(2 * channels * 9) * pixels
            if level == cfg.decoderStopLevel {
                var channels = cfg.contextInputChannels
                for width in cfg.contextWidths {
                    total += 2 * Double(width * channels * 9) * pixels
                    channels = width
                }
                total += 2 * Double(2 * channels * 9) * pixels
                if cfg.upsamplerWidth > 0 {
                    // The convex upsampler's 3x3 and 1x1 convs, and the 9-term combination per full-size pixel.
                    let factor = 1 << level, input = cfg.estimatorWidths.last! + c + 2
                    total += 2 * Double(cfg.upsamplerWidth * input * 9) * pixels
                    total += 2 * Double(9 * factor * factor * cfg.upsamplerWidth) * pixels
                    total += 2 * Double(2 * 9 * factor * factor) * pixels
                }
            }
        }
        return total
    }
}
