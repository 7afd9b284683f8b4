import Foundation
import PackagePlugin

/// Compiles HogMail's data files into the `HogMail` module (`EmbeddedResources`): the lint word
/// lists (`Sources/HogMail/Lint/Data/*.txt`) and the default templates (`templates/**.mustache`,
/// which are also the sample project's). One copy of each file, in the repository; the binary
/// needs nothing beside it.
@main
struct EmbedResources: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let package = context.package.directoryURL
        let groups: [(group: String, folder: URL, suffix: String)] = [
            ("lintData", package.appending(path: "Sources/HogMail/Lint/Data"), ".txt"),
            ("templates", package.appending(path: "templates"), ".mustache"),
        ]
        var arguments: [String] = []
        var inputs: [URL] = []
        for (group, folder, suffix) in groups {
            guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { continue }
            for case let relative as String in enumerator where relative.hasSuffix(suffix) {
                let file = folder.appending(path: relative)
                inputs.append(file)
                arguments.append("\(group)=\(relative)=\(file.path)")
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedResources.swift")
        return [.buildCommand(displayName: "Embedding HogMail's data files",
                              executable: try context.tool(named: "hogmail-embed").url,
                              arguments: [output.path] + arguments.sorted(),
                              inputFiles: inputs, outputFiles: [output])]
    }
}
