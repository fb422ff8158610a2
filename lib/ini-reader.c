/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ini-reader.h"

#include <ini.h>

#include "util.h"

/* Bytes that never reach inih raw inside a value: it would trim whitespace,
 * cut at ';' and take a leading '#' for a comment. Control characters other
 * than tab are rejected in unit files, so these codes are free. */
enum {
        ENC_SPACE = 0x01,
        ENC_TAB = 0x02,
        ENC_SEMICOLON = 0x03,
        ENC_HASH = 0x04,
};

typedef enum PieceKind {
        PIECE_KEY,          /* "Key=value…": a new assignment */
        PIECE_SAME_LINE,    /* more of the same physical line */
        PIECE_CONTINUATION, /* a continuation line: joined with one space */
} PieceKind;

typedef struct Reader {
        const char *text;
        size_t len, pos;
        unsigned line;               /* physical line last read */

        const IniCallbacks *cb;
        void *userdata;

        char *section;               /* current section, NULL before the first */
        bool have_key;               /* a continuation is possible */

        /* The encoded value of the physical line being handed to inih. */
        char *enc;
        size_t enc_len, enc_pos;
        bool pending;                /* pieces of enc remain to hand out */
        PieceKind next_kind;         /* kind of the next piece handed out */
        PieceKind last_kind;         /* kind of the piece inih is handling */
        char key[INI_NAME_MAX + 1];

        /* The assignment being assembled by the handler. */
        char *value;
        size_t value_len;
        unsigned value_line;
        char *value_key;
        char *value_section;
} Reader;

static void report(Reader *r, const char *msg)
{
        r->cb->error(r->userdata, r->line, msg);
}

static void flush_assignment(Reader *r)
{
        if (!r->value_key)
                return;
        r->cb->assignment(r->userdata, r->value_line, r->value_section, r->value_key,
                          r->value ? r->value : "");
        free(r->value);
        free(r->value_key);
        free(r->value_section);
        r->value = r->value_key = r->value_section = NULL;
        r->value_len = 0;
}

