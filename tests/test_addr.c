/* dg_addr: parsing IP literals only (Twisted's isIPAddress/isIPv6Address,
 * spec 1.1 and 3 D items 22-26: names are -EINVAL), formatting, equality. */
#include "helpers.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static void test_parse_ipv4(void **state)
{
    (void)state;
    dg_addr a;
    assert_int_equal(dg_addr_parse(&a, "127.0.0.1", 9999), 0);
    assert_int_equal(dg_addr_family(&a), AF_INET);
    assert_int_equal(dg_addr_port(&a), 9999);
    assert_int_equal(ntohl(a.u.in4.sin_addr.s_addr), 0x7f000001);
    socklen_t len = 0;
    assert_ptr_equal(dg_addr_sockaddr(&a, &len), &a.u.sa);
    assert_int_equal(len, sizeof(struct sockaddr_in));

    assert_int_equal(dg_addr_parse(&a, "0.0.0.0", 0), 0);
    assert_int_equal(dg_addr_port(&a), 0);
    assert_int_equal(dg_addr_parse(&a, "10.1.2.3", 65535), 0);
    assert_int_equal(dg_addr_port(&a), 65535);
}

static void test_parse_ipv6(void **state)
{
    (void)state;
    dg_addr a;
    assert_int_equal(dg_addr_parse(&a, "::1", 9999), 0);
    assert_int_equal(dg_addr_family(&a), AF_INET6);
    assert_int_equal(dg_addr_port(&a), 9999);
    assert_true(IN6_IS_ADDR_LOOPBACK(&a.u.in6.sin6_addr));
    assert_int_equal(a.u.in6.sin6_scope_id, 0);
    socklen_t len = 0;
    dg_addr_sockaddr(&a, &len);
    assert_int_equal(len, sizeof(struct sockaddr_in6));

    /* IPv4-mapped is an IPv6 literal, as in Twisted. */
    assert_int_equal(dg_addr_parse(&a, "::ffff:127.0.0.1", 1), 0);
    assert_int_equal(dg_addr_family(&a), AF_INET6);
    assert_true(IN6_IS_ADDR_V4MAPPED(&a.u.in6.sin6_addr));
}

static void test_parse_scope(void **state)
{
    (void)state;
    unsigned lo = if_nametoindex("lo");
    assert_true(lo > 0);
    dg_addr by_name, by_number;
    assert_int_equal(dg_addr_parse(&by_name, "fe80::1%lo", 5), 0);
    assert_int_equal(by_name.u.in6.sin6_scope_id, lo);
    char text[64];
    snprintf(text, sizeof text, "fe80::1%%%u", lo);
    assert_int_equal(dg_addr_parse(&by_number, text, 5), 0);
    assert_int_equal(by_number.u.in6.sin6_scope_id, lo);
    assert_true(dg_addr_equal(&by_name, &by_number));

    dg_addr a;
    assert_int_equal(dg_addr_parse(&a, "fe80::1%", 5), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "fe80::1%no-such-if0", 5), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "fe80::1%0", 5), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "fe80::1%+1", 5), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "fe80::1%99999999999", 5), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "127.0.0.1%lo", 5), -EINVAL);
}

static void test_parse_broadcast(void **state)
{
    (void)state;
    dg_addr a;
    assert_int_equal(dg_addr_parse(&a, "<broadcast>", 1234), 0);
    assert_int_equal(dg_addr_family(&a), AF_INET);
    assert_int_equal(a.u.in4.sin_addr.s_addr, htonl(0xffffffffu));
    assert_int_equal(dg_addr_port(&a), 1234);
    dg_addr b = t_addr("255.255.255.255", 1234);
    assert_true(dg_addr_equal(&a, &b));
}

/* Nothing resolves here, and Twisted's "exactly three dots" rule holds. */
static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "localhost", "example.com", "example.invalid", "1.2.3", "127.1", "", "1.2.3.4.5",
        "256.1.1.1", " 127.0.0.1", "127.0.0.1 ", "0x7f.0.0.1", "::1::2", "[::1]", "::1]",
        "<BROADCAST>", "broadcast", "1.2.3.4:80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dg_addr a;
        memset(&a, 0x5a, sizeof a);
        if (dg_addr_parse(&a, bad[i], 80) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(dg_addr_family(&a), 0); /* left empty, not half-filled */
    }
    dg_addr a;
    assert_int_equal(dg_addr_parse(&a, NULL, 80), -EINVAL);
    assert_int_equal(dg_addr_parse(NULL, "127.0.0.1", 80), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "127.0.0.1", -1), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "127.0.0.1", 65536), -EINVAL);
    assert_int_equal(dg_addr_parse(&a, "::1", 70000), -EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    char buf[DG_ADDR_STRLEN];
    dg_addr a = t_addr("127.0.0.1", 9999);
    assert_int_equal(dg_addr_format(&a, buf, sizeof buf), 14);
    assert_string_equal(buf, "127.0.0.1:9999");
    assert_int_equal(dg_addr_format_host(&a, buf, sizeof buf), 9);
    assert_string_equal(buf, "127.0.0.1");

    dg_addr b = t_addr("::1", 9999);
    assert_int_equal(dg_addr_format(&b, buf, sizeof buf), 10);
    assert_string_equal(buf, "[::1]:9999");
    assert_int_equal(dg_addr_format_host(&b, buf, sizeof buf), 3);
    assert_string_equal(buf, "::1");

    dg_addr c = t_addr("fe80::1%lo", 0);
    assert_int_equal(dg_addr_format(&c, buf, sizeof buf), 14);
    assert_string_equal(buf, "[fe80::1%lo]:0");
    assert_int_equal(dg_addr_format_host(&c, buf, sizeof buf), 10);
    assert_string_equal(buf, "fe80::1%lo");

    dg_addr m = t_addr("::ffff:127.0.0.1", 1);
    assert_int_equal(dg_addr_format(&m, buf, sizeof buf), 20);
    assert_string_equal(buf, "[::ffff:127.0.0.1]:1");

    /* The longest text: a full IPv6 address, a scope number that names no
     * interface, the largest port. DG_ADDR_STRLEN holds it. */
    dg_addr w = t_addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4000000000", 65535);
    int n = dg_addr_format(&w, buf, sizeof buf);
    assert_string_equal(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4000000000]:65535");
    assert_int_equal(n, (int)strlen(buf));
    assert_true(n < DG_ADDR_STRLEN);
}

