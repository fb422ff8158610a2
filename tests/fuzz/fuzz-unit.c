/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the unit-file parser (lib/unit.c, lib/ini-reader.c and
 * the value parsers below them). The input is the text of a main file
 * "fuzz.unit"; a 0xFF byte, if any, splits it into the main file and one
 * drop-in, so drop-in merging is exercised too. Unit files are untrusted
 * input (anyone who may write to the unit path), so every byte sequence must
 * give either a configuration or "FILE:LINE: message" errors, never a crash,
 * a leak or undefined behaviour.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a finding like a crash: say which, then abort so
 * libFuzzer saves the input. */
#define CHECK(cond)                                                        \
        do {                                                               \
                if (!(cond)) {                                             \
                        fprintf(stderr, "fuzz-unit: contract broken: %s\n", \
                                #cond);                                    \
                        abort();                                           \
                }                                                          \
        } while (0)

/* The parser refuses files larger than this anyway; keep runs fast. */
#define FUZZ_INPUT_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_INPUT_MAX)
                return 0;

        /* A NUL-terminated copy: the parser takes C strings. Embedded NULs
         * simply end the text early, as they would on a real read. */
        _cleanup_free_ char *buf = xmalloc(size + 1);
        memcpy(buf, data, size);
        buf[size] = '\0';

        char *paths[3] = { (char *) "fuzz.unit", NULL, NULL };
        char *texts[3] = { buf, NULL, NULL };

        char *sep = memchr(buf, 0xFF, size);
        if (sep) {
                *sep = '\0';
                paths[1] = (char *) "fuzz.unit.d/10-fuzz.conf";
                texts[1] = sep + 1;
        }

        UnitConfig *c = NULL;
        char **errors = NULL;
        int r = unit_parse_texts("fuzz", paths, texts, &c, &errors);

        /* The contract: a configuration always comes back, and errors exist
         * exactly when the result is -EINVAL. */
        CHECK(c);
        CHECK(r == 0 || r == -EINVAL);
        CHECK((r == -EINVAL) == (errors != NULL));
        STRV_FOREACH(e, errors)
                CHECK(startswith(*e, "fuzz.unit"));

        unit_config_free(c);
        strv_free(errors);
        return 0;
}
