// A declarative pipeline: a YAML file that names the tool's commands, their inputs and their options, run in
// order by `mcjepa-video run`. The file says *what* to run; the commands themselves stay the only place that
// knows *how*, so a pipeline can never drift from the CLI it drives.
//
//   description: Flow for each input with a colour overlay video.
//   vars:                       # defaults for {name} placeholders; `run --set name=value` overrides
//     style: overlay
//   steps:
//     - command: flow
//       foreach: input          # run once per input; {input} {stem} {dir} name the current one
//       inputs: ["{input}"]     # default: every input given to `run` ($inputs)
//       options:                # option name -> value; true = a flag, false = omitted, a list = repeated
//         video: "{dir}/{stem}.{style}.mp4"
//         style: "{style}"
//         model: "{model}"    # an option whose value comes out empty is left out

/// One step of a pipeline as written in the file.
public struct PipelineStep: Equatable, Sendable {
    public struct Option: Equatable, Sendable {
        public var name: String
        public var values: [String]
        /// `true` for `name: true` (a flag without a value).
        public var isFlag: Bool
        public var location: SourceLocation
    }

    public var command: String
    public var perInput: Bool
    public var inputs: [String]
    public var options: [Option]
    public var location: SourceLocation
}

/// A line and column in a pipeline file (1-based), for error messages.
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "\(line):\(column)" }
}

/// A parsed pipeline file.
public struct Pipeline: Equatable, Sendable {
    public var path: String
    public var description: String?
    public var variables: [String: String]
    public var steps: [PipelineStep]

    /// One command line the pipeline asks for, with the step it came from (for error messages).
    public struct Invocation: Equatable, Sendable {
        public var arguments: [String]
        public var stepIndex: Int
        public var location: SourceLocation
    }

    /// Most arguments in one expanded command line (the CLI refuses more: see `mcjepa-video`'s entry point).
    public static let maxArguments = 4096
    /// Most bytes all expanded command lines may add up to (placeholders and `$inputs` multiply text).
    public static let maxExpandedBytes = 16 << 20

    /// Expands the steps into command lines for the given inputs, substituting `{name}` placeholders from the
    /// file's `vars`, then `overrides`, then the per-input names `input`, `stem` and `dir`.
    /// - Throws: `PipelineError` when an input or a value starts with '-' (it would be read as an option: an
    ///   input must not smuggle `-o DIR -y` into a step), or the expansion passes `maxArguments` or
    ///   `maxExpandedBytes`; checked while expanding, so nothing large is built first.
    public func invocations(inputs: [String], overrides: [String: String] = [:]) throws -> [Invocation] {
        let variables = self.variables.merging(overrides) { _, new in new }
        var result: [Invocation] = []
        var expandedBytes = 0
        func add(_ word: String, to arguments: inout [String], _ location: SourceLocation, _ field: String,
                 isValue: Bool) throws {
            if word.hasPrefix("-") {
                throw PipelineError(path: path, location: location, field: field, message: isValue
                    ? "the value '\(word)' starts with '-' and would be read as an option"
                    : "the input '\(word)' starts with '-' and would be read as an option (name a file ./\(word))")
            }
            expandedBytes += word.utf8.count + 1
            guard arguments.count < Self.maxArguments, expandedBytes <= Self.maxExpandedBytes else {
                throw PipelineError(path: path, location: location, field: field, message:
                    "expands to more than \(Self.maxArguments) arguments or \(Self.maxExpandedBytes) bytes of command lines")
            }
            arguments.append(word)
        }
        for (index, step) in steps.enumerated() {
            let rounds: [[String: String]] = step.perInput
                ? inputs.map { variables.merging(Self.inputVariables($0)) { _, new in new } }
                : [variables]
            if step.perInput && inputs.isEmpty {
                throw PipelineError(path: path, location: step.location, field: "steps[\(index)].foreach",
                                    message: "the step runs once per input, but `run` was given no inputs")
            }
            for names in rounds {
                var arguments = [step.command]
                let inputsField = "steps[\(index)].inputs"
                for input in step.inputs {
                    if input == "$inputs" {
                        for given in inputs { try add(given, to: &arguments, step.location, inputsField, isValue: false) }
                    } else {
                        try add(try substitute(input, names, step.location, inputsField), to: &arguments, step.location,
                                inputsField, isValue: false)
                    }
                }
                for option in step.options {
                    let field = "steps[\(index)].options.\(option.name)"
                    if option.isFlag {
                        arguments.append("--\(option.name)")
                    }
                    for value in option.values {
                        // An option whose value comes out empty is left out, so `model: "{model}"` with
                        // `vars: {model: ""}` means "the command's default unless --set model=PATH".
                        let text = try substitute(value, names, option.location, field)
                        if !text.isEmpty {
                            arguments.append("--\(option.name)")
                            try add(text, to: &arguments, option.location, field, isValue: true)
                        }
                    }
                }
                result.append(Invocation(arguments: arguments, stepIndex: index, location: step.location))
            }
        }
        return result
    }

    static func inputVariables(_ input: String) -> [String: String] {
        let last = input.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? input
        let stem = last.contains(".") ? String(last[..<last.lastIndex(of: ".")!]) : last
        let dir: String
        if let slash = input.lastIndex(of: "/") {
            dir = slash == input.startIndex ? "/" : String(input[..<slash])
        } else {
            dir = "."
        }
        return ["input": input, "stem": stem, "dir": dir]
    }

    private func substitute(_ text: String, _ names: [String: String], _ location: SourceLocation,
                            _ field: String) throws -> String {
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw PipelineError(path: path, location: location, field: field, message: "unclosed '{' in \"\(text)\"")
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard let value = names[name] else {
                let known = names.keys.sorted().joined(separator: ", ")
                throw PipelineError(path: path, location: location, field: field,
                                    message: "unknown placeholder {\(name)} (known: \(known); set it with --set \(name)=VALUE)")
            }
            output += value
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }
}

/// A problem in a pipeline file, reported as `FILE:LINE:COLUMN: FIELD: message` on one line.
public struct PipelineError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var location: SourceLocation?
    public var field: String?
    public var message: String

    public init(path: String, location: SourceLocation?, field: String?, message: String) {
        self.path = path
        self.location = location
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = path
        if let location { text += ":\(location)" }
        text += ": "
        if let field { text += "\(field): " }
        return text + message
    }
}
