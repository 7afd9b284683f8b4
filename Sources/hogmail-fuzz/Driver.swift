import Foundation
import HogMail

#if HOGMAIL_LIBFUZZER
/// libFuzzer's entry point; the target comes from HOGMAIL_FUZZ_TARGET.
let selectedTarget = ProcessInfo.processInfo.environment["HOGMAIL_FUZZ_TARGET"] ?? "draft"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.run(selectedTarget, bytes)
    return 0
}

/// libFuzzer's driver (in the -sanitize=fuzzer runtime). SwiftPM links an executable's entry
/// point under its own name, so libFuzzer's `main` is not used: this `main` hands over to it.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main struct LibFuzzerMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, { data, size in fuzzOne(data, size) }))
    }
}
#else
/// The input being tried, for the crash handler to save (async-signal-safe: a plain write).
nonisolated(unsafe) var currentInput: UnsafeMutableBufferPointer<UInt8> = .allocate(capacity: 1 << 20)
nonisolated(unsafe) var currentLength = 0
nonisolated(unsafe) var crashFile: Int32 = -1

/// Without libFuzzer: mutates the corpus at random for a set time, saving any input that crashes.
/// Usage: hogmail-fuzz TARGET CORPUS_DIR [SECONDS] [SEED]
@main struct PlainFuzzer {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, FuzzTargets.names.contains(arguments[1]) else {
            FileHandle.standardError.write(Data("usage: hogmail-fuzz {\(FuzzTargets.names.joined(separator: "|"))} CORPUS_DIR [SECONDS] [SEED]\n".utf8))
            exit(2)
        }
        let target = arguments[1]
        let seconds = arguments.count > 3 ? Double(arguments[3]) ?? 10 : 10
        var generator = SeededGenerator(seed: arguments.count > 4 ? UInt64(arguments[4]) ?? 1 : UInt64(Date().timeIntervalSince1970))
        let folder = URL(fileURLWithPath: arguments[2])
        var corpus = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
            .compactMap { try? Data(contentsOf: folder.appendingPathComponent($0)) }.map { Array($0) }
        if corpus.isEmpty { corpus = [[]] }
        let crashPath = "fuzz-crash-\(target)"
        crashFile = open(crashPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        for signal in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT] {
            Foundation.signal(signal) { number in
                if crashFile >= 0 { _ = write(crashFile, currentInput.baseAddress, currentLength) }
                Foundation.signal(number, SIG_DFL)
                raise(number)
            }
        }
        let start = Date()
        var runs = 0
        // The corpus as it is first, then mutations of it until the time is up.
        for input in corpus { execute(target, input); runs += 1 }
        while Date().timeIntervalSince(start) < seconds {
            var input = corpus.randomElement(using: &generator)!
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                Mutator.mutate(&input, corpus: corpus, using: &generator)
            }
            execute(target, input)
            runs += 1
        }
        close(crashFile)
        unlink(crashPath)
        print("hogmail-fuzz \(target): \(runs) inputs in \(Int(Date().timeIntervalSince(start))) s, no crash.")
    }

    static func execute(_ target: String, _ input: [UInt8]) {
        currentLength = min(input.count, currentInput.count)
        _ = currentInput.initialize(from: input.prefix(currentLength))
        FuzzTargets.run(target, input)
    }
}

/// Byte-level mutations with a bias towards what breaks text formats.
enum Mutator {
    static let tokens: [[UInt8]] = ["\r\n", "\n", "\r", "\0", "---\n", ": ", "\"", ",", "\u{E000}", "=?utf-8?B?", "<", "&amp;",
                                    "[", "](", "`", "```\n", "<script>", "\u{1F994}", "é", "\u{202E}", " ", "\t", "=", "u1.", "c1.", ".",
                                    "email,name,consented_at,consent_source,confirmed_at\n", "2026-01-07", "@example.com",
                                    "> ", "- ", "  - ", "1. ", "<div>", "</div>", "*", "**", "&a ", "*a", "{", "[", "|\n"].map { Array($0.utf8) }

    static func mutate(_ input: inout [UInt8], corpus: [[UInt8]], using generator: inout SeededGenerator) {
        switch Int.random(in: 0..<6, using: &generator) {
        case 0 where !input.isEmpty:
            input[Int.random(in: 0..<input.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
        case 1:
            let token = tokens.randomElement(using: &generator)!
            input.insert(contentsOf: token, at: Int.random(in: 0...input.count, using: &generator))
        case 2 where !input.isEmpty:
            let from = Int.random(in: 0..<input.count, using: &generator)
            input.removeSubrange(from..<min(input.count, from + Int.random(in: 1...16, using: &generator)))
        case 3:
            let byte = UInt8.random(in: 32...126, using: &generator)
            input.insert(contentsOf: [UInt8](repeating: byte, count: Int.random(in: 1...300, using: &generator)),
                         at: Int.random(in: 0...input.count, using: &generator))
        case 4:
            let other = corpus.randomElement(using: &generator)!
            if !other.isEmpty {
                let from = Int.random(in: 0..<other.count, using: &generator)
                input.insert(contentsOf: other[from..<min(other.count, from + Int.random(in: 1...64, using: &generator))],
                             at: Int.random(in: 0...input.count, using: &generator))
            }
        default:
            if input.count > 1 { input.swapAt(Int.random(in: 0..<input.count, using: &generator), Int.random(in: 0..<input.count, using: &generator)) }
        }
        if input.count > 1 << 16 { input.removeLast(input.count - (1 << 16)) }
    }
}

#endif
