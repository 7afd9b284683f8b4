#ifndef HOGMAIL_SMTP_STREAM_H
#define HOGMAIL_SMTP_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/// A byte stream to a mail server: a TCP connection, TLS over it once `start_tls` succeeded.
/// Blocking, with a timeout on every read and write. Every call that can fail writes a sentence
/// into `error` (at most `error_size` bytes, NUL-terminated) and returns one of these codes.
typedef struct hogmail_stream hogmail_stream;

enum {
    HOGMAIL_STREAM_OK = 0,
    /// The name does not resolve.
    HOGMAIL_STREAM_DNS = 1,
    /// The connection could not be made, or broke (reset, refused, broken pipe).
    HOGMAIL_STREAM_IO = 2,
    /// The server closed the connection.
    HOGMAIL_STREAM_EOF = 3,
    /// Nothing came or went for the whole timeout.
    HOGMAIL_STREAM_TIMEOUT = 4,
    /// The certificate is not signed by a trusted CA (or is expired, self-signed, ...).
    HOGMAIL_STREAM_TLS_UNTRUSTED = 10,
    /// The certificate is for another name.
    HOGMAIL_STREAM_TLS_NAME = 11,
    /// The CA file cannot be loaded.
    HOGMAIL_STREAM_TLS_CA_FILE = 12,
    /// The handshake failed for another reason (no TLS at all, no common protocol or cipher).
    HOGMAIL_STREAM_TLS_HANDSHAKE = 13,
    /// Non-blocking only: nothing can be read (or written) now; wait for the socket to say so.
    HOGMAIL_STREAM_AGAIN = 20,
};

/// Connects to `host`:`port` (every address it resolves to, in order) within `timeout_ms`,
/// which also bounds each later read and write.
int hogmail_stream_connect(const char *host, int port, int timeout_ms, hogmail_stream **stream, char *error, size_t error_size);

/// TLS over the connection (STARTTLS after the server's 220, or at once for implicit TLS): the
/// certificate must chain to `ca_file` (a PEM file) or, when it is NULL, to the system's CAs,
/// and must be for `host` (a DNS name or an IP address). TLS 1.2 at least.
int hogmail_stream_start_tls(hogmail_stream *stream, const char *host, const char *ca_file, char *error, size_t error_size);

/// Reads what is there, up to `size` bytes, waiting for at least one: the count read, or minus a code.
ssize_t hogmail_stream_read(hogmail_stream *stream, void *buffer, size_t size, char *error, size_t error_size);

/// Writes all of `first` then all of `second` (either may be empty): one system call for both
/// on a plain connection when the kernel takes them.
int hogmail_stream_write(hogmail_stream *stream, const void *first, size_t first_size, const void *second, size_t second_size,
                         char *error, size_t error_size);

/// Blocks SIGPIPE in the calling thread: OpenSSL writes with write(2), and a server that went
/// away must be an error on that connection, not a signal that ends the process. Call it first
/// in each thread that carries connections.
void hogmail_stream_block_sigpipe(void);

/// The first "\n." in `bytes` (where a line starts with a dot, which DATA must double), or NULL.
const void *hogmail_find_line_dot(const void *bytes, size_t size);

/// Switches the connection to non-blocking use (after the session is set up blocking): then
/// `hogmail_stream_read` and `hogmail_stream_send` return HOGMAIL_STREAM_AGAIN instead of waiting.
int hogmail_stream_set_nonblocking(hogmail_stream *stream, int on);

/// Non-blocking write of what the socket takes now from `parts` in order (`count` of them, at
/// most IOV_MAX; empty ones are allowed): one sendmsg on a plain connection; over TLS the first
/// non-empty part only. The count written (0 < count), or minus a code (HOGMAIL_STREAM_AGAIN
/// when the socket is full).
ssize_t hogmail_stream_sendv(hogmail_stream *stream, const struct iovec *parts, int count, char *error, size_t error_size);

/// The socket, for epoll.
int hogmail_stream_descriptor(const hogmail_stream *stream);

/// epoll, for the event loop that drives the connections (its struct is packed, which Swift
/// cannot lay out): events as these bits.
enum {
    HOGMAIL_EVENT_READ = 1,
    HOGMAIL_EVENT_WRITE = 2,
    /// An error or a hang-up: reading or writing says which.
    HOGMAIL_EVENT_ERROR = 4,
};

/// A new epoll instance with an eventfd in it (tagged UINT64_MAX) to wake it: 0, or -1 with errno.
int hogmail_loop_create(int *epoll, int *wakeup);

/// Watches a connection's socket, edge-triggered, for reading and writing, under `tag`.
int hogmail_loop_watch(int epoll, int descriptor, unsigned long long tag);

/// Waits up to `timeout_ms` (-1: no limit) for events: how many were stored in `tags` and
/// `events` (at most `capacity`), or -1 with errno. The wake-up's own event is read and reported
/// with the tag UINT64_MAX.
///
/// With `pause_us` > 0 and nothing ready yet, the thread first sleeps that long, so that one
/// wake-up collects the replies of several connections, then waits as usual if nothing came
/// (`*pause_in_vain` is then 1, else 0). No pause when the timeout is under 2 ms; otherwise
/// the pause is at most half the timeout and counts against it. The wake-up's eventfd is
/// level-triggered: one written during the pause is reported after it.
int hogmail_loop_wait(int epoll, int wakeup, unsigned long long *tags, unsigned *events, int capacity, int timeout_ms,
                      int pause_us, int *pause_in_vain);

/// Wakes a loop waiting in `hogmail_loop_wait`.
void hogmail_loop_wake(int wakeup);

/// Whether TLS is on.
int hogmail_stream_is_tls(const hogmail_stream *stream);

/// Closes the connection (a TLS close_notify first, without waiting for the answer) and frees it.
void hogmail_stream_close(hogmail_stream *stream);

#endif
