import NN

/// Recurrent refinement of a flow at one pyramid level (RAFT's update iterations, made light for the CPU as in
/// RAPIDFlow / SEA-RAFT): `iterations` times, warp frame 2's features of that level by the current flow, correlate
/// them with frame 1's (radius 4), and from concat(correlation (81), flow (2), context features) compute a residual
/// flow with one block whose weights every iteration shares: 1x1 conv to `width`, leaky ReLU 0.1, 3x3 depthwise
/// conv, 1x1 conv, leaky ReLU, 3x3 conv to 2 channels.
///
/// Two heads use it: `refinement_iterations` at the stop level, after the context network, with the stop level's
/// estimator hidden features as context (the convex upsampler then reads the refined flow), parameters
/// `decoder.refinement.*`; and `fine_iterations` at level 2 (`FineHead`), with frame 1's level-2 features as context,
/// parameters `decoder.fine.*`.
///
/// No recurrent hidden state (no ConvGRU): the flow itself carries what one iteration passes to the next, and the
/// estimator's hidden features give every iteration the same context. A GRU would triple the block's convolutions
/// for a state that, at this width, the correlation around the current flow mostly re-derives each iteration.
/// The `out` conv starts at zero, so that a network warm-started from weights without the head computes exactly
/// what they computed. Parameters `<prefix>.{encode,depthwise,pointwise,out}.*`, listed after every other parameter
/// (added last, as the convex upsampler's).
struct RecurrentRefinement {
    let iterations: Int
    let encode: ConvLayer, depthwise: ConvLayer, pointwise: ConvLayer, out: ConvLayer

    /// What one iteration's backward reads.
    struct Step {
        let flow: Tensor          // the flow the iteration started from
        let warped: Tensor        // frame 2's features warped by `flow`
        let input: Tensor         // concat(correlation, flow, context)
        let encoded: Tensor       // the 1x1 conv's output (the activation's input)
        let activated: Tensor     // the depthwise conv's input
        let spatial: Tensor       // the depthwise conv's output (the pointwise conv's input)
        let mixed: Tensor         // the pointwise conv's output (the activation's input)
        let last: Tensor          // the `out` conv's input
    }

    struct Record {
        let steps: [Step]
        let f1: Tensor, f2: Tensor
        let contextChannels: Int
    }

    /// A block of parameters `<prefix>.*` whose input is concat(correlation, flow, `inputChannels` - 83 context channels).
    init(_ store: ParameterStore, prefix: String, iterations: Int, width: Int, inputChannels: Int) {
        self.iterations = iterations
        encode = ConvLayer(store, "\(prefix).encode", inputs: inputChannels, outputs: width,
                           kernel: 1, initialization: .kaimingLeakyReLU, trailing: true)
        depthwise = ConvLayer(store, "\(prefix).depthwise", inputs: width, outputs: width, kernel: 3,
                              padding: 1, groups: width, initialization: .kaimingLeakyReLU, trailing: true)
        pointwise = ConvLayer(store, "\(prefix).pointwise", inputs: width, outputs: width, kernel: 1,
                              initialization: .kaimingLeakyReLU, trailing: true)
        out = ConvLayer(store, "\(prefix).out", inputs: width, outputs: 2, kernel: 3, padding: 1,
                        initialization: .zeros, trailing: true)
    }

    /// The stop level's head (`refinement_iterations`, `decoder.refinement.*`).
    static func stopLevel(_ store: ParameterStore) -> RecurrentRefinement {
        let cfg = store.config
        return RecurrentRefinement(store, prefix: "decoder.refinement", iterations: cfg.refinementIterations,
                                   width: cfg.refinementWidth, inputChannels: cfg.refinementInputChannels)
    }

