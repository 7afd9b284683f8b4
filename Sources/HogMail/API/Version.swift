/// What `hogmail --version` prints.
public enum HogMailVersion {
    public static let number = "0.3.0"
    /// The git commit the binary was built from (12 hex digits), or `unknown` outside a checkout.
    public static let commit = EmbeddedResources.gitCommit
    public static var description: String { "hogmail \(number) (commit \(commit))" }
}
