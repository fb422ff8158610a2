/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "util.h"
#include "words.h"

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Reads one word starting at *p (not blank, not NUL) into buf, and moves *p
 * past it. Returns 0 with the word's length, or -EINVAL with *ret_error set. */
static int read_word(const char **p, char *buf, size_t *ret_len, const char **ret_error)
{
        const char *s = *p;
        size_t n = 0;

        while (*s && !is_blank(*s)) {
                if (*s == '\'') {
                        const char *close = strchr(s + 1, '\'');

                        if (!close)
                                goto unbalanced;
                        memcpy(buf + n, s + 1, (size_t) (close - s - 1));
                        n += (size_t) (close - s - 1);
                        s = close + 1;
                } else if (*s == '"') {
                        for (s++; *s != '"'; s++) {
                                if (!*s)
                                        goto unbalanced;
                                if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                                        s++;
                                buf[n++] = *s;
                        }
                        s++;
                } else if (*s == '\\') {
                        if (!s[1]) {
                                *ret_error = "trailing backslash";
                                return -EINVAL;
                        }
                        buf[n++] = s[1];
                        s += 2;
                } else
                        buf[n++] = *s++;
        }
        *p = s;
        *ret_len = n;
        return 0;

unbalanced:
        *ret_error = "unbalanced quotes";
        return -EINVAL;
}

int words_split(const char *s, char ***ret, const char **ret_error)
{
        _cleanup_strv_free_ char **l = xcalloc(1, sizeof(char *));
        /* A word is never longer than the text it comes from. */
        _cleanup_free_ char *buf = xmalloc(strlen(s) + 1);
        const char *error = NULL;

        for (const char *p = s;;) {
                size_t n;
                int r;

                while (is_blank(*p))
                        p++;
                if (!*p)
                        break;
                r = read_word(&p, buf, &n, &error);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = error;
                        return r;
                }
                strv_push(&l, xstrndup(buf, n));
        }
        *ret = TAKE_PTR(l);
        return 0;
}

char *word_quote(const char *w)
{
        char *q, *p;

        if (*w && !strpbrk(w, " \t'\"\\"))
                return xstrdup(w);
        if (!strchr(w, '\''))
                return xasprintf("'%s'", w);

        /* Inside double quotes only '"' and '\' need a backslash. */
        p = q = xmalloc(strlen(w) * 2 + 3);
        *p++ = '"';
        for (; *w; w++) {
                if (*w == '"' || *w == '\\')
                        *p++ = '\\';
                *p++ = *w;
        }
        *p++ = '"';
        *p = '\0';
        return q;
}
