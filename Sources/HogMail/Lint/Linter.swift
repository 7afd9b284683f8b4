import Foundation

/// Runs every rule on an email and applies the draft's silencing.
public struct Linter: Sendable {
    /// Every rule, in the order `hogmail rules` lists them.
    public static let rules: [any Rule.Type] = [
        // Compliance
        UnsubscribeLinkInHTMLRule.self, UnsubscribeLinkInTextRule.self, ListUnsubscribeHeaderRule.self,
        ListUnsubscribePostHeaderRule.self, PostalAddressRule.self, SenderConfiguredRule.self, ListIDHeaderRule.self,
        // Privacy
        TrackingPixelRule.self, TrackerHostRule.self, ClickTrackingRedirectRule.self, LinkShortenerRule.self, UTMParametersRule.self, ReaderIdentifierRule.self,
        // Dark patterns
        FalseUrgencyRule.self, FalseScarcityRule.self, FakeActivityRule.self, CountdownTimerRule.self, FakeReplySubjectRule.self, DeceptiveLinkTextRule.self,
        HiddenUnsubscribeRule.self, ConfirmshamingRule.self, ShoutingSubjectRule.self, PrecheckedBoxRule.self,
        HiddenTextRule.self,
        // Quality
        GmailClippingRule.self, ImageAltRule.self, InsecureLinkRule.self, VagueLinkTextRule.self, SubjectLengthRule.self,
        PreheaderRule.self, UnresolvedLinkRule.self, HeadingLevelsRule.self, TextPartLinksRule.self, UnknownElementRule.self,
        LocalImageRule.self, ImageSizeRule.self, SVGImageRule.self, ImageWidthRule.self,
    ]

    public static var descriptions: [RuleDescription] { rules.map { $0.description } }

    public static func description(of identifier: String) -> RuleDescription? {
        descriptions.first { $0.identifier == identifier }
    }

    public init() {}

    public struct Report: Sendable {
        public var findings: [Finding]
        public var errorCount: Int { findings.filter { $0.severity == .error && !$0.isSilenced }.count }
        public var warningCount: Int { findings.filter { $0.severity == .warning && !$0.isSilenced }.count }
        /// Allowances that matched no finding: stale silencing that should be removed.
        public var unusedAllowances: [LintAllowance]
    }

    /// Checks the allowances first (an unknown or unsilenceable rule is an error in the draft),
    /// then runs every rule, or only `only` when given.
    public func lint(_ email: LintedEmail, only: [any Rule.Type]? = nil) throws -> Report {
        for allowance in email.issue.lintAllowances {
            guard let rule = Self.description(of: allowance.rule) else {
                throw HogMailError(file: email.issue.sourcePath, line: allowance.line,
                                   "`lint.allow` names `\(allowance.rule)`, which is not a rule. `hogmail rules` lists them.")
            }
            guard rule.silenceable else {
                throw HogMailError(file: email.issue.sourcePath, line: allowance.line,
                                   "`\(rule.identifier)` cannot be silenced: leaving with one click is a promise to every reader, in every issue. Fix the email instead.")
            }
        }
        guard email.document.isComplete else {
            throw HogMailError(file: email.issue.sourcePath,
                               "The email's HTML nests elements more than 256 deep, where libxml2 (like some mail clients) stops reading, so the rest of the email, its footer and unsubscribe link included, could not be checked. Flatten the nesting in the draft or in the templates.")
        }
        var findings: [Finding] = []
        for rule in only ?? Self.rules {
            findings += rule.init().findings(in: email)
        }
        var used: Set<String> = []
        for index in findings.indices {
            if let allowance = email.issue.lintAllowances.first(where: { $0.rule == findings[index].rule }) {
                findings[index].silencedReason = allowance.reason
                used.insert(allowance.rule)
            }
        }
        findings.sort { ($0.file ?? "", $0.line ?? 0, $0.rule) < ($1.file ?? "", $1.line ?? 0, $1.rule) }
        return Report(findings: findings, unusedAllowances: email.issue.lintAllowances.filter { !used.contains($0.rule) })
    }
}
