import Foundation
import Yams

/// Reads a pipeline YAML file into a `Pipeline`, rejecting anything it does not understand with the line,
/// column and field of the problem (a typo must not be silently ignored by a job that runs for hours).
public enum PipelineParser {
    /// Most entries in any list of a pipeline (steps, inputs, an option's values).
    public static let maxListLength = 1000
    /// Most bytes of text the file's values may add up to once YAML aliases are expanded: an alias repeated
    /// 10,000 times over a 100 KB anchored string would otherwise become a gigabyte of arguments.
    public static let maxExpandedBytes = 1 << 20

    public static func load(path: String) throws -> Pipeline {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PipelineError(path: path, location: nil, field: nil, message: "cannot read the file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> Pipeline {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PipelineError(path: path, location: nil, field: nil, message: "the file is empty")
            }
            root = node
        } catch let error as PipelineError {
            throw error
        } catch let error as YamlError {
            throw PipelineError(path: path, location: yamlLocation(error), field: nil,
                                message: "not valid YAML: \(yamlProblem(error))")
        }
        let reader = Reader(path: path, budget: ExpansionBudget(remaining: maxExpandedBytes))
        let top = try reader.mapping(root, field: "the top level",
                                     allowed: ["description", "vars", "steps"])
        var pipeline = Pipeline(path: path, description: nil, variables: [:], steps: [])
        if let description = top["description"] {
            pipeline.description = try reader.scalar(description.value, field: "description")
        }
        if let vars = top["vars"] {
            for (name, value) in try reader.pairs(vars.value, field: "vars") {
                pipeline.variables[name] = try reader.scalar(value, field: "vars.\(name)")
            }
        }
        guard let steps = top["steps"] else {
            throw PipelineError(path: path, location: reader.location(root), field: "steps",
                                message: "missing: a pipeline needs a list of steps")
        }
        guard case .sequence(let sequence) = steps.value, !sequence.isEmpty else {
            throw PipelineError(path: path, location: reader.location(steps.value), field: "steps",
                                message: "expected a non-empty list of steps")
        }
        try reader.checkLength(sequence.count, steps.value, "steps")
        for (index, node) in sequence.enumerated() {
            pipeline.steps.append(try reader.step(node, field: "steps[\(index)]"))
        }
        return pipeline
    }

    private static func yamlLocation(_ error: YamlError) -> SourceLocation? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return SourceLocation(line: mark.line, column: mark.column)
        default:
            return nil
        }
    }

    private static func yamlProblem(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default:
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        }
    }
}

/// What is left of `PipelineParser.maxExpandedBytes` while a file is read (shared by every read of it).
private final class ExpansionBudget {
    var remaining: Int
    init(remaining: Int) { self.remaining = remaining }
}

/// Typed access to YAML nodes with errors that point at the node.
private struct Reader {
    let path: String
    let budget: ExpansionBudget

    func checkLength(_ count: Int, _ node: Node, _ field: String) throws {
        guard count <= PipelineParser.maxListLength else {
            throw fail(node, field, "\(count) entries, more than the \(PipelineParser.maxListLength) a list may hold")
        }
    }

    struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
    }

    func location(_ node: Node) -> SourceLocation? {
        node.mark.map { SourceLocation(line: $0.line, column: $0.column) }
    }

    func fail(_ node: Node, _ field: String, _ message: String) -> PipelineError {
        PipelineError(path: path, location: location(node), field: field, message: message)
    }

    func pairs(_ node: Node, field: String) throws -> [(key: String, value: Node)] {
        guard case .mapping(let mapping) = node else { throw fail(node, field, "expected a mapping (name: value)") }
        try checkLength(mapping.count, node, field)
        var seen = Set<String>()
        var result: [(key: String, value: Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, field, "keys must be plain names") }
            guard seen.insert(key).inserted else { throw fail(keyNode, "\(field).\(key)", "given twice") }
            result.append((key, value))
        }
        return result
    }

    func mapping(_ node: Node, field: String, allowed: [String]) throws -> [String: Entry] {
        guard case .mapping(let mapping) = node else { throw fail(node, field, "expected a mapping (name: value)") }
        var result: [String: Entry] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, field, "keys must be plain names") }
            guard allowed.contains(key) else {
                throw fail(keyNode, field == "the top level" ? key : "\(field).\(key)",
                           "unknown field (expected one of: \(allowed.joined(separator: ", ")))")
            }
            guard result[key] == nil else { throw fail(keyNode, key, "given twice") }
            result[key] = Entry(key: key, keyNode: keyNode, value: value)
        }
        return result
    }

    func scalar(_ node: Node, field: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw fail(node, field, "expected a single value") }
        // Every value read counts, so an alias costs what it expands to.
        budget.remaining -= scalar.string.utf8.count
        guard budget.remaining >= 0 else {
            throw fail(node, field, "the pipeline's values add up to more than \(PipelineParser.maxExpandedBytes) bytes (YAML aliases count once per use)")
        }
        return scalar.string
    }

    func step(_ node: Node, field: String) throws -> PipelineStep {
        let entries = try mapping(node, field: field, allowed: ["command", "foreach", "inputs", "options"])
        guard let command = entries["command"] else { throw fail(node, "\(field).command", "missing") }
        let stepLocation = location(node) ?? SourceLocation(line: 0, column: 0)
        var step = PipelineStep(command: try scalar(command.value, field: "\(field).command"), perInput: false,
                                inputs: ["$inputs"], options: [], location: stepLocation)
        if let foreach = entries["foreach"] {
            guard try scalar(foreach.value, field: "\(field).foreach") == "input" else {
                throw fail(foreach.value, "\(field).foreach", "the only supported value is `input`")
            }
            step.perInput = true
            step.inputs = ["{input}"]
        }
        if let inputs = entries["inputs"] {
            switch inputs.value {
            case .sequence(let sequence):
                try checkLength(sequence.count, inputs.value, "\(field).inputs")
                step.inputs = try sequence.enumerated().map { try scalar($1, field: "\(field).inputs[\($0)]") }
            default:
                step.inputs = [try scalar(inputs.value, field: "\(field).inputs")]
            }
        }
        if let options = entries["options"] {
            for (name, value) in try pairs(options.value, field: "\(field).options") {
                let optionField = "\(field).options.\(name)"
                guard name.range(of: "^[a-z][a-z0-9-]*$", options: .regularExpression) != nil else {
                    throw fail(value, optionField, "option names are lowercase words joined by '-' (no leading --)")
                }
                let optionLocation = location(value) ?? stepLocation
                var option = PipelineStep.Option(name: name, values: [], isFlag: false, location: optionLocation)
                switch value {
                case .sequence(let sequence):
                    try checkLength(sequence.count, value, optionField)
                    option.values = try sequence.enumerated().map { try scalar($1, field: "\(optionField)[\($0)]") }
                case .scalar(let scalar):
                    // Only the plain words true/false are flags; a quoted "true" stays a value.
                    if scalar.style == .plain, let flag = Bool(scalar.string) {
                        if !flag { continue }
                        option.isFlag = true
                    } else {
                        option.values = [scalar.string]
                    }
                default:
                    throw fail(value, optionField, "expected a value, true/false, or a list of values")
                }
                step.options.append(option)
            }
        }
        return step
    }
}
