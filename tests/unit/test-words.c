/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "tap.h"
#include "util.h"
#include "words.h"

/* s with tabs and newlines shown as \t and \n, to keep TAP lines whole. */
static char *visible(const char *s)
{
        char *v = xmalloc(strlen(s) * 2 + 1), *p = v;

        for (; *s; s++) {
                if (*s == '\n' || *s == '\t') {
                        *p++ = '\\';
                        *p++ = *s == '\n' ? 'n' : 't';
                } else
                        *p++ = *s;
        }
        *p = '\0';
        return v;
}

/* Splits s and compares with the words of want (NULL-terminated); joined
 * with '|' in messages so that the word boundaries show. */
static void check_split(const char *s, const char *const *want)
{
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *got = NULL, *exp = NULL, *v = visible(s);
        const char *error = NULL;
        int r;

        r = words_split(s, &l, &error);
        if (r < 0) {
                ok(false, "words_split(%s)", v);
                tap_diag("failed: %d %s", r, error ?: "(no message)");
                return;
        }
        got = strv_join(l, "|");
        exp = strv_join((char *const *) want, "|");
        if (!ok(l && strv_length(l) == strv_length((char *const *) want) && streq(got, exp),
                "words_split(%s)", v))
                tap_diag("got %zu words [%s], want [%s]", strv_length(l), got, exp);
}

#define split_is(s, ...) check_split(s, (const char *const[]){ __VA_ARGS__, NULL })

static void check_split_fails(const char *s, const char *want_error)
{
        char *unset[] = { NULL }, **l = unset;
        _cleanup_free_ char *v = visible(s);
        const char *error = NULL;
        int r;

        r = words_split(s, &l, &error);
        if (!ok(r == -EINVAL && streq_ptr(error, want_error) && l == unset,
                "words_split(%s) fails: %s", v, want_error))
                tap_diag("got %d \"%s\"", r, error ?: "(null)");
        if (r == 0)
                strv_free(l);
}

static void test_split(void)
{
        /* Plain words and blanks. */
        split_is("a", "a");
        split_is("a b c", "a", "b", "c");
        split_is("  a \t\t b\t c  ", "a", "b", "c");
        split_is("\ta\t", "a");
        split_is("/usr/bin/env --flag=1 x", "/usr/bin/env", "--flag=1", "x");
        split_is("a\nb", "a\nb"); /* only spaces and tabs separate */
        split_is("$HOME * ; | > `x`", "$HOME", "*", ";", "|", ">", "`x`");

        /* Single quotes: everything literal. */
        split_is("'a b'", "a b");
        split_is("'a \\ b\\'", "a \\ b\\");
        split_is("'a\"b'", "a\"b");
        split_is("'\t'", "\t");
        split_is("x 'a  b' y", "x", "a  b", "y");

        /* Double quotes: only \" and \\ are escapes. */
        split_is("\"a b\"", "a b");
        split_is("\"a\\\"b\"", "a\"b");
        split_is("\"a\\\\b\"", "a\\b");
        split_is("\"a\\nb\"", "a\\nb");
        split_is("\"a\\ b\"", "a\\ b");
        split_is("\"\\$x\"", "\\$x");
        split_is("\"it's\"", "it's");
        split_is("\"\\\\\\\"\"", "\\\"");

        /* Backslashes outside quotes escape the next character. */
        split_is("a\\ b", "a b");
        split_is("a\\\\b", "a\\b");
        split_is("\\'a\\'", "'a'");
        split_is("\\\"", "\"");
        split_is("a\\\tb c", "a\tb", "c");
        split_is("\\n", "n");

        /* Pieces join into one word. */
        split_is("\"a\"b'c'", "abc");
        split_is("a'b c'd", "ab cd");
        split_is("--opt=\"x y\" z", "--opt=x y", "z");
        split_is("'a'\"b\"\\ c", "ab c");

        /* Empty words. */
        split_is("''", "");
        split_is("\"\"", "");
        split_is("a '' b", "a", "", "b");
        split_is("'' \"\"", "", "");
        split_is("''''", "");

        split_is("sh -c \"a ; b\"", "sh", "-c", "a ; b");
        split_is("sh -c 'echo \"$1\"' x", "sh", "-c", "echo \"$1\"", "x");

        /* Empty input: an empty vector, not an error. */
        const char *const blank[] = { "", " ", "\t \t" };
        for (size_t i = 0; i < ELEMENTSOF(blank); i++) {
                char **l = NULL;
                int r = words_split(blank[i], &l, NULL);

                _cleanup_free_ char *v = visible(blank[i]);

                ok(r == 0 && l && !l[0], "words_split(\"%s\") is the empty vector", v);
                strv_free(l);
        }

        check_split_fails("'a", "unbalanced quotes");
        check_split_fails("a'", "unbalanced quotes");
        check_split_fails("'a b\"", "unbalanced quotes");
        check_split_fails("\"a", "unbalanced quotes");
        check_split_fails("a \"b c", "unbalanced quotes");
        check_split_fails("\"a\\\"", "unbalanced quotes");
        check_split_fails("'''", "unbalanced quotes");
        check_split_fails("\"\"\"", "unbalanced quotes");
        check_split_fails("a\\", "trailing backslash");
        check_split_fails("\\", "trailing backslash");
        check_split_fails("a b \\", "trailing backslash");

        char **l = NULL;
        ok(words_split("'", &l, NULL) == -EINVAL && !l, "words_split takes a NULL ret_error");
}

