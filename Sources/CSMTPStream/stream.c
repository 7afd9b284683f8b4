#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "CSMTPStream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct hogmail_stream {
    int fd;
    int nonblocking;
    int timeout_ms;
    SSL_CTX *context;
    SSL *ssl;
};

static int fail(int code, char *error, size_t error_size, const char *format, ...) {
    if (error && error_size > 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error, error_size, format, arguments);
        va_end(arguments);
    }
    return code;
}

/// A failed read or write on the socket, as a code and a sentence.
static int socket_failure(int number, const char *what, char *error, size_t error_size) {
    if (number == EAGAIN || number == EWOULDBLOCK) {
        return fail(HOGMAIL_STREAM_TIMEOUT, error, error_size, "the server sent nothing for the whole timeout (%s timed out)", what);
    }
    return fail(HOGMAIL_STREAM_IO, error, error_size, "%s failed: %s", what, strerror(number));
}

static int connect_one(const struct addrinfo *address, int timeout_ms, int *descriptor, int *number) {
    int fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, address->ai_protocol);
    if (fd < 0) {
        *number = errno;
        return -1;
    }
    if (connect(fd, address->ai_addr, address->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *number = errno;
            close(fd);
            return -1;
        }
        struct pollfd entry = {.fd = fd, .events = POLLOUT};
        int ready;
        do { ready = poll(&entry, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
        if (ready == 0) {
            *number = ETIMEDOUT;
            close(fd);
            return -1;
        }
        int status = 0;
        socklen_t length = sizeof status;
        if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &status, &length) != 0 || status != 0) {
            *number = ready < 0 ? errno : status;
            close(fd);
            return -1;
        }
    }
    // Blocking from here on, every read and write bounded by the timeout.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval limit = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    // Commands and the end of a message go out at once, not after the previous segment's ACK.
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    *descriptor = fd;
    return 0;
}

int hogmail_stream_connect(const char *host, int port, int timeout_ms, hogmail_stream **stream, char *error, size_t error_size) {
    *stream = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo *addresses = NULL;
    int resolved = getaddrinfo(host, service, &hints, &addresses);
    if (resolved != 0) {
        return fail(HOGMAIL_STREAM_DNS, error, error_size, "the name %s cannot be resolved: %s", host, gai_strerror(resolved));
    }
    int fd = -1, number = 0;
    for (const struct addrinfo *address = addresses; address; address = address->ai_next) {
        if (connect_one(address, timeout_ms, &fd, &number) == 0) break;
    }
    freeaddrinfo(addresses);
    if (fd < 0) {
        return fail(number == ETIMEDOUT ? HOGMAIL_STREAM_TIMEOUT : HOGMAIL_STREAM_IO, error, error_size,
                    "cannot connect to %s port %d: %s", host, port, strerror(number));
    }
    hogmail_stream *made = calloc(1, sizeof *made);
    if (!made) {
        close(fd);
        return fail(HOGMAIL_STREAM_IO, error, error_size, "out of memory");
    }
    made->fd = fd;
    made->timeout_ms = timeout_ms;
    *stream = made;
    return HOGMAIL_STREAM_OK;
}

/// OpenSSL's first queued error as text, and the queue emptied.
static void openssl_reason(char *text, size_t size, unsigned long *first) {
    unsigned long code = ERR_get_error();
    if (first) *first = code;
    if (code) {
        ERR_error_string_n(code, text, size);
    } else {
        snprintf(text, size, "no reason given");
    }
    ERR_clear_error();
}

