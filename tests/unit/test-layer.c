/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/layer: unpacking tar layers (plain, gzip, zstd) with metadata, OCI
 * whiteouts to overlayfs ones, and hostile layers refused with nothing left
 * behind. Needs root (owners, device nodes, trusted.* xattrs). */

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "layer.h"
#include "sha256.h"
#include "tap.h"
#include "tar-build.h"
#include "util.h"

static char base[] = "/tmp/test-layer.XXXXXX";
static int parent_fd = -1;

static char *at(const char *rel) { return xasprintf("%s/layers/%s", base, rel); }

static bool exists(const char *p)
{
        struct stat st;
        return lstat(p, &st) == 0;
}

/* No layer called name and no .tmp-* debris in layers/. */
static bool layers_dir_clean(const char *name)
{
        _cleanup_free_ char *cmd = xasprintf("test -z \"$(ls -A %s/layers)\"", base);
        _cleanup_free_ char *p = at(name);
        return !exists(p) && system(cmd) == 0;
}

static int build_basic(const char *filter)
{
        TarBuild t = tar_begin(filter);

        tar_dir(&t, "./etc");
        tar_file(&t, "./etc/hostname", "box\n");
        tar_add(&t, "bin/su", AE_IFREG, 04755, "ELF", 3, NULL, false, 0, NULL);
        tar_symlink(&t, "etc/localtime", "/usr/share/zoneinfo/UTC");
        tar_hardlink(&t, "etc/hostname.hard", "etc/hostname");
        tar_add(&t, "dev/null", AE_IFCHR, 0666, NULL, 0, NULL, false, makedev(1, 3), NULL);
        tar_add(&t, "srv/disk", AE_IFBLK, 0666, NULL, 0, NULL, false, makedev(7, 0), NULL);
        tar_hardlink(&t, "srv/null.hard", "dev/null");
        tar_add(&t, "run/fifo", AE_IFIFO, 0600, NULL, 0, NULL, false, 0, NULL);
        tar_add(&t, "etc/attr", AE_IFREG, 0600, "x", 1, NULL, false, 0, "user.test");
        tar_add(&t, "etc/fake", AE_IFREG, 0600, "x", 1, NULL, false, 0, "trusted.overlay.redirect");
        tar_add(&t, "deep/a/b/c", AE_IFREG, 0600, "c", 1, NULL, false, 0, NULL);
        return tar_end(&t);
}