static void check_quote(const char *w, const char *want)
{
        _cleanup_free_ char *q = word_quote(w), *v = visible(w);

        is_str(q, want, "word_quote(%s)", v);
}

/* Quotes each word, joins them with a blank and splits the line back. */
static bool quote_round_trips(const char *const *words, size_t n)
{
        _cleanup_strv_free_ char **quoted = NULL, **back = NULL;
        _cleanup_free_ char *line = NULL;
        bool same;

        for (size_t i = 0; i < n; i++)
                strv_push(&quoted, word_quote(words[i]));
        line = strv_join(quoted, " ");
        if (words_split(line, &back, NULL) < 0) {
                tap_diag("cannot split back [%s]", line);
                return false;
        }
        same = strv_length(back) == n;
        for (size_t i = 0; same && i < n; i++)
                same = streq(back[i], words[i]);
        if (!same)
                tap_diag("[%s] did not read back", line);
        return same;
}

static void test_quote(void)
{
        check_quote("abc", "abc");
        check_quote("/usr/bin/env", "/usr/bin/env");
        check_quote("--x=1;$y*", "--x=1;$y*");
        check_quote("", "''");
        check_quote("a b", "'a b'");
        check_quote("a\tb", "'a\tb'");
        check_quote("a\\b", "'a\\b'");
        check_quote("say \"hi\"", "'say \"hi\"'");
        check_quote("it's", "\"it's\"");
        check_quote("it's \"x\" \\", "\"it's \\\"x\\\" \\\\\"");

        static const char *const tricky[] = {
                "", "a b", "  ", "'", "\"", "\\", "\\\\", "'\"'", "\"'\"", "it's", "a\\ b",
                "\\\"", "a\tb", "$HOME", "a'b\"c\\d e", "''", "\"\"", "\\n", "x\\",
                "a ; b", "%n",
        };
        bool all = true;
        for (size_t i = 0; i < ELEMENTSOF(tricky); i++)
                all &= quote_round_trips(&tricky[i], 1);
        ok(all, "word_quote round-trips each tricky word alone");
        ok(quote_round_trips(tricky, ELEMENTSOF(tricky)), "word_quote round-trips them in one line");

        /* Random words over the characters that matter. */
        static const char alphabet[] = "ab '\"\\\t$;";
        unsigned x = 2463534242u;
        all = true;
        for (int i = 0; i < 2000; i++) {
                char words[4][9];
                const char *v[4];

                for (int j = 0; j < 4; j++) {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        size_t len = x % 9;
                        for (size_t k = 0; k < len; k++) {
                                x ^= x << 13;
                                x ^= x >> 17;
                                x ^= x << 5;
                                words[j][k] = alphabet[x % (sizeof(alphabet) - 1)];
                        }
                        words[j][len] = '\0';
                        v[j] = words[j];
                }
                all &= quote_round_trips(v, 4);
        }
        ok(all, "word_quote round-trips 2000 random lines");
}

int main(void)
{
        test_split();
        test_quote();
        return tap_done();
}
