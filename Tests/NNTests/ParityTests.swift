import Foundation
import XCTest
@testable import NN

/// Forward outputs and gradients against PyTorch, tensor by tensor, from Tests/NNTests/Fixtures/ops.safetensors
/// (written by Reference/ops_reference.py; names are "<case>.<role>", each case's settings are JSON metadata).
final class ParityTests: XCTestCase {
    private static let fixture: (tensors: [String: Tensor], metadata: [String: String])? = {
        guard let url = Bundle.module.url(forResource: "ops", withExtension: "safetensors", subdirectory: "Fixtures") else { return nil }
        return try? Safetensors.read(path: url.path)
    }()

    override func setUp() { NN.setThreads(2) }

    private func load() throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try XCTUnwrap(Self.fixture, "Fixtures/ops.safetensors is missing or unreadable; \(regenerateHint)")
    }

    private func tensor(_ name: String) throws -> Tensor {
        try XCTUnwrap(load().tensors[name], "fixture tensor \(name) is missing; \(regenerateHint)")
    }

    private func settings(_ name: String) throws -> [String: Double] {
        let text = try XCTUnwrap(load().metadata[name], "fixture case \(name) is missing; \(regenerateHint)")
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    func test_convolutions_match_pytorch() throws {
        let cases = try load().metadata.keys.filter { $0.hasPrefix("conv") || $0.hasPrefix("depthwise") }.sorted()
        XCTAssertEqual(cases.count, 10, "expected ten convolution cases; \(regenerateHint)")
        for name in cases {
            let s = try settings(name)
            let config = Conv2dConfig(stride: Int(s["stride"]!), padding: Int(s["padding"]!),
                                      dilation: Int(s["dilation"]!), groups: Int(s["groups"]!))
            let x = try tensor("\(name).x"), w = try tensor("\(name).w")
            let b = try load().tensors["\(name).b"]
            let y = conv2dForward(input: x, weight: w, bias: b, config: config)
            assertClose(y, try tensor("\(name).y"), "\(name).y")
            let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = b.map { Tensor(shape: $0.shape) }
            conv2dBackward(input: x, weight: w, config: config, gradOutput: try tensor("\(name).gy"),
                           gradInput: dx, gradWeight: dw, gradBias: db)
            assertClose(dx, try tensor("\(name).gx"), "\(name).gx")
            assertClose(dw, try tensor("\(name).gw"), "\(name).gw")
            if let db { assertClose(db, try tensor("\(name).gb"), "\(name).gb") }
        }
    }

    func test_linear_matches_pytorch() throws {
        let x = try tensor("linear.x"), w = try tensor("linear.w"), b = try tensor("linear.b")
        assertClose(linearForward(input: x, weight: w, bias: b), try tensor("linear.y"), "linear.y")
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
        linearBackward(input: x, weight: w, gradOutput: try tensor("linear.gy"), gradInput: dx, gradWeight: dw, gradBias: db)
        assertClose(dx, try tensor("linear.gx"), "linear.gx")
        assertClose(dw, try tensor("linear.gw"), "linear.gw")
        assertClose(db, try tensor("linear.gb"), "linear.gb")
    }

    func test_layer_norm_matches_pytorch() throws {
        let x = try tensor("layernorm.x"), w = try tensor("layernorm.w"), b = try tensor("layernorm.b")
        let (y, cache) = layerNormChannelsForward(input: x, weight: w, bias: b, eps: Float(try settings("layernorm")["eps"]!))
        assertClose(y, try tensor("layernorm.y"), "layernorm.y")
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: b.shape)
        layerNormChannelsBackward(input: x, weight: w, cache: cache, gradOutput: try tensor("layernorm.gy"),
                                  gradInput: dx, gradWeight: dw, gradBias: db)
        assertClose(dx, try tensor("layernorm.gx"), "layernorm.gx")
        assertClose(dw, try tensor("layernorm.gw"), "layernorm.gw")
        assertClose(db, try tensor("layernorm.gb"), "layernorm.gb")
    }

    func test_activations_match_pytorch() throws {
        let x = try tensor("gelu.x")
        assertClose(geluForward(x), try tensor("gelu.y"), "gelu.y")
        let dx = Tensor(shape: x.shape)
        geluBackward(input: x, gradOutput: try tensor("gelu.gy"), gradInput: dx)
        assertClose(dx, try tensor("gelu.gx"), "gelu.gx")

        let slope = Float(try settings("leaky_relu")["slope"]!)
        let xl = try tensor("leaky_relu.x")
        assertClose(leakyReLUForward(xl, slope: slope), try tensor("leaky_relu.y"), "leaky_relu.y")
        let dxl = Tensor(shape: xl.shape)
        leakyReLUBackward(input: xl, slope: slope, gradOutput: try tensor("leaky_relu.gy"), gradInput: dxl)
        assertClose(dxl, try tensor("leaky_relu.gx"), "leaky_relu.gx")
    }

    func test_bilinear_resize_matches_pytorch() throws {
        for name in ["resize_up", "resize_down", "resize_to_one_row"] {
            let s = try settings(name)
            let x = try tensor("\(name).x")
            assertClose(resizeBilinearForward(x, height: Int(s["height"]!), width: Int(s["width"]!)), try tensor("\(name).y"), "\(name).y")
            let dx = Tensor(shape: x.shape)
            resizeBilinearBackward(gradOutput: try tensor("\(name).gy"), gradInput: dx)
            assertClose(dx, try tensor("\(name).gx"), "\(name).gx")
        }
    }

    func test_correlation_matches_pytorch() throws {
        for name in ["correlation", "correlation_batch2"] {
            let radius = Int(try settings(name)["radius"]!)
            let f1 = try tensor("\(name).f1"), f2 = try tensor("\(name).f2")
            assertClose(correlationForward(f1, f2, radius: radius), try tensor("\(name).y"), "\(name).y")
            let d1 = Tensor(shape: f1.shape), d2 = Tensor(shape: f2.shape)
            correlationBackward(f1, f2, radius: radius, gradOutput: try tensor("\(name).gy"), gradF1: d1, gradF2: d2)
            assertClose(d1, try tensor("\(name).gf1"), "\(name).gf1")
            assertClose(d2, try tensor("\(name).gf2"), "\(name).gf2")
        }
    }

    func test_warp_matches_grid_sample() throws {
        let image = try tensor("warp.img"), flow = try tensor("warp.flow")
        let (y, mask) = warpForward(image: image, flow: flow)
        assertClose(y, try tensor("warp.y"), "warp.y")
        assertClose(mask, try tensor("warp.mask"), "warp.mask", atol: 0, rtol: 0)
        let dImage = Tensor(shape: image.shape), dFlow = Tensor(shape: flow.shape)
        warpBackward(image: image, flow: flow, gradOutput: try tensor("warp.gy"), gradImage: dImage, gradFlow: dFlow)
        assertClose(dImage, try tensor("warp.gimg"), "warp.gimg")
        assertClose(dFlow, try tensor("warp.gflow"), "warp.gflow")
    }

    func test_pooling_matches_pytorch() throws {
        let x = try tensor("avgpool2.x")
        assertClose(avgPool2dForward(x, kernel: 2), try tensor("avgpool2.y"), "avgpool2.y")
        let dx = Tensor(shape: x.shape)
        avgPool2dBackward(kernel: 2, gradOutput: try tensor("avgpool2.gy"), gradInput: dx)
        assertClose(dx, try tensor("avgpool2.gx"), "avgpool2.gx")

        let xg = try tensor("global_avgpool.x")
        assertClose(globalAvgPoolForward(xg), try tensor("global_avgpool.y"), "global_avgpool.y")
        let dxg = Tensor(shape: xg.shape)
        globalAvgPoolBackward(gradOutput: try tensor("global_avgpool.gy"), gradInput: dxg)
        assertClose(dxg, try tensor("global_avgpool.gx"), "global_avgpool.gx")
    }

    func test_ssim_matches_pytorch() throws {
        let x = try tensor("ssim.x"), y = try tensor("ssim.y_in")
        assertClose(ssimForward(x, y), try tensor("ssim.y"), "ssim.y")
        let dx = Tensor(shape: x.shape), dy = Tensor(shape: y.shape)
        ssimBackward(x, y, gradOutput: try tensor("ssim.gy"), gradX: dx, gradY: dy)
        assertClose(dx, try tensor("ssim.gx"), "ssim.gx")
        assertClose(dy, try tensor("ssim.gy_in"), "ssim.gy_in")
    }

    func test_adamw_matches_torch_optim_adamw() throws {
        let s = try settings("adamw")
        let p = try tensor("adamw.p0").copy()
        let optimizer = AdamW(parameterShapes: [p.shape], learningRate: Float(s["lr"]!), beta1: Float(s["beta1"]!),
                              beta2: Float(s["beta2"]!), eps: Float(s["eps"]!), weightDecay: Float(s["weight_decay"]!))
        for step in 1...3 {
            optimizer.update(parameters: [p], gradients: [try tensor("adamw.g\(step)")])
            assertClose(p, try tensor("adamw.p\(step)"), "adamw.p\(step)", atol: 1e-6, rtol: 1e-5)
        }
    }
}
