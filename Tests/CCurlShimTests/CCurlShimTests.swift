import CCurlShim
import Testing

// The shim is what the delivery layer builds on; these tests pin down that each
// typed wrapper reaches libcurl with its argument intact.
@Suite struct CCurlShimTests {
    @Test func longOptionIsAccepted() {
        let handle = curl_easy_init()
        defer { curl_easy_cleanup(handle) }
        #expect(hogmail_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, 1500) == CURLE_OK)
    }

    @Test func stringOptionIsReadBackAsEffectiveURL() {
        let handle = curl_easy_init()
        defer { curl_easy_cleanup(handle) }
        #expect(hogmail_curl_easy_setopt_string(handle, CURLOPT_URL, "smtp://127.0.0.1:2525/example.com") == CURLE_OK)
        var url: UnsafePointer<CChar>? = nil
        #expect(hogmail_curl_easy_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK)
        #expect(url.map { String(cString: $0) } == "smtp://127.0.0.1:2525/example.com")
    }

    @Test func unknownOptionIsRefusedByLibcurl() {
        let handle = curl_easy_init()
        defer { curl_easy_cleanup(handle) }
        #expect(hogmail_curl_easy_setopt_long(handle, CURLoption(rawValue: 9_999), 1) != CURLE_OK)
    }
}
