import Foundation
import PackagePlugin

/// Compiles HogMail's data files into the `HogMail` module (`EmbeddedResources`): the lint word
/// lists and the Public Suffix List (`Sources/HogMail/Lint/Data/*.txt`, `*.dat`) and the default templates (`templates/**.mustache`,
/// which are also the sample project's). One copy of each file, in the repository; the binary
/// needs nothing beside it.
@main
struct EmbedResources: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let package = context.package.directoryURL
        let groups: [(group: String, folder: URL, suffixes: [String])] = [
            ("lintData", package.appending(path: "Sources/HogMail/Lint/Data"), [".txt", ".dat"]),
            ("templates", package.appending(path: "templates"), [".mustache"]),
        ]
        var arguments: [String] = []
        var inputs: [URL] = []
        for (group, folder, suffixes) in groups {
            guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { continue }
            for case let relative as String in enumerator where suffixes.contains(where: relative.hasSuffix) {
                let file = folder.appending(path: relative)
                inputs.append(file)
                arguments.append("\(group)=\(relative)=\(file.path)")
            }
        }
        // The commit for `hogmail --version`: HEAD and what it points to are inputs, so a new
        // commit regenerates the file.
        let git = package.appending(path: ".git")
        var gitArguments: [String] = []
        if FileManager.default.fileExists(atPath: git.path) {
            gitArguments = ["--git", git.path]
            inputs.append(git)
            for name in ["HEAD", "packed-refs", "refs/heads"] where FileManager.default.fileExists(atPath: git.appending(path: name).path) {
                inputs.append(git.appending(path: name))
            }
            if let head = try? String(contentsOf: git.appending(path: "HEAD"), encoding: .utf8), head.hasPrefix("ref: ") {
                inputs.append(git.appending(path: head.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedResources.swift")
        return [.buildCommand(displayName: "Embedding HogMail's data files",
                              executable: try context.tool(named: "hogmail-embed").url,
                              arguments: [output.path] + gitArguments + arguments.sorted(),
                              inputFiles: inputs, outputFiles: [output])]
    }
}
