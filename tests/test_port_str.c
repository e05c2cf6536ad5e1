/* Twisted's str(port): the behaviour spec's items 12-14. "<Name on N>"
 * while the port has its number, "<Name not connected>" once closed. */
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char formatted[128];
static int format_rc;

static void format_in_done(dg_port *p, void *arg)
{
    (void)arg;
    format_rc = dg_port_format(p, formatted, sizeof formatted);
}

/* 12, 13, 14. test_str, test_repr, testUDP: the port number is in it. */
static void test_contains_port_number(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    const char *ips[] = {"127.0.0.1", "::1", ""};
    t_rec rec[3];
    for (int i = 0; i < 3; i++) {
        t_rec_init(&rec[i], "Server");
        dg_port *p = t_listen(r, &rec[i], ips[i]);
        char want[64], got[64];
        snprintf(want, sizeof want, "<Server on %d>", t_port_number(p));
        assert_int_equal(dg_port_format(p, got, sizeof got), (int)strlen(want));
        assert_string_equal(got, want);
    }
    dg_reactor_free(r);
}

/* Still "on N" between stop_listening and the close (Twisted keeps the
 * number until connectionLost); "not connected" inside done. */
static void test_not_connected_after_stop(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    char want[64], got[64];
    snprintf(want, sizeof want, "<Server on %d>", t_port_number(p));
    format_rc = 0;
    assert_int_equal(dg_port_stop_listening(p, format_in_done, NULL), 0);
    assert_true(dg_port_format(p, got, sizeof got) > 0);
    assert_string_equal(got, want);
    T_RUN_UNTIL(r, rec.stopped == 1);
    assert_int_equal(format_rc, (int)strlen("<Server not connected>"));
    assert_string_equal(formatted, "<Server not connected>");
    dg_reactor_free(r);
}

/* The text must fit with its NUL: one byte short is -ENOSPC. */
static void test_short_buffer(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    char buf[64];
    int n = dg_port_format(p, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(dg_port_format(p, buf, (size_t)n), -ENOSPC);
    assert_int_equal(dg_port_format(p, NULL, 0), -ENOSPC);
    assert_int_equal(dg_port_format(p, buf, (size_t)n + 1), n);
    assert_int_equal(dg_port_format(NULL, buf, sizeof buf), -EBADF);
    dg_reactor_free(r);
}

/* No name: Twisted's default logPrefix. */
static void test_default_name(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, NULL);
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    char want[64], got[64];
    snprintf(want, sizeof want, "<DatagramProtocol on %d>", t_port_number(p));
    assert_true(dg_port_format(p, got, sizeof got) > 0);
    assert_string_equal(got, want);
    dg_reactor_free(r);
}

/* A protocol that frees itself, and its name, in stop_protocol: the port
 * still names it in done (ASan and valgrind see any read of freed memory). */
typedef struct heap_proto {
    dg_protocol proto;
    dg_protocol_ops ops;
    char *name;
} heap_proto;

static void free_self(dg_protocol *self)
{
    heap_proto *h = DG_CONTAINER_OF(self, heap_proto, proto);
    free(h->name);
    free(h);
}

static void test_name_outlives_protocol(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    heap_proto *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->name = strdup("Ephemeral");
    assert_non_null(h->name);
    h->ops = (dg_protocol_ops){.name = h->name, .stop_protocol = free_self};
    h->proto.ops = &h->ops;
    dg_port *p = NULL;
    assert_int_equal(dg_listen_udp(r, 0, &h->proto, NULL, &p), 0);
    format_rc = 0;
    assert_int_equal(dg_port_stop_listening(p, format_in_done, NULL), 0);
    T_RUN_UNTIL(r, format_rc != 0);
    assert_string_equal(formatted, "<Ephemeral not connected>");
    dg_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contains_port_number),
        cmocka_unit_test(test_not_connected_after_stop),
        cmocka_unit_test(test_short_buffer),
        cmocka_unit_test(test_default_name),
        cmocka_unit_test(test_name_outlives_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
