/// The templates a new project starts with (`hogmail init` writes them to `templates/`),
/// and the fallback for any template a project does not have. Their one copy is the
/// repository's `templates/` folder (the sample project's own), compiled into the binary by
/// the EmbedResources plugin.
public enum DefaultTemplates {
    public static let files: [(name: String, text: String)] =
        EmbeddedResources.templates.sorted { $0.key < $1.key }.map { (name: $0.key, text: $0.value) }
}
