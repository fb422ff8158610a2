/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds tar layers (and image archives) in memory for the image tests, with
 * libarchive's writer, so hostile archives can be made on purpose. */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "util.h"

typedef struct TarBuild {
        struct archive *a;
        int fd;                   /* memfd holding the archive */
} TarBuild;

/* filter: NULL, "gzip" or "zstd". */
static inline TarBuild tar_begin(const char *filter)
{
        TarBuild t = { archive_write_new(), (int)memfd_create("tar", MFD_CLOEXEC) };

        archive_write_set_format_pax(t.a);
        if (filter && streq(filter, "gzip"))
                archive_write_add_filter_gzip(t.a);
        else if (filter && streq(filter, "zstd"))
                archive_write_add_filter_zstd(t.a);
        archive_write_set_bytes_in_last_block(t.a, 1);
        archive_write_open_fd(t.a, t.fd);
        return t;
}

static inline void tar_add(TarBuild *t, const char *path, mode_t type, mode_t perm,
                           const void *data, size_t size, const char *link, bool hard,
                           dev_t rdev, const char *xattr)
{
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, perm);
        archive_entry_set_uid(e, 1000);
        archive_entry_set_gid(e, 2000);
        archive_entry_set_mtime(e, 1500000000, 123456789);
        if (type == AE_IFREG)
                archive_entry_set_size(e, (la_int64_t)size);
        if (link && hard)
                archive_entry_set_hardlink(e, link);
        else if (link)
                archive_entry_set_symlink(e, link);
        if (type == AE_IFCHR || type == AE_IFBLK)
                archive_entry_set_rdev(e, rdev);
        if (xattr)
                archive_entry_xattr_add_entry(e, xattr, "v", 1);
        archive_write_header(t->a, e);
        if (data && size)
                archive_write_data(t->a, data, size);
        archive_entry_free(e);
}

#define tar_file(t, p, s) tar_add(t, p, AE_IFREG, 0644, s, strlen(s), NULL, false, 0, NULL)
#define tar_dir(t, p) tar_add(t, p, AE_IFDIR, 0755, NULL, 0, NULL, false, 0, NULL)
#define tar_symlink(t, p, target) tar_add(t, p, AE_IFLNK, 0777, NULL, 0, target, false, 0, NULL)
#define tar_hardlink(t, p, target) tar_add(t, p, AE_IFREG, 0644, NULL, 0, target, true, 0, NULL)

/* Finishes the archive; returns the memfd, positioned at 0. */
static inline int tar_end(TarBuild *t)
{
        archive_write_close(t->a);
        archive_write_free(t->a);
        lseek(t->fd, 0, SEEK_SET);
        return t->fd;
}

/* The whole content of fd (from 0), malloc'd; fd is left at 0. */
static inline char *fd_slurp(int fd, size_t *ret_size)
{
        struct stat st;
        char *buf;

        fstat(fd, &st);
        buf = xmalloc((size_t)st.st_size + 1);
        if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
                abort();
        buf[st.st_size] = '\0';
        *ret_size = (size_t)st.st_size;
        return buf;
}
