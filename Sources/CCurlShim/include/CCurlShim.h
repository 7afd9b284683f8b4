#ifndef HOGMAIL_CCURLSHIM_H
#define HOGMAIL_CCURLSHIM_H

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic C
// functions, which Swift cannot call. These wrappers give each argument type
// its own non-variadic entry point (the way GRDB wraps sqlite3_config).

#include <curl/curl.h>

typedef size_t (*hogmail_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

CURLcode hogmail_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode hogmail_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode hogmail_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode hogmail_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode hogmail_curl_easy_setopt_callback(CURL *handle, CURLoption option, hogmail_curl_data_callback value);
typedef int (*hogmail_curl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata);
CURLcode hogmail_curl_easy_setopt_debug(CURL *handle, hogmail_curl_debug_callback value);
CURLcode hogmail_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode hogmail_curl_easy_getinfo_string(CURL *handle, CURLINFO info, const char **value);
// CURLOPT_OPENSOCKETFUNCTION: sees the address of every connection libcurl opens (after DNS,
// on every redirect and retry), so a check of that address cannot be bypassed.
typedef curl_socket_t (*hogmail_curl_opensocket_callback)(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);
CURLcode hogmail_curl_easy_setopt_opensocket(CURL *handle, hogmail_curl_opensocket_callback value);
CURLMcode hogmail_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);

#endif