static void check_basic(const char *filter)
{
        _cleanup_free_ char *err = NULL, *data = NULL, *root = at("basic");
        _cleanup_close_ int fd = build_basic(filter);
        LayerResult res;
        struct stat st, st2;
        char buf[16] = {}, digest[SHA256_DIGEST_STRING_MAX];
        size_t n;
        int r;

        data = fd_slurp(fd, &n);
        sha256_digest(data, n, digest);
        r = layer_unpack(fd, parent_fd, "basic", LAYER_OCI_WHITEOUTS, digest, NULL, &res, &err);
        if (!ok(r == 0, "%s layer unpacks", filter ? filter : "plain"))
                tap_diag("r=%d %s", r, err);
        is_str(res.digest, digest, "%s: digest of the bytes read", filter ? filter : "plain");
        if (!filter)
                is_str(res.diff_id, digest, "plain: the diff ID is the digest");
        ok(res.n_entries == 12, "%s: 12 entries (got %llu)", filter ? filter : "plain",
           (unsigned long long)res.n_entries);
        ok(res.n_devices_dropped == 3, "%s: 3 device nodes dropped (got %llu)",
           filter ? filter : "plain", (unsigned long long)res.n_devices_dropped);

        _cleanup_free_ char *hn = xasprintf("%s/etc/hostname", root);
        _cleanup_free_ char *hh = xasprintf("%s/etc/hostname.hard", root);
        _cleanup_free_ char *su = xasprintf("%s/bin/su", root);
        _cleanup_free_ char *lt = xasprintf("%s/etc/localtime", root);
        _cleanup_free_ char *dn = xasprintf("%s/dev/null", root);
        _cleanup_free_ char *bd = xasprintf("%s/srv/disk", root);
        _cleanup_free_ char *dh = xasprintf("%s/srv/null.hard", root);
        _cleanup_free_ char *ff = xasprintf("%s/run/fifo", root);
        _cleanup_free_ char *xa = xasprintf("%s/etc/attr", root);
        _cleanup_free_ char *fk = xasprintf("%s/etc/fake", root);
        _cleanup_free_ char *etc = xasprintf("%s/etc", root);

        ok(stat(hn, &st) == 0 && st.st_uid == 1000 && st.st_gid == 2000 && (st.st_mode & 07777) == 0644 &&
           st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 123456789,
           "file owner 1000:2000, mode 0644, mtime with nanoseconds");
        FILE *f = fopen(hn, "re");
        ok(f && fread(buf, 1, sizeof(buf) - 1, f) == 4 && streq(buf, "box\n"), "file content");
        if (f)
                fclose(f);
        ok(stat(hh, &st2) == 0 && st2.st_ino == st.st_ino && st.st_nlink == 2, "hard link shares the inode");
        ok(stat(su, &st) == 0 && (st.st_mode & 07777) == 04755, "set-user-ID bit kept after chown");
        n = (size_t)readlink(lt, buf, sizeof(buf) - 1);
        ok(lstat(lt, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid == 1000, "symlink with its owner");
        /* Device nodes are dropped at import (a host's device in the store). */
        ok(lstat(dn, &st) < 0 && errno == ENOENT, "character device 1:3 dropped");
        ok(lstat(bd, &st) < 0 && errno == ENOENT, "block device 7:0 dropped");
        ok(lstat(dh, &st) < 0 && errno == ENOENT, "a hard link to a dropped device: dropped too");
        ok(lstat(ff, &st) == 0 && S_ISFIFO(st.st_mode), "fifo");
        ok(getxattr(xa, "user.test", buf, sizeof(buf)) == 1, "user.* xattr kept");
        ok(getxattr(fk, "trusted.overlay.redirect", buf, sizeof(buf)) < 0,
           "trusted.overlay.* xattr from the archive dropped");
        ok(stat(etc, &st) == 0 && st.st_mtim.tv_sec == 1500000000, "directory mtime set after its children");

        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", root);
        (void)system(cmd);
}

static void whiteouts(void)
{
        _cleanup_free_ char *err = NULL, *root = at("wh");
        TarBuild t = tar_begin("gzip");
        struct stat st;
        char v[4] = {};

        tar_dir(&t, "usr");
        tar_file(&t, "usr/.wh.gone", "");
        tar_dir(&t, "opt");
        tar_file(&t, "opt/.wh..wh..opq", "");
        tar_file(&t, "opt/new", "n");
        tar_file(&t, ".wh..wh.plnk", "");
        tar_file(&t, "missing-parent/.wh.x", "");
        _cleanup_close_ int fd = tar_end(&t);

        int r = layer_unpack(fd, parent_fd, "wh", LAYER_OCI_WHITEOUTS, NULL, NULL, NULL, &err);
        if (!ok(r == 0, "layer with whiteouts unpacks"))
                tap_diag("%s", err);
        _cleanup_free_ char *gone = xasprintf("%s/usr/gone", root);
        _cleanup_free_ char *marker = xasprintf("%s/usr/.wh.gone", root);
        _cleanup_free_ char *opt = xasprintf("%s/opt", root);
        _cleanup_free_ char *opq = xasprintf("%s/opt/.wh..wh..opq", root);
        _cleanup_free_ char *plnk = xasprintf("%s/.wh..wh.plnk", root);
        _cleanup_free_ char *mp = xasprintf("%s/missing-parent/x", root);
        ok(lstat(gone, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
           ".wh.gone became a 0/0 character device `gone`");
        ok(!exists(marker), "no .wh.gone file");
        ok(getxattr(opt, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
           ".wh..wh..opq set trusted.overlay.opaque=y on its directory");
        ok(getxattr(opt, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
           "and user.overlay.opaque=y, for an overlay in a user namespace");
        ok(!exists(opq) && !exists(plnk), "no .wh..wh.* files");
        ok(lstat(mp, &st) == 0 && S_ISCHR(st.st_mode), "whiteout in a directory the layer does not list");

        /* Without whiteout conversion, .wh. files are just files. */
        TarBuild t2 = tar_begin(NULL);
        tar_file(&t2, ".wh.plain", "p");
        _cleanup_close_ int fd2 = tar_end(&t2);
        free(err);
        err = NULL;
        r = layer_unpack(fd2, parent_fd, "plainwh", 0, NULL, NULL, NULL, &err);
        _cleanup_free_ char *pw = xasprintf("%s/layers/plainwh/.wh.plain", base);
        ok(r == 0 && lstat(pw, &st) == 0 && S_ISREG(st.st_mode), "without LAYER_OCI_WHITEOUTS, .wh.x stays a file");
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s %s/layers/plainwh", root, base);
        (void)system(cmd);
}

/* Runs a hostile layer: it must fail naming the problem, leave nothing in
 * layers/, and not have created victim. */
static void hostile(const char *what, int fd, const char *want_msg, const char *victim)
{
        _cleanup_free_ char *err = NULL;
        int r = layer_unpack(fd, parent_fd, "evil", LAYER_OCI_WHITEOUTS, NULL, NULL, NULL, &err);

        ok(r < 0, "%s: refused (%d)", what, r);
        ok(err && strstr(err, want_msg), "%s: message `%s`", what, err ? err : "(none)");
        if (err && !strstr(err, want_msg))
                tap_diag("want substring: %s", want_msg);
        ok(layers_dir_clean("evil"), "%s: no layer and no debris left", what);
        if (victim)
                ok(!exists(victim), "%s: `%s` not created", what, victim);
        close(fd);
}

static void hostile_layers(void)
{
        _cleanup_free_ char *abs = xasprintf("/tmp/ccsup-abs-%d", (int)getpid());
        _cleanup_free_ char *viasym = xasprintf("/tmp/ccsup-evil-%d", (int)getpid());
        _cleanup_free_ char *through = xasprintf("/tmp/ccsup-through-%d", (int)getpid());
        _cleanup_free_ char *up = xasprintf("%s/etc/x", base);
        _cleanup_free_ char *secret = xasprintf("%s/outside/secret", base);
        _cleanup_free_ char *outside = xasprintf("%s/outside", base);
        struct stat st;
        TarBuild t;

        mkdir(outside, 0755);
        FILE *f = fopen(secret, "we");
        fputs("secret", f);
        fclose(f);

        t = tar_begin(NULL);
        tar_file(&t, "ok", "fine");
        tar_file(&t, "../../etc/x", "pwned");
        hostile("path traversal ../../etc/x", tar_end(&t), "layer entry `../../etc/x`: path contains `..`", up);

        t = tar_begin("gzip");
        tar_file(&t, abs, "pwned");
        _cleanup_free_ char *absmsg = xasprintf("layer entry `%s`: absolute path", abs);
        hostile("absolute path", tar_end(&t), absmsg, abs);

        t = tar_begin(NULL);
        tar_symlink(&t, "evil", "/");
        _cleanup_free_ char *viasym_entry = xasprintf("evil%s", viasym);
        tar_file(&t, viasym_entry, "pwned");
        hostile("symlink escape evil -> / then evil/tmp/…", tar_end(&t), "is a symlink (refusing to follow it)", viasym);

        t = tar_begin(NULL);
        tar_symlink(&t, "up", "../../..");
        tar_file(&t, "up/outside/new", "pwned");
        _cleanup_free_ char *upnew = xasprintf("%s/outside/new", base);
        hostile("relative symlink escape up -> ../../..", tar_end(&t), "is a symlink", upnew);

        t = tar_begin(NULL);
        tar_hardlink(&t, "link", "../../outside/secret");
        hostile("hard link to ../../outside/secret", tar_end(&t),
                "hard link target `../../outside/secret` is outside the layer", NULL);
        ok(stat(secret, &st) == 0 && st.st_nlink == 1, "hard link: the outside file has no new link");

        t = tar_begin(NULL);
        tar_hardlink(&t, "link", "/etc/passwd");
        hostile("hard link to /etc/passwd", tar_end(&t), "is outside the layer", NULL);

        t = tar_begin(NULL);
        tar_symlink(&t, "evil", "/tmp");
        tar_file(&t, "evil/.wh.anything", "");
        hostile("whiteout through a symlinked parent", tar_end(&t), "is a symlink", NULL);

        t = tar_begin(NULL);
        tar_file(&t, "a", "x");
        tar_hardlink(&t, "b", "nonexistent");
        hostile("hard link to a missing file", tar_end(&t), "is not in the layer", NULL);

        int fd = (int)memfd_create("junk", MFD_CLOEXEC);
        (void)!write(fd, "this is not a tar archive at all, not even close......", 55);
        lseek(fd, 0, SEEK_SET);
        hostile("garbage", fd, "layer", NULL);

        /* A symlink replaced by a file of the same name: the file must not be
         * written through the symlink. */
        _cleanup_free_ char *err = NULL;
        t = tar_begin(NULL);
        tar_symlink(&t, "f", through);
        tar_file(&t, "f", "data");
        _cleanup_close_ int fd2 = tar_end(&t);
        int r = layer_unpack(fd2, parent_fd, "replace", LAYER_OCI_WHITEOUTS, NULL, NULL, NULL, &err);
        _cleanup_free_ char *rf = xasprintf("%s/layers/replace/f", base);
        ok(r == 0 && lstat(rf, &st) == 0 && S_ISREG(st.st_mode) && !exists(through),
           "a later file replaces a symlink instead of writing through it");

        /* A hard link to an in-layer symlink links the symlink itself. */
        free(err);
        err = NULL;
        t = tar_begin(NULL);
        tar_symlink(&t, "s", "/etc/shadow");
        tar_hardlink(&t, "h", "s");
        _cleanup_close_ int fd3 = tar_end(&t);
        r = layer_unpack(fd3, parent_fd, "hsym", LAYER_OCI_WHITEOUTS, NULL, NULL, NULL, &err);
        _cleanup_free_ char *hs = xasprintf("%s/layers/hsym/h", base);
        ok(r == 0 && lstat(hs, &st) == 0 && S_ISLNK(st.st_mode), "hard link to a symlink is a symlink, not its target");
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s/layers/replace %s/layers/hsym", base, base);
        (void)system(cmd);
}

static void digest_mismatch(void)
{
        _cleanup_free_ char *err = NULL;
        TarBuild t = tar_begin("zstd");
        tar_file(&t, "a", "x");
        _cleanup_close_ int fd = tar_end(&t);
        const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

        int r = layer_unpack(fd, parent_fd, "mm", LAYER_OCI_WHITEOUTS, wrong, NULL, NULL, &err);
        ok(r == -EBADMSG && err && strstr(err, "digest mismatch"), "wrong digest refused: %s", err);
        ok(layers_dir_clean("mm"), "digest mismatch: nothing left");
        lseek(fd, 0, SEEK_SET);
        free(err);
        err = NULL;
        r = layer_unpack(fd, parent_fd, "mm", LAYER_OCI_WHITEOUTS, NULL, wrong, NULL, &err);
        ok(r == -EBADMSG && err && strstr(err, "diff ID mismatch"), "wrong diff ID refused: %s", err);
        ok(layers_dir_clean("mm"), "diff ID mismatch: nothing left");
}

/* A layer with one file of logical size MiB that holds a single 4 KiB block
 * of data: a sparse entry (pax GNU.sparse), as tar --sparse writes. */
static int build_sparse(const char *name, unsigned mib)
{
        static const char block[4096] = "data";
        TarBuild t = tar_begin("gzip");
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)mib << 20);
        archive_entry_sparse_add_entry(e, 0, sizeof(block));
        archive_write_header(t.a, e);
        archive_write_data(t.a, block, sizeof(block));
        archive_entry_free(e);
        return tar_end(&t);
}

static void budget(void)
{
        _cleanup_free_ char *err = NULL, *p = at("sp1/big");
        _cleanup_close_ int a = build_sparse("big", 32), b = build_sparse("other", 8);
        LayerBudget bud;
        struct stat st;
        int r;

        layer_budget_init(&bud, 16 << 20, -1);
        r = layer_unpack_bounded(a, parent_fd, "sp1", 0, NULL, NULL, &bud, NULL, &err);
        ok(r == -EFBIG && err && strstr(err, "unpacks to more than 16M"),
           "a sparse file counts at its logical size: %s", err);
        ok(bud.size == 0 && layers_dir_clean("sp1"), "over the bound: nothing left, nothing counted");

        lseek(a, 0, SEEK_SET);
        layer_budget_init(&bud, 36 << 20, parent_fd);
        r = layer_unpack_bounded(a, parent_fd, "sp1", 0, NULL, NULL, &bud, NULL, &err);
        ok(r == 0 && bud.size == 32 << 20, "within the bound: counted 32M (got %llu)",
           (unsigned long long)bud.size);
        ok(lstat(p, &st) == 0 && st.st_size == 32 << 20 && st.st_blocks * 512 < 1 << 20,
           "the file keeps its holes");
        free(err);
        err = NULL;
        r = layer_unpack_bounded(b, parent_fd, "sp2", 0, NULL, NULL, &bud, NULL, &err);
        ok(r == -EFBIG && bud.size == 32 << 20, "the budget carries over to the next layer: %s", err);
        _cleanup_free_ char *sp2 = at("sp2");
        ok(!exists(sp2), "the second layer is not left");
        lseek(b, 0, SEEK_SET);
        free(err);
        err = NULL;
        r = layer_unpack(b, parent_fd, "sp2", 0, NULL, NULL, NULL, &err);
        ok(r == 0, "unbounded, it unpacks");
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s/layers/sp1 %s/layers/sp2", base, base);
        (void)system(cmd);
}

/* LAYER_STAGE: checked but not in place until layer_stage_commit(); an
 * aborted stage leaves nothing. */
static void staged(void)
{
        _cleanup_free_ char *err = NULL, *root = at("staged"), *tmp = xasprintf(".tmp-staged-%d", (int)getpid());
        _cleanup_free_ char *tmp_path = at(tmp), *host = xasprintf("%s/etc/hostname", root);
        _cleanup_close_ int fd = build_basic(NULL), fd2 = build_basic(NULL);
        int r;

        r = layer_unpack(fd, parent_fd, "staged", LAYER_OCI_WHITEOUTS | LAYER_STAGE, NULL, NULL, NULL, &err);
        if (!ok(r == 0, "staged: unpacks"))
                tap_diag("r=%d %s", r, err);
        ok(!exists(root) && exists(tmp_path), "staged: not in place yet, in its temporary sibling");
        r = layer_stage_commit(parent_fd, "staged", &err);
        ok(r == 0 && exists(host) && !exists(tmp_path), "staged: in place after the commit");
        r = layer_unpack(fd2, parent_fd, "staged", LAYER_OCI_WHITEOUTS | LAYER_STAGE, NULL, NULL, NULL, &err);
        ok(r == 0 && exists(tmp_path), "staged: a second copy is staged beside it");
        r = layer_stage_commit(parent_fd, "staged", &err);
        ok(r == 0 && exists(host) && !exists(tmp_path), "staged: the copy in place wins, the second goes");
        _cleanup_close_ int fd3 = build_basic(NULL);
        r = layer_unpack(fd3, parent_fd, "staged2", LAYER_OCI_WHITEOUTS | LAYER_STAGE, NULL, NULL, NULL, &err);
        layer_stage_abort(parent_fd, "staged2");
        _cleanup_free_ char *tmp2 = xasprintf(".tmp-staged2-%d", (int)getpid()), *tmp2_path = at(tmp2),
                           *root2 = at("staged2");
        ok(r == 0 && !exists(tmp2_path) && !exists(root2), "staged: an aborted stage leaves nothing");
        (void)layer_remove_tree(parent_fd, "staged");
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (owners, device nodes, trusted.* xattrs)\n");
                return 0;
        }
        if (!mkdtemp(base))
                return 1;
        _cleanup_free_ char *layers = xasprintf("%s/layers", base);
        mkdir(layers, 0700);
        parent_fd = open(layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        check_basic(NULL);
        check_basic("gzip");
        check_basic("zstd");
        whiteouts();
        hostile_layers();
        digest_mismatch();
        budget();
        staged();

        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", base);
        (void)system(cmd);
        return tap_done();
}
