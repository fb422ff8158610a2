/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for layer extraction (lib/layer.c): the input is a layer
 * (tar, or gzip/zstd of one), unpacked with OCI whiteouts into a fresh
 * directory inside a scratch root, which is removed after every run. The
 * contract: a result or an error with a message, never a crash; and nothing
 * is ever written outside the layer directory (a sentinel directory beside
 * it must stay empty, and the layer's parent must hold only the layer).
 *
 * Built by `make fuzz`; run as root for the full code paths (owners,
 * device nodes, trusted.* xattrs); as another user those fail cleanly.
 */

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "layer.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                \
        do {                                                                       \
                if (!(cond)) {                                                     \
                        fprintf(stderr, "fuzz-layer: contract broken: %s\n", #cond); \
                        abort();                                                   \
                }                                                                  \
        } while (0)

static char scratch[] = "/tmp/fuzz-layer.XXXXXX";
static int scratch_fd = -1;

static size_t entries(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        size_t n = 0;

        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.' || (de->d_name[1] && (de->d_name[1] != '.' || de->d_name[2]));
        closedir(d);
        return n;
}

static void remove_scratch(void)
{
        (void)layer_remove_tree(AT_FDCWD, scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *err = NULL;
        int in, layer, r;

        if (size > 1024 * 1024)
                return 0;
        if (scratch_fd < 0) {
                CHECK(mkdtemp(scratch));
                scratch_fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                CHECK(scratch_fd >= 0);
                CHECK(mkdirat(scratch_fd, "sentinel", 0755) == 0);
                CHECK(mkdirat(scratch_fd, "parent", 0755) == 0);
                atexit(remove_scratch);
        }
        CHECK(mkdirat(scratch_fd, "parent/layer", 0755) == 0);
        layer = openat(scratch_fd, "parent/layer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(layer >= 0);
        in = memfd_create("layer", MFD_CLOEXEC);
        CHECK(in >= 0 && write(in, data, size) == (ssize_t)size);
        lseek(in, 0, SEEK_SET);

        r = layer_extract(in, layer, LAYER_OCI_WHITEOUTS, NULL, &err);
        CHECK((r < 0) == (err != NULL));
        CHECK(entries(scratch_fd, "sentinel") == 0);
        CHECK(entries(scratch_fd, "parent") == 1);
        CHECK(entries(scratch_fd, ".") == 2);

        free(err);
        close(in);
        close(layer);
        CHECK(layer_remove_tree(scratch_fd, "parent/layer") == 0);
        return 0;
}
