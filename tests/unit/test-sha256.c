/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/sha256: FIPS 180-4 vectors, every split of a streamed input, and
 * agreement with coreutils' sha256sum on random data. */

#include <fcntl.h>
#include <sys/stat.h>

#include "sha256.h"
#include "tap.h"
#include "util.h"

static void vector(const char *in, size_t n, const char *want)
{
        char got[SHA256_DIGEST_STRING_MAX];

        sha256_digest(in, n, got);
        is_str(got + 7, want, "sha256 of %zu bytes \"%.16s%s\"", n, in, n > 16 ? "…" : "");
}

static void million_a(void)
{
        char buf[1000], got[SHA256_DIGEST_STRING_MAX];
        Sha256 s;

        memset(buf, 'a', sizeof(buf));
        sha256_init(&s);
        for (int i = 0; i < 1000; i++)
                sha256_update(&s, buf, sizeof(buf));
        sha256_final_digest(&s, got);
        is_str(got, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
               "one million 'a'");
}

/* Every split point of inputs around the block boundaries gives the
 * one-shot digest. */
static void splits(void)
{
        uint8_t data[200];
        bool all = true;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7 + 3);
        for (size_t n = 0; n <= sizeof(data); n++) {
                char one[SHA256_DIGEST_STRING_MAX];
                sha256_digest(data, n, one);
                for (size_t cut = 0; cut <= n; cut++) {
                        char two[SHA256_DIGEST_STRING_MAX];
                        Sha256 s;
                        sha256_init(&s);
                        sha256_update(&s, data, cut);
                        sha256_update(&s, data + cut, n - cut);
                        sha256_final_digest(&s, two);
                        if (!streq(one, two)) {
                                tap_diag("n=%zu cut=%zu differs", n, cut);
                                all = false;
                        }
                }
        }
        ok(all, "streamed in two pieces at every split point = one shot (0..200 bytes)");
}

static void against_sha256sum(size_t size)
{
        char path[] = "/tmp/test-sha256.XXXXXX", got[SHA256_DIGEST_STRING_MAX];
        _cleanup_free_ char *cmd = NULL, *line = NULL;
        _cleanup_free_ uint8_t *data = xmalloc(size + 1);
        uint64_t n = 0;
        size_t cap = 0;
        FILE *p;
        int fd = mkstemp(path);

        srand((unsigned)size);
        for (size_t i = 0; i < size; i++)
                data[i] = (uint8_t)rand();
        if (!ok(fd >= 0 && write(fd, data, size) == (ssize_t)size, "write %zu random bytes", size))
                return;
        lseek(fd, 0, SEEK_SET);
        ok(sha256_fd(fd, got, &n) == 0 && n == size, "sha256_fd reads %zu bytes", size);
        close(fd);
        cmd = xasprintf("sha256sum %s", path);
        p = popen(cmd, "r");
        if (!p || getline(&line, &cap, p) < 64) {
                ok(false, "sha256sum runs");
        } else {
                line[64] = '\0';
                is_str(got + 7, line, "agrees with sha256sum on %zu random bytes", size);
        }
        if (p)
                pclose(p);
        unlink(path);
}

/* libcrypto's backend (sha256_init_bulk) agrees with the portable one, in
 * pieces of every size around the block boundary. */
static void bulk(void)
{
        static uint8_t data[3 * 65536 + 77];
        char a[SHA256_DIGEST_STRING_MAX], b[SHA256_DIGEST_STRING_MAX];
        bool all = true;
        Sha256 s;

        ok(sha256_bulk_available(), "libcrypto.so.3 is loaded for bulk hashing");
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 131 + (i >> 9));
        sha256_init(&s);
        sha256_update(&s, data, sizeof(data));
        sha256_final_digest(&s, a);
        for (size_t piece = 1; piece <= 130; piece++) {
                sha256_init_bulk(&s);
                if (!s.bulk && sha256_bulk_available())
                        all = false;
                for (size_t off = 0; off < sizeof(data); off += piece)
                        sha256_update(&s, data + off, off + piece <= sizeof(data) ? piece : sizeof(data) - off);
                sha256_final_digest(&s, b);
                if (!streq(a, b)) {
                        tap_diag("piece %zu: %s != %s", piece, b, a);
                        all = false;
                }
        }
        ok(all, "bulk = portable, %zu bytes in pieces of 1..130", sizeof(data));
        sha256_init_bulk(&s);
        sha256_final_digest(&s, b);
        is_str(b + 7, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "bulk: empty input");
}

int main(void)
{
        vector("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        vector("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        vector("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
               112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
        vector("The quick brown fox jumps over the lazy dog", 43,
               "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
        million_a();
        splits();
        bulk();
        against_sha256sum(0);
        against_sha256sum(55);
        against_sha256sum(64);
        against_sha256sum(3 * 1024 * 1024 + 17);
        return tap_done();
}
