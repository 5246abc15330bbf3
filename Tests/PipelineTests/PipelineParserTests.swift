import XCTest
@testable import Pipeline

final class PipelineParserTests: XCTestCase {
    private func parse(_ text: String) throws -> Pipeline {
        try PipelineParser.parse(text, path: "p.yaml")
    }

    private func assertError(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            XCTAssertEqual("\(error)", expected, file: file, line: line)
        }
    }

    func test_steps_expand_to_command_lines_with_flags_lists_and_inputs() throws {
        let pipeline = try parse("""
            description: demo
            steps:
              - command: preprocess
                options:
                  out: shards
                  stride: 2
                  resume: true
                  overwrite: false
                  manifest: [a.txt, b.txt]
            """)
        XCTAssertEqual(pipeline.description, "demo")
        let invocations = try pipeline.invocations(inputs: ["v1.mp4", "dir"])
        XCTAssertEqual(invocations.map(\.arguments), [[
            "preprocess", "v1.mp4", "dir", "--out", "shards", "--stride", "2", "--resume",
            "--manifest", "a.txt", "--manifest", "b.txt",
        ]])
    }

    func test_foreach_input_runs_once_per_input_with_its_names() throws {
        let pipeline = try parse("""
            vars:
              style: overlay
            steps:
              - command: flow
                foreach: input
                options:
                  video: "{dir}/{stem}.{style}.mp4"
            """)
        let invocations = try pipeline.invocations(inputs: ["clips/a.mp4", "b.mov"], overrides: ["style": "arrows"])
        XCTAssertEqual(invocations.map(\.arguments), [
            ["flow", "clips/a.mp4", "--video", "clips/a.arrows.mp4"],
            ["flow", "b.mov", "--video", "./b.arrows.mp4"],
        ])
    }

    func test_an_option_whose_value_comes_out_empty_is_left_out() throws {
        let pipeline = try parse("vars:\n  model: \"\"\nsteps:\n  - command: flow\n    options:\n      model: \"{model}\"\n")
        XCTAssertEqual(try pipeline.invocations(inputs: ["a.mp4"]).map(\.arguments), [["flow", "a.mp4"]])
        XCTAssertEqual(try pipeline.invocations(inputs: ["a.mp4"], overrides: ["model": "w.safetensors"]).map(\.arguments),
                       [["flow", "a.mp4", "--model", "w.safetensors"]])
    }

    func test_a_quoted_true_is_a_value_not_a_flag() throws {
        let pipeline = try parse("steps:\n  - command: x\n    inputs: []\n    options:\n      label: \"true\"\n")
        XCTAssertEqual(try pipeline.invocations(inputs: []).map(\.arguments), [["x", "--label", "true"]])
    }

    func test_unknown_fields_are_reported_with_line_column_and_field() {
        assertError("steps:\n  - command: flow\n    optons: {}\n",
                    "p.yaml:3:5: steps[0].optons: unknown field (expected one of: command, foreach, inputs, options)")
        assertError("stepz: []\n", "p.yaml:1:1: stepz: unknown field (expected one of: description, vars, steps)")
    }

    func test_structural_mistakes_point_at_the_node() {
        assertError("description: x\n", "p.yaml:1:1: steps: missing: a pipeline needs a list of steps")
        assertError("steps: []\n", "p.yaml:1:8: steps: expected a non-empty list of steps")
        assertError("steps:\n  - options: {}\n", "p.yaml:2:5: steps[0].command: missing")
        assertError("steps:\n  - command: [a]\n", "p.yaml:2:14: steps[0].command: expected a single value")
        assertError("steps:\n  - command: a\n    foreach: file\n",
                    "p.yaml:3:14: steps[0].foreach: the only supported value is `input`")
        assertError("steps:\n  - command: a\n    options:\n      --out: x\n",
                    "p.yaml:4:14: steps[0].options.--out: option names are lowercase words joined by '-' (no leading --)")
        assertError("steps:\n  - command: a\n    options:\n      out: {a: 1}\n",
                    "p.yaml:4:12: steps[0].options.out: expected a value, true/false, or a list of values")
    }

    func test_invalid_yaml_reports_the_parser_position() {
        XCTAssertThrowsError(try parse("steps: [\n")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("p.yaml:2:1: not valid YAML: "), text)
        }
    }

    func test_unknown_placeholders_and_foreach_without_inputs_are_errors() throws {
        let pipeline = try parse("steps:\n  - command: a\n    options:\n      out: \"{nope}\"\n")
        XCTAssertThrowsError(try pipeline.invocations(inputs: [])) { error in
            XCTAssertEqual("\(error)", "p.yaml:4:12: steps[0].options.out: unknown placeholder {nope} "
                + "(known: ; set it with --set nope=VALUE)")
        }
        let perInput = try parse("steps:\n  - command: a\n    foreach: input\n")
        XCTAssertThrowsError(try perInput.invocations(inputs: [])) { error in
            XCTAssertEqual("\(error)", "p.yaml:2:5: steps[0].foreach: the step runs once per input, but `run` was given no inputs")
        }
    }

    func test_shipped_pipelines_parse() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Pipelines").standardizedFileURL
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasSuffix(".yaml") && !$0.contains("k8s")
        }
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let pipeline = try PipelineParser.load(path: folder.appendingPathComponent(name).path)
            XCTAssertFalse(pipeline.steps.isEmpty, name)
            XCTAssertNoThrow(try pipeline.invocations(inputs: ["in.mp4"]), name)
        }
    }
}
