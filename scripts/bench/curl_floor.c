/* `make bench`: the floor of any libcurl SMTP sender. One prebuilt message (argv[2]) sent
 * N times (argv[3]) over C connections (argv[4]) to argv[1] with libcurl's multi interface,
 * set up as HogMail's transport is (handles kept, no verbose tracing, no signals, the 2 MB
 * upload buffer) but with no message building, no journal and no threads. Prints the CPU
 * time (user + system, getrusage) per message: what libcurl itself costs, against which
 * `hogmail send` and `smtp-source -d` are compared. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct { const char *data; size_t length, offset; } body;

static size_t read_body(char *buffer, size_t size, size_t count, void *userdata) {
    body *b = userdata;
    size_t n = size * count;
    if (n > b->length - b->offset) n = b->length - b->offset;
    memcpy(buffer, b->data + b->offset, n);
    b->offset += n;
    return n;
}

static size_t ignore_reply(char *buffer, size_t size, size_t count, void *userdata) {
    (void)buffer; (void)userdata;
    return size * count;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: curl_floor SMTP-URL MESSAGE-FILE COUNT CONNECTIONS\n"); return 2; }
    int total = atoi(argv[3]), connections = atoi(argv[4]);
    FILE *file = fopen(argv[2], "rb");
    if (!file) { perror(argv[2]); return 2; }
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    rewind(file);
    char *message = malloc(length);
    if (fread(message, 1, length, file) != (size_t)length) { perror(argv[2]); return 2; }
    fclose(file);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)connections);
    CURL **handles = calloc(connections, sizeof *handles);
    body *bodies = calloc(connections, sizeof *bodies);
    int started = 0, done = 0;
    for (long i = 0; i < connections && started < total; i++) {
        CURL *h = handles[i] = curl_easy_init();
        curl_easy_setopt(h, CURLOPT_URL, argv[1]);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &bodies[i]);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ignore_reply);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)i);
        curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<hogmail@example.com>");
        curl_easy_setopt(h, CURLOPT_MAIL_RCPT, curl_slist_append(NULL, "<reader@example.com>"));
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)length);
        bodies[i] = (body){message, (size_t)length, 0};
        curl_multi_add_handle(multi, h);
        started++;
    }
    while (done < total) {
        int running, queued, ready;
        curl_multi_perform(multi, &running);
        CURLMsg *info;
        while ((info = curl_multi_info_read(multi, &queued))) {
            if (info->msg != CURLMSG_DONE) continue;
            if (info->data.result != CURLE_OK) {
                fprintf(stderr, "curl_floor: %s\n", curl_easy_strerror(info->data.result));
                return 1;
            }
            CURL *h = info->easy_handle;
            char *index;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, &index);
            curl_multi_remove_handle(multi, h);
            done++;
            if (started < total) {
                bodies[(long)index].offset = 0;
                curl_multi_add_handle(multi, h);
                started++;
            }
        }
        if (done < total) curl_multi_poll(multi, NULL, 0, 500, &ready);
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("%.6f\n", cpu);
    return 0;
}
