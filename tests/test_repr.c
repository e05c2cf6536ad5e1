/* dg_repr_bytes: Python's repr() of bytes, byte for byte (the seed's echo
 * server prints received b'\x00\xffbin\n'), and its snprintf-like cutting.
 * The expectations were produced by Debian's /usr/bin/python3 and are
 * written out here, so the test does not need Python. */
#include "helpers.h"
#include <string.h>

static void check(const void *data, size_t n, const char *want)
{
    char buf[1024];
    size_t need = dg_repr_bytes(buf, sizeof buf, data, n);
    assert_string_equal(buf, want);
    assert_int_equal(need, strlen(want));
}

#define CHECK(lit, want) check(lit, sizeof lit - 1, want)

static void test_python_repr(void **state)
{
    (void)state;
    CHECK("hello", "b'hello'");
    CHECK("", "b''");
    CHECK("\x00\xff" "bin\n", "b'\\x00\\xffbin\\n'");
    CHECK("it's", "b\"it's\"");
    CHECK("it's \"q\"", "b'it\\'s \"q\"'"); /* both quotes: single, escaped */
    CHECK("\"", "b'\"'");
    CHECK("say \"hi\"", "b'say \"hi\"'");
    CHECK("\t\r\\", "b'\\t\\r\\\\'");
    CHECK("\x7f", "b'\\x7f'");
    CHECK("\x1e\x1f !", "b'\\x1e\\x1f !'");
    CHECK("\x80\xa0\xfe", "b'\\x80\\xa0\\xfe'");
    check(NULL, 0, "b''");
}

/* A hostile datagram cannot reach the terminal raw: ESC is escaped. */
static void test_no_raw_escape(void **state)
{
    (void)state;
    CHECK("\x1b[2J", "b'\\x1b[2J'");
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char buf[1024];
    dg_repr_bytes(buf, sizeof buf, all, sizeof all);
    for (const char *c = buf; *c; c++)
        assert_true(*c >= 0x20 && *c < 0x7f);
}

static void test_every_byte(void **state)
{
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    check(all, sizeof all,
    "b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x"
    "0c\\r\\x0e\\x0f\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18"
    "\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f !\"#$%&\\'()*+,-./012"
    "3456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`a"
    "bcdefghijklmnopqrstuvwxyz{|}~\\x7f\\x80\\x81\\x82\\x8"
    "3\\x84\\x85\\x86\\x87\\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x8"
    "f\\x90\\x91\\x92\\x93\\x94\\x95\\x96\\x97\\x98\\x99\\x9a\\x9"
    "b\\x9c\\x9d\\x9e\\x9f\\xa0\\xa1\\xa2\\xa3\\xa4\\xa5\\xa6\\xa"
    "7\\xa8\\xa9\\xaa\\xab\\xac\\xad\\xae\\xaf\\xb0\\xb1\\xb2\\xb"
    "3\\xb4\\xb5\\xb6\\xb7\\xb8\\xb9\\xba\\xbb\\xbc\\xbd\\xbe\\xb"
    "f\\xc0\\xc1\\xc2\\xc3\\xc4\\xc5\\xc6\\xc7\\xc8\\xc9\\xca\\xc"
    "b\\xcc\\xcd\\xce\\xcf\\xd0\\xd1\\xd2\\xd3\\xd4\\xd5\\xd6\\xd"
    "7\\xd8\\xd9\\xda\\xdb\\xdc\\xdd\\xde\\xdf\\xe0\\xe1\\xe2\\xe"
    "3\\xe4\\xe5\\xe6\\xe7\\xe8\\xe9\\xea\\xeb\\xec\\xed\\xee\\xe"
    "f\\xf0\\xf1\\xf2\\xf3\\xf4\\xf5\\xf6\\xf7\\xf8\\xf9\\xfa\\xf"
    "b\\xfc\\xfd\\xfe\\xff'");
}

/* Short buffers: as much as fits, cut only between whole escapes, always
 * NUL-terminated, nothing written past len, and the full length returned. */
static void test_truncation(void **state)
{
    (void)state;
    static const char data[] = "\x00\xff" "bin\n";
    static const char full[] = "b'\\x00\\xffbin\\n'";
    /* Where a cut may fall: after "b'", after each escape or byte, at the end. */
    static const size_t cuts[] = {0, 2, 6, 10, 11, 12, 13, 15, 16};
    for (size_t len = 0; len <= sizeof full + 1; len++) {
        char buf[64];
        memset(buf, '#', sizeof buf);
        size_t need = dg_repr_bytes(buf, len, data, sizeof data - 1);
        assert_int_equal(need, strlen(full));
        for (size_t i = len; i < sizeof buf; i++)
            assert_int_equal(buf[i], '#');
        if (len == 0)
            continue;
        size_t want = 0;
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
            if (cuts[i] < len)
                want = cuts[i];
        assert_int_equal(strlen(buf), want);
        assert_memory_equal(buf, full, want);
    }
    /* No buffer at all: only the length, as snprintf(NULL, 0, ...). */
    assert_int_equal(dg_repr_bytes(NULL, 0, data, sizeof data - 1), strlen(full));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_repr),
        cmocka_unit_test(test_no_raw_escape),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