static void test_format_nospace(void **state)
{
    (void)state;
    char buf[32];
    dg_addr a = t_addr("127.0.0.1", 9999);
    assert_int_equal(dg_addr_format(&a, buf, 14), -ENOSPC); /* no room for the NUL */
    assert_int_equal(dg_addr_format(&a, buf, 15), 14);
    assert_int_equal(dg_addr_format(&a, buf, 1), -ENOSPC);
    assert_int_equal(dg_addr_format(&a, NULL, 0), -ENOSPC);
    assert_int_equal(dg_addr_format_host(&a, buf, 9), -ENOSPC);
    assert_int_equal(dg_addr_format_host(&a, buf, 10), 9);
    dg_addr b = t_addr("::1", 9999);
    assert_int_equal(dg_addr_format(&b, buf, 10), -ENOSPC);
    assert_int_equal(dg_addr_format(&b, buf, 11), 10);

    dg_addr none;
    memset(&none, 0, sizeof none);
    assert_int_equal(dg_addr_family(&none), 0);
    assert_int_equal(dg_addr_port(&none), 0);
    assert_int_equal(dg_addr_format(&none, buf, sizeof buf), -EAFNOSUPPORT);
    assert_int_equal(dg_addr_format_host(&none, buf, sizeof buf), -EAFNOSUPPORT);
}

static void test_equal(void **state)
{
    (void)state;
    dg_addr a = t_addr("127.0.0.1", 1), b = t_addr("127.0.0.1", 1);
    assert_true(dg_addr_equal(&a, &b));
    b = t_addr("127.0.0.1", 2);
    assert_false(dg_addr_equal(&a, &b)); /* port */
    b = t_addr("127.0.0.2", 1);
    assert_false(dg_addr_equal(&a, &b)); /* address */
    b = t_addr("::ffff:127.0.0.1", 1);
    assert_false(dg_addr_equal(&a, &b)); /* family */
    assert_false(dg_addr_equal(&b, &a));

    dg_addr x = t_addr("fe80::1", 7), y = t_addr("fe80::1", 7);
    y.u.in6.sin6_flowinfo = htonl(12345);
    assert_true(dg_addr_equal(&x, &y)); /* flow info is ignored */
    y = t_addr("fe80::1%lo", 7);
    assert_false(dg_addr_equal(&x, &y)); /* scope is compared */
    y = t_addr("fe80::2", 7);
    assert_false(dg_addr_equal(&x, &y));

    dg_addr none;
    memset(&none, 0, sizeof none);
    assert_false(dg_addr_equal(&none, &none)); /* no family: equal to nothing */
    assert_false(dg_addr_equal(NULL, &a));
}

static void test_from_sockaddr(void **state)
{
    (void)state;
    dg_addr a = t_addr("::1", 53), out;
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&a, &len);
    assert_int_equal(dg_addr_from_sockaddr(&out, sa, len), 0);
    assert_true(dg_addr_equal(&a, &out));
    assert_int_equal(dg_addr_from_sockaddr(&out, sa, len - 1), -EINVAL);

    dg_addr b = t_addr("10.0.0.1", 53);
    sa = dg_addr_sockaddr(&b, &len);
    assert_int_equal(dg_addr_from_sockaddr(&out, sa, len), 0);
    assert_true(dg_addr_equal(&b, &out));
    assert_int_equal(dg_addr_from_sockaddr(&out, sa, sizeof(struct sockaddr_in) - 1), -EINVAL);
    assert_int_equal(dg_addr_from_sockaddr(&out, sa, 1), -EINVAL);
    assert_int_equal(dg_addr_from_sockaddr(&out, sa, 0), -EINVAL);
    assert_int_equal(dg_addr_from_sockaddr(NULL, sa, len), -EINVAL);
    assert_int_equal(dg_addr_from_sockaddr(&out, NULL, len), -EINVAL);

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_int_equal(dg_addr_from_sockaddr(&out, (struct sockaddr *)&un, sizeof un), -EAFNOSUPPORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ipv4),     cmocka_unit_test(test_parse_ipv6),
        cmocka_unit_test(test_parse_scope),    cmocka_unit_test(test_parse_broadcast),
        cmocka_unit_test(test_parse_rejects),  cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_nospace), cmocka_unit_test(test_equal),
        cmocka_unit_test(test_from_sockaddr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