int hogmail_stream_start_tls(hogmail_stream *stream, const char *host, const char *ca_file, char *error, size_t error_size) {
    ERR_clear_error();
    char reason[256];
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (!context) {
        openssl_reason(reason, sizeof reason, NULL);
        return fail(HOGMAIL_STREAM_TLS_HANDSHAKE, error, error_size, "TLS cannot be set up: %s", reason);
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    int loaded = ca_file ? SSL_CTX_load_verify_locations(context, ca_file, NULL) : SSL_CTX_set_default_verify_paths(context);
    if (loaded != 1) {
        openssl_reason(reason, sizeof reason, NULL);
        SSL_CTX_free(context);
        return fail(HOGMAIL_STREAM_TLS_CA_FILE, error, error_size, "the CA certificates in %s cannot be loaded: %s",
                    ca_file ? ca_file : "the system's default places", reason);
    }
    SSL *ssl = SSL_new(context);
    if (!ssl) {
        openssl_reason(reason, sizeof reason, NULL);
        SSL_CTX_free(context);
        return fail(HOGMAIL_STREAM_TLS_HANDSHAKE, error, error_size, "TLS cannot be set up: %s", reason);
    }
    // The certificate must be for the host the URL names: an IP address in its IP entries, a
    // name in its DNS entries (and the name goes in SNI).
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    int named = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
                      : SSL_set1_host(ssl, host) && SSL_set_tlsext_host_name(ssl, host);
    if (named != 1 || SSL_set_fd(ssl, stream->fd) != 1) {
        openssl_reason(reason, sizeof reason, NULL);
        SSL_free(ssl);
        SSL_CTX_free(context);
        return fail(HOGMAIL_STREAM_TLS_HANDSHAKE, error, error_size, "TLS cannot be set up for %s: %s", host, reason);
    }
    int result = SSL_connect(ssl);
    if (result == 1) {
        stream->context = context;
        stream->ssl = ssl;
        return HOGMAIL_STREAM_OK;
    }
    int number = errno;
    int kind = SSL_get_error(ssl, result);
    long verified = SSL_get_verify_result(ssl);
    unsigned long first = 0;
    openssl_reason(reason, sizeof reason, &first);
    int code;
    if (verified == X509_V_ERR_HOSTNAME_MISMATCH || verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        code = fail(HOGMAIL_STREAM_TLS_NAME, error, error_size, "the certificate's subject names do not include %s", host);
    } else if (verified != X509_V_OK) {
        code = fail(HOGMAIL_STREAM_TLS_UNTRUSTED, error, error_size, "%s", X509_verify_cert_error_string(verified));
    } else if (kind == SSL_ERROR_SYSCALL || kind == SSL_ERROR_ZERO_RETURN
               || (kind == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        // Cut short by the network: worth another try.
        code = number == EAGAIN || number == EWOULDBLOCK
            ? fail(HOGMAIL_STREAM_TIMEOUT, error, error_size, "the TLS handshake timed out")
            : fail(HOGMAIL_STREAM_EOF, error, error_size, "the connection closed during the TLS handshake (%s)",
                   number ? strerror(number) : "unexpected eof");
    } else {
        code = fail(HOGMAIL_STREAM_TLS_HANDSHAKE, error, error_size, "%s", reason);
    }
    SSL_free(ssl);
    SSL_CTX_free(context);
    return code;
}

/// A failed SSL_read or SSL_write as a code and a sentence.
static int tls_failure(hogmail_stream *stream, int result, int number, const char *what, char *error, size_t error_size) {
    int kind = SSL_get_error(stream->ssl, result);
    char reason[256];
    unsigned long first = 0;
    openssl_reason(reason, sizeof reason, &first);
    if (kind == SSL_ERROR_ZERO_RETURN || (kind == SSL_ERROR_SYSCALL && number == 0)
        || (kind == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        return fail(HOGMAIL_STREAM_EOF, error, error_size, "the server closed the connection");
    }
    if (kind == SSL_ERROR_SYSCALL || kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE) {
        return socket_failure(number ? number : EAGAIN, what, error, error_size);
    }
    return fail(HOGMAIL_STREAM_IO, error, error_size, "TLS %s failed: %s", what, reason);
}

ssize_t hogmail_stream_read(hogmail_stream *stream, void *buffer, size_t size, char *error, size_t error_size) {
    if (stream->ssl) {
        ERR_clear_error();
        int result;
        do {
            errno = 0;
            result = SSL_read(stream->ssl, buffer, size > INT32_MAX ? INT32_MAX : (int)size);
        } while (result <= 0 && SSL_get_error(stream->ssl, result) == SSL_ERROR_SYSCALL && errno == EINTR);
        if (result > 0) return result;
        int kind = SSL_get_error(stream->ssl, result);
        if (stream->nonblocking && (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE)) {
            ERR_clear_error();
            return -HOGMAIL_STREAM_AGAIN;
        }
        return -tls_failure(stream, result, errno, "read", error, error_size);
    }
    ssize_t count;
    do { count = recv(stream->fd, buffer, size, 0); } while (count < 0 && errno == EINTR);
    if (count > 0) return count;
    if (count == 0) return -fail(HOGMAIL_STREAM_EOF, error, error_size, "the server closed the connection");
    if (stream->nonblocking && (errno == EAGAIN || errno == EWOULDBLOCK)) return -HOGMAIL_STREAM_AGAIN;
    return -socket_failure(errno, "read", error, error_size);
}

static int tls_write_all(hogmail_stream *stream, const unsigned char *bytes, size_t size, char *error, size_t error_size) {
    while (size > 0) {
        ERR_clear_error();
        errno = 0;
        int result = SSL_write(stream->ssl, bytes, size > INT32_MAX ? INT32_MAX : (int)size);
        if (result <= 0) {
            if (SSL_get_error(stream->ssl, result) == SSL_ERROR_SYSCALL && errno == EINTR) continue;
            return tls_failure(stream, result, errno, "write", error, error_size);
        }
        bytes += result;
        size -= (size_t)result;
    }
    return HOGMAIL_STREAM_OK;
}

int hogmail_stream_write(hogmail_stream *stream, const void *first, size_t first_size, const void *second, size_t second_size,
                         char *error, size_t error_size) {
    if (stream->ssl) {
        int code = tls_write_all(stream, first, first_size, error, error_size);
        return code != HOGMAIL_STREAM_OK ? code : tls_write_all(stream, second, second_size, error, error_size);
    }
    struct iovec parts[2] = {{(void *)first, first_size}, {(void *)second, second_size}};
    struct iovec *part = parts;
    int count = 2;
    while (count > 0) {
        if (part->iov_len == 0) {
            part++;
            count--;
            continue;
        }
        // sendmsg, not writev: MSG_NOSIGNAL, so a server that went away is an error, not SIGPIPE.
        struct msghdr message = {.msg_iov = part, .msg_iovlen = (size_t)count};
        ssize_t sent = sendmsg(stream->fd, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return socket_failure(errno, "write", error, error_size);
        }
        while (count > 0 && (size_t)sent >= part->iov_len) {
            sent -= (ssize_t)part->iov_len;
            part->iov_len = 0;
            part++;
            count--;
        }
        if (count > 0) {
            part->iov_base = (char *)part->iov_base + sent;
            part->iov_len -= (size_t)sent;
        }
    }
    return HOGMAIL_STREAM_OK;
}

void hogmail_stream_block_sigpipe(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

const void *hogmail_find_line_dot(const void *bytes, size_t size) {
    const unsigned char *at = bytes, *end = at + size;
#if defined(__SSE2__)
    // Sixteen positions at a time: where a "\n" is followed by a ".". A memchr for each line
    // end cost a call per line (hundreds in a newsletter), 6% of a send's CPU.
    const __m128i newline = _mm_set1_epi8('\n'), dot = _mm_set1_epi8('.');
    while (end - at >= 17) {
        __m128i here = _mm_loadu_si128((const __m128i *)at), next = _mm_loadu_si128((const __m128i *)(at + 1));
        int found = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(here, newline), _mm_cmpeq_epi8(next, dot)));
        if (found) return at + __builtin_ctz((unsigned)found);
        at += 16;
    }
    for (; at + 1 < end; at++) {
        if (at[0] == '\n' && at[1] == '.') return at;
    }
    return NULL;
#else
    // memchr for each line end, not memmem: glibc's memmem starts a two-way search at every
    // "\n" of a body with hundreds of lines, which cost 8% of a whole send.
    while (at + 1 < end && (at = memchr(at, '\n', (size_t)(end - at - 1)))) {
        if (at[1] == '.') return at;
        at++;
    }
    return NULL;
#endif
}

int hogmail_stream_set_nonblocking(hogmail_stream *stream, int on) {
    int flags = fcntl(stream->fd, F_GETFL);
    if (flags < 0 || fcntl(stream->fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) != 0) return -1;
    stream->nonblocking = on;
    if (stream->ssl) {
        // A write that could not finish is retried with the rest of the bytes, from wherever
        // they are now.
        SSL_set_mode(stream->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    return 0;
}

ssize_t hogmail_stream_sendv(hogmail_stream *stream, const struct iovec *parts, int count, char *error, size_t error_size) {
    // Empty parts are left out: sendmsg takes them, SSL_write does not.
    while (count > 0 && parts->iov_len == 0) {
        parts++;
        count--;
    }
    if (count == 0) return 0;
    if (stream->ssl) {
        ERR_clear_error();
        errno = 0;
        int result = SSL_write(stream->ssl, parts->iov_base, parts->iov_len > INT32_MAX ? INT32_MAX : (int)parts->iov_len);
        if (result > 0) return result;
        int kind = SSL_get_error(stream->ssl, result);
        if (kind == SSL_ERROR_WANT_WRITE || kind == SSL_ERROR_WANT_READ || (kind == SSL_ERROR_SYSCALL && errno == EINTR)) {
            ERR_clear_error();
            return -HOGMAIL_STREAM_AGAIN;
        }
        return -tls_failure(stream, result, errno, "write", error, error_size);
    }
    struct msghdr message = {.msg_iov = (struct iovec *)parts, .msg_iovlen = (size_t)count};
    ssize_t sent;
    do { sent = sendmsg(stream->fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT); } while (sent < 0 && errno == EINTR);
    if (sent >= 0) return sent;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -HOGMAIL_STREAM_AGAIN;
    return -socket_failure(errno, "write", error, error_size);
}

int hogmail_stream_descriptor(const hogmail_stream *stream) { return stream->fd; }

int hogmail_loop_create(int *epoll, int *wakeup) {
    *epoll = epoll_create1(EPOLL_CLOEXEC);
    if (*epoll < 0) return -1;
    *wakeup = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (*wakeup < 0 || epoll_ctl(*epoll, EPOLL_CTL_ADD, *wakeup, &event) != 0) {
        int number = errno;
        close(*epoll);
        if (*wakeup >= 0) close(*wakeup);
        errno = number;
        return -1;
    }
    return 0;
}

int hogmail_loop_watch(int epoll, int descriptor, unsigned long long tag) {
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = tag};
    return epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event);
}

int hogmail_loop_wait(int epoll, int wakeup, unsigned long long *tags, unsigned *events, int capacity, int timeout_ms,
                      int pause_us, int *pause_in_vain) {
    struct epoll_event ready[64];
    if (capacity > 64) capacity = 64;
    *pause_in_vain = 0;
    int count;
    if (pause_us > 0 && (timeout_ms < 0 || timeout_ms >= 2)) {
        // At most half the timeout, and taken off it: the wait ends when it would have.
        if (timeout_ms >= 0 && (long long)pause_us > (long long)timeout_ms * 500) pause_us = timeout_ms * 500;
        count = epoll_wait(epoll, ready, capacity, 0);
        if (count == 0) {
            struct timespec pause = {pause_us / 1000000, (long)(pause_us % 1000000) * 1000};
            while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {}
            count = epoll_wait(epoll, ready, capacity, 0);
            if (count == 0) {
                *pause_in_vain = 1;
                if (timeout_ms >= 0) timeout_ms -= (pause_us + 999) / 1000;
                count = epoll_wait(epoll, ready, capacity, timeout_ms < 0 ? 0 : timeout_ms);
            }
        }
    } else {
        count = epoll_wait(epoll, ready, capacity, timeout_ms);
    }
    for (int i = 0; i < count; i++) {
        tags[i] = ready[i].data.u64;
        unsigned bits = 0;
        if (ready[i].events & EPOLLIN) bits |= HOGMAIL_EVENT_READ;
        if (ready[i].events & EPOLLOUT) bits |= HOGMAIL_EVENT_WRITE;
        if (ready[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) bits |= HOGMAIL_EVENT_ERROR;
        events[i] = bits;
        if (tags[i] == UINT64_MAX) {
            uint64_t value;
            ssize_t ignored = read(wakeup, &value, sizeof value);
            (void)ignored;
        }
    }
    return count;
}

void hogmail_loop_wake(int wakeup) {
    uint64_t one = 1;
    ssize_t ignored = write(wakeup, &one, sizeof one);
    (void)ignored;
}

int hogmail_stream_is_tls(const hogmail_stream *stream) { return stream->ssl != NULL; }

void hogmail_stream_close(hogmail_stream *stream) {
    if (!stream) return;
    if (stream->ssl) {
        SSL_shutdown(stream->ssl);
        SSL_free(stream->ssl);
        SSL_CTX_free(stream->context);
    }
    close(stream->fd);
    free(stream);
}