    /// The refined flow from `flow`, the `context` features (the stop level's estimator hidden features, or frame
    /// 1's level-2 features) and both frames' features at the flow's level.
    func forward(flow start: Tensor, context: Tensor, f1: Tensor, f2: Tensor, recording: Bool) -> (Tensor, Record?) {
        var flow = start
        var steps: [Step] = []
        // The 1x1 encode conv reads concat(correlation, flow, context); the context's share is the same in every
        // iteration, so it is computed once (with the bias), and the concatenation is never built for it.
        let corrChannels = ModelConfig.correlationChannels
        let contextTerm = pointwiseConvForward(parts: [(nil, corrChannels), (nil, 2), (context, context.c)],
                                               weight: encode.weight, bias: encode.bias)
        for _ in 0..<iterations {
            let warped = backwardWarp(f2, flow)
            let corr = correlationForward(f1, warped, radius: ModelConfig.correlationRadius)
            let encoded = pointwiseConvForward(parts: [(corr, corrChannels), (flow, 2), (nil, context.c)],
                                               weight: encode.weight, bias: nil, base: contextTerm)
            let activated = leakyReLUForward(encoded, slope: 0.1)
            let spatial = depthwise(activated)
            let mixed = pointwise(spatial)
            let last = leakyReLUForward(mixed, slope: 0.1)
            let next = out(last)
            accumulate(next, flow)
            if recording {
                // The encode conv's backward reads its input as one tensor.
                let input = concatChannels([corr, flow, context])
                steps.append(Step(flow: flow, warped: warped, input: input, encoded: encoded, activated: activated,
                                  spatial: spatial, mixed: mixed, last: last))
            }
            flow = next
        }
        return (flow, recording ? Record(steps: steps, f1: f1, f2: f2, contextChannels: context.c) : nil)
    }

    /// FLOPs at a level of `pixels` cells whose features have `featureChannels`: per iteration, the correlation and
    /// the four convs.
    func flops(pixels: Int, featureChannels: Int) -> Double {
        let correlation = 2 * Double(ModelConfig.correlationChannels * featureChannels * pixels)
        let convs = [encode, depthwise, pointwise, out].reduce(0) { $0 + $1.flops(outputPixels: pixels) }
        return Double(iterations) * (correlation + convs)
    }

    /// From dL/d(refined flow): dL/d(the flow it started from), dL/d(context) and dL/d(frame 1's and frame 2's
    /// features), summed over the iterations; accumulates the shared weights' gradients of every one. Without
    /// `featureGradients` (nothing before the block trains) the context's and features' gradients are not computed
    /// and stay zero; the weights' are the same.
    func backward(_ r: Record, gradFlow: Tensor, store: ParameterStore, featureGradients: Bool = true)
        -> (flow: Tensor, context: Tensor, f1: Tensor, f2: Tensor) {
        let dContext = Tensor(shape: [gradFlow.n, r.contextChannels, gradFlow.h, gradFlow.w])
        let dF1 = Tensor(shape: r.f1.shape), dF2 = Tensor(shape: r.f2.shape)
        var dFlow = gradFlow
        for step in r.steps.reversed() {
            // flow_out = flow_in + delta: the identity path, then everything the delta read of flow_in.
            let dIn = dFlow.copy()
            let dLast = out.backward(input: step.last, gradOutput: dFlow, store: store)!
            let dMixed = leakyReLUGradient(input: step.mixed, gradOutput: dLast)
            let dSpatial = pointwise.backward(input: step.spatial, gradOutput: dMixed, store: store)!
            let dActivated = depthwise.backward(input: step.activated, gradOutput: dSpatial, store: store)!
            let dEncoded = leakyReLUGradient(input: step.encoded, gradOutput: dActivated)
            let dInput = encode.backward(input: step.input, gradOutput: dEncoded, store: store)!
            let dCorr = Tensor(shape: [dInput.n, ModelConfig.correlationChannels, dInput.h, dInput.w])
            concatChannelsBackward(gradOutput: dInput, gradParts: [dCorr, dIn, featureGradients ? dContext : nil],
                                   channels: [ModelConfig.correlationChannels, 2, r.contextChannels])
            let dWarped = Tensor(shape: step.warped.shape)
            correlationBackward(r.f1, step.warped, radius: ModelConfig.correlationRadius, gradOutput: dCorr,
                                gradF1: featureGradients ? dF1 : nil, gradF2: dWarped)
            backwardWarpBackward(image: r.f2, flow: step.flow, gradOutput: dWarped,
                                 gradImage: featureGradients ? dF2 : nil, gradFlow: dIn)
            dFlow = dIn
        }
        return (dFlow, dContext, dF1, dF2)
    }
}
