/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for what `ccsupctl logs` reads (lib/logrecord.c):
 * every input is split into lines like a log file and each line is given to
 * log_record_parse() and to a LogJoiner. The file is written by ccsupd, but
 * the messages in it are whatever a container printed, and a damaged or
 * hand-edited file is possible: any bytes must give records or plain lines,
 * never a crash, a leak or undefined behaviour. Contracts checked: a parsed
 * record's pieces lie inside its line and the message ends the line; the
 * joiner hands on no more bytes than it was given (no message is invented).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logrecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
        do {                                                                          \
                if (!(cond)) {                                                        \
                        fprintf(stderr, "fuzz-logrecord: contract broken: %s\n", #cond); \
                        abort();                                                      \
                }                                                                     \
        } while (0)

static void count(const char *message, size_t len, void *userdata)
{
        size_t *total = userdata;

        volatile char sink = 0;

        CHECK(message != NULL || len == 0);
        /* Read every byte: ASan tells a message outside its buffer. */
        for (size_t i = 0; i < len; i++)
                sink ^= message[i];
        (void)sink;
        *total += len;
}

static int inside(const char *p, size_t n, const char *line, size_t len)
{
        return p >= line && p + n <= line + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        size_t total = 0;
        LogJoiner *j = log_joiner_new(count, &total);

        for (size_t start = 0; start <= size;) {
                const char *nl = memchr(text + start, '\n', size - start);
                size_t len = nl ? (size_t)(nl - (text + start)) : size - start;
                /* A copy of exactly the line: reading past it is an error ASan sees. */
                char *line = malloc(len ? len : 1);
                LogRecord rec;

                memcpy(line, text + start, len);
                if (log_record_parse(line, len, &rec) == 0) {
                        CHECK(inside(rec.timestamp, rec.timestamp_len, line, len));
                        CHECK(inside(rec.stream, rec.stream_len, line, len));
                        CHECK(inside(rec.message, rec.message_len, line, len));
                        CHECK(rec.message + rec.message_len == line + len);
                }
                log_joiner_feed(j, line, len);
                free(line);
                if (!nl)
                        break;
                start += len + 1;
        }
        log_joiner_flush(j);
        log_joiner_free(j);
        CHECK(total <= size);
        return 0;
}
