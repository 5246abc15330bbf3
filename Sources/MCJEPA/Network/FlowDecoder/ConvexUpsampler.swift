import Foundation
import NN

/// RAFT's convex upsampling of the stop level's flow to full size (`upsampler_width` > 0): concat(estimator hidden,
/// frame-1 features, flow) at the stop level -> 3x3 conv (leaky ReLU 0.1) -> 1x1 conv to 9 x factor^2 logits, whose
/// softmax weights combine each cell's 3x3 neighbourhood for each of its factor x factor full-size pixels.
/// Parameters `decoder.upsampler.conv.*`, `decoder.upsampler.mask.*`, listed after every other parameter (they
/// were added last). It starts as bilinear upsampling: mask weights zero, mask bias the bilinear stencil's logits.
struct ConvexUpsampler {
    let conv: ConvLayer, mask: ConvLayer
    let factor: Int

    struct Record {
        let input: Tensor          // concat(estimator hidden, frame-1 features, flow)
        let preActivation: Tensor  // the 3x3 conv's output
        let activated: Tensor      // after the leaky ReLU (the mask conv's input)
        let weights: Tensor        // softmax weights of the convex combination
        let hiddenChannels: Int, featureChannels: Int
    }

    init(_ store: ParameterStore) {
        let cfg = store.config
        factor = 1 << cfg.decoderStopLevel
        conv = ConvLayer(store, "decoder.upsampler.conv",
                         inputs: cfg.estimatorWidths.last! + cfg.widths[cfg.decoderStopLevel - 1] + 2,
                         outputs: cfg.upsamplerWidth, kernel: 3, padding: 1, initialization: .kaimingLeakyReLU,
                         trailing: true)
        mask = ConvLayer(store, "decoder.upsampler.mask", inputs: cfg.upsamplerWidth, outputs: 9 * factor * factor,
                         kernel: 1, initialization: .zeros,
                         biasInitialization: .values(bilinearStencilLogits(factor: factor)), trailing: true)
    }

    /// The full-size flow (pixels of the input) from the stop level's `flow`.
    func forward(hidden: Tensor, features: Tensor, flow: Tensor, recording: Bool) -> (Tensor, Record?) {
        let input = concatChannels([hidden, features, flow])
        let pre = conv(input)
        let activated = leakyReLUForward(pre, slope: 0.1)
        let logits = mask(activated)
        guard recording else { return (convexUpsample(flow: flow, logits: logits, factor: factor), nil) }
        let (full, weights) = convexUpsampleForward(flow: flow, logits: logits, factor: factor)
        return (full, Record(input: input, preActivation: pre, activated: activated, weights: weights,
                             hiddenChannels: hidden.c, featureChannels: features.c))
    }

    /// FLOPs at a stop level of `pixels` cells: its two convs and the 9-term combination per full-size pixel.
    func flops(stopLevelPixels pixels: Int) -> Double {
        conv.flops(outputPixels: pixels) + mask.flops(outputPixels: pixels) + 2 * Double(2 * 9 * factor * factor * pixels)
    }

    /// Accumulates its parameter gradients and dL/d(stop-level flow) into `gradFlow`; returns dL/d(estimator hidden)
    /// and dL/d(frame-1 features) at the stop level.
    func backward(_ r: Record, flow: Tensor, gradFull: Tensor, gradFlow: Tensor,
                  store: ParameterStore) -> (hidden: Tensor, features: Tensor) {
        let dLogits = Tensor(shape: r.weights.shape)
        convexUpsampleBackward(flow: flow, weights: r.weights, factor: factor, gradOutput: gradFull,
                               gradFlow: gradFlow, gradLogits: dLogits)
        let dActivated = mask.backward(input: r.activated, gradOutput: dLogits, store: store)!
        let dPre = leakyReLUGradient(input: r.preActivation, gradOutput: dActivated)
        let dInput = conv.backward(input: r.input, gradOutput: dPre, store: store)!
        let dHidden = Tensor(shape: [dInput.n, r.hiddenChannels, dInput.h, dInput.w])
        let dFeatures = Tensor(shape: [dInput.n, r.featureChannels, dInput.h, dInput.w])
        concatChannelsBackward(gradOutput: dInput, gradParts: [dHidden, dFeatures, gradFlow],
                               channels: [r.hiddenChannels, r.featureChannels, 2])
        return (dHidden, dFeatures)
    }
}

/// [9 x factor^2] convex-upsampling logits whose softmax is the bilinear (half-pixel centred) stencil, in
/// `convexUpsampleForward`'s layout; weights that are zero get log 1e-4 (the reference's `bilinear_stencil_logits`).
func bilinearStencilLogits(factor: Int) -> [Float] {
    let along: [[Double]] = (0..<factor).map { sub in
        let t = (Double(sub) + 0.5) / Double(factor) - 0.5
        return [max(0, -t), 1 - abs(t), max(0, t)]
    }
    var logits = [Float](repeating: 0, count: 9 * factor * factor)
    for ky in 0..<3 {
        for kx in 0..<3 {
            for dy in 0..<factor {
                for dx in 0..<factor {
                    let weight = along[dy][ky] * along[dx][kx]
                    logits[(ky * 3 + kx) * factor * factor + dy * factor + dx] = Float(log(max(weight, 1e-4)))
                }
            }
        }
    }
    return logits
}