static void append_decoded(Reader *r, const char *s)
{
        size_t l = strlen(s);
        r->value = xrealloc(r->value, r->value_len + l + 1);
        for (size_t i = 0; i < l; i++) {
                char ch = s[i];
                switch (ch) {
                case ENC_SPACE: ch = ' '; break;
                case ENC_TAB: ch = '\t'; break;
                case ENC_SEMICOLON: ch = ';'; break;
                case ENC_HASH: ch = '#'; break;
                }
                r->value[r->value_len++] = ch;
        }
        r->value[r->value_len] = 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
        Reader *r = user;

        switch (r->last_kind) {
        case PIECE_KEY:
                flush_assignment(r);
                r->value_key = xstrdup(r->key);
                r->value_section = r->section ? xstrdup(r->section) : NULL;
                r->value_line = r->line;
                r->value = xstrdup("");
                break;
        case PIECE_CONTINUATION:
        case PIECE_SAME_LINE:
                if (!r->value_key)
                        return 1; /* cannot happen: the reader only continues a live value */
                if (r->last_kind == PIECE_CONTINUATION)
                        append_decoded(r, " ");
                break;
        }
        append_decoded(r, value);
        return 1;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool key_char_ok(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
}

/* Encodes s (len bytes, already trimmed) into r->enc. */
static void encode_value(Reader *r, const char *s, size_t len)
{
        free(r->enc);
        r->enc = xmalloc(len + 1);
        for (size_t i = 0; i < len; i++) {
                char ch = s[i];
                switch (ch) {
                case ' ': ch = ENC_SPACE; break;
                case '\t': ch = ENC_TAB; break;
                case ';': ch = ENC_SEMICOLON; break;
                case '#': ch = ENC_HASH; break;
                }
                r->enc[i] = ch;
        }
        r->enc[len] = 0;
        r->enc_len = len;
        r->enc_pos = 0;
}

static void trim(const char **s, size_t *len)
{
        while (*len > 0 && is_blank(**s)) {
                (*s)++;
                (*len)--;
        }
        while (*len > 0 && is_blank((*s)[*len - 1]))
                (*len)--;
}

static void take_section(Reader *r, const char *s, size_t len)
{
        const char *close = memchr(s, ']', len);
        if (!close) {
                report(r, "invalid section header: missing `]`");
                return;
        }
        const char *rest = close + 1;
        size_t restlen = len - (size_t)(rest - s);
        trim(&rest, &restlen);
        if (restlen > 0) {
                report(r, "invalid section header: text after `]`");
                return;
        }
        size_t nlen = (size_t)(close - s - 1);
        if (nlen == 0 || nlen > INI_NAME_MAX) {
                report(r, nlen == 0 ? "empty section name" : "section name is too long");
                return;
        }
        for (size_t i = 0; i < nlen; i++)
                if (!key_char_ok(s[1 + i])) {
                        report(r, "invalid section name");
                        return;
                }
        free(r->section);
        r->section = xstrndup(s + 1, nlen);
        r->have_key = false;
        r->cb->section(r->userdata, r->line, r->section);
}

/* Checks a "Key=value" line and prepares its value for hand-over. Returns
 * true when there is something for inih. */
static bool take_assignment(Reader *r, const char *s, size_t len)
{
        const char *eq = memchr(s, '=', len);
        if (!eq) {
                report(r, "invalid line: expected `Key=Value`, `[Section]` or a comment");
                return false;
        }
        const char *k = s;
        size_t klen = (size_t)(eq - s);
        trim(&k, &klen);
        if (klen == 0) {
                report(r, "missing key name before `=`");
                return false;
        }
        if (klen > INI_NAME_MAX) {
                report(r, "key name is too long");
                return false;
        }
        for (size_t i = 0; i < klen; i++)
                if (!key_char_ok(k[i])) {
                        char *m = xasprintf("invalid key name `%.*s`", (int)klen, k);
                        report(r, m);
                        free(m);
                        return false;
                }
        if (!r->section) {
                report(r, "assignment outside of any section");
                return false;
        }
        memcpy(r->key, k, klen);
        r->key[klen] = 0;
        r->have_key = true;

        const char *v = eq + 1;
        size_t vlen = len - (size_t)(v - s);
        trim(&v, &vlen);
        encode_value(r, v, vlen);
        r->next_kind = PIECE_KEY;
        return true;
}

/* Reads physical lines until one yields something for inih. Returns false at
 * the end of the text. */
static bool next_physical_line(Reader *r)
{
        while (r->pos < r->len) {
                const char *s = r->text + r->pos;
                const char *nl = memchr(s, '\n', r->len - r->pos);
                size_t len = nl ? (size_t)(nl - s) : r->len - r->pos;
                r->pos += len + (nl ? 1 : 0);
                r->line++;

                if (len > 0 && s[len - 1] == '\r')
                        len--;
                if (r->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
                        s += 3;
                        len -= 3;
                }
                if (len > INI_LINE_MAX) {
                        flush_assignment(r);
                        r->have_key = false;
                        char *m = xasprintf("line is longer than %d bytes", INI_LINE_MAX);
                        report(r, m);
                        free(m);
                        continue;
                }
                bool bad = false;
                for (size_t i = 0; i < len; i++)
                        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
                                bad = true;
                                break;
                        }
                if (bad) {
                        flush_assignment(r);
                        r->have_key = false;
                        report(r, "invalid control character in line");
                        continue;
                }

                bool indented = len > 0 && is_blank(s[0]);
                const char *t = s;
                size_t tlen = len;
                trim(&t, &tlen);
                if (tlen == 0 || t[0] == '#' || t[0] == ';')
                        continue; /* blank lines and comments do not end a value */

                if (indented) {
                        if (!r->have_key) {
                                report(r, "continuation line without a preceding assignment");
                                continue;
                        }
                        encode_value(r, t, tlen);
                        r->next_kind = PIECE_CONTINUATION;
                        return true;
                }

                flush_assignment(r);
                r->have_key = false;
                if (t[0] == '[') {
                        take_section(r, t, tlen);
                        continue;
                }
                if (take_assignment(r, t, tlen))
                        return true;
                r->have_key = false;
        }
        return false;
}

/* inih's fgets-like reader: hands out one piece of at most num-1 bytes. */
static char *reader(char *buf, int num, void *stream)
{
        Reader *r = stream;

        if (!r->pending) {
                if (!next_physical_line(r))
                        return NULL;
                r->pending = true;
        }

        /* Besides the value: the key and '=' (or the leading blank of a
         * continuation), the newline and the terminating NUL. */
        size_t overhead = 3 + (r->next_kind == PIECE_KEY ? strlen(r->key) : 0);
        size_t room = (size_t)num > overhead + 1 ? (size_t)num - overhead : 1;
        size_t n = r->enc_len - r->enc_pos;
        if (n > room)
                n = room;
        if (r->next_kind == PIECE_KEY)
                snprintf(buf, (size_t)num, "%s=%.*s\n", r->key, (int)n, r->enc + r->enc_pos);
        else
                snprintf(buf, (size_t)num, " %.*s\n", (int)n, r->enc + r->enc_pos);
        r->enc_pos += n;
        r->last_kind = r->next_kind;
        r->next_kind = PIECE_SAME_LINE;
        if (r->enc_pos >= r->enc_len)
                r->pending = false;
        return buf;
}

int ini_read(const char *text, size_t len, const IniCallbacks *cb, void *userdata)
{
        if (memchr(text, 0, len)) {
                cb->error(userdata, 0, "file contains a NUL byte");
                return 0;
        }
        Reader r = {
                .text = text,
                .len = len,
                .cb = cb,
                .userdata = userdata,
        };
        int k = ini_parse_stream(reader, &r, handler, &r);
        flush_assignment(&r);
        free(r.enc);
        free(r.section);
        return k < 0 ? -ENOMEM : 0;
}
