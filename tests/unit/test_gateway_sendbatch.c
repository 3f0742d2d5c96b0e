/* test_gateway_sendbatch.c -- unit tests of gateway/sendbatch.c on real
 * sockets (socketpairs) and a real io_uring: each send is reported whole,
 * in part or not at all, in the order added, and the bytes arrive as
 * given. Skipped, and said so, only where the kernel refuses io_uring. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../gateway/sendbatch.h"

struct report {
    void *owner;
    size_t len;
    ssize_t sent;
    unsigned char first;
};

struct reports {
    struct report r[8];
    size_t n;
};

static void record(void *owner, const unsigned char *data, size_t len, ssize_t sent, void *arg)
{
    struct reports *rs = arg;

    assert_true(rs->n < 8);
    rs->r[rs->n++] = (struct report){owner, len, sent, data[0]};
}

static void stream_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

static struct sendbatch *new_batch(void)
{
    int why = 0;
    struct sendbatch *b = sendbatch_new(&why);

    if (b == NULL) {
        fprintf(stderr, "io_uring refused here (%s): sendbatch not tested\n", strerror(why));
        skip();
    }
    assert_true(sendbatch_usable(b));
    return b;
}

static void queue(struct sendbatch *b, int fd, char c, size_t len, void *owner)
{
    unsigned char *p = sendbatch_room(b, len);

    assert_non_null(p);
    memset(p, c, len);
    sendbatch_add(b, fd, len, owner);
}

/* Two sockets, one submission: both whole, in order, the bytes intact. */
static void sends_go_out_whole_and_in_order(void **unused)
{
    struct sendbatch *b = new_batch();
    struct reports rs = {0};
    int a[2], c[2], owner_a, owner_c;
    char buf[64];

    stream_pair(a);
    stream_pair(c);
    queue(b, a[0], 'a', 10, &owner_a);
    queue(b, c[0], 'c', 20, &owner_c);
    queue(b, a[0], 'b', 5, &owner_a);
    assert_int_equal(sendbatch_submit(b, record, &rs), 3);
    assert_int_equal(rs.n, 3);
    assert_ptr_equal(rs.r[0].owner, &owner_a);
    assert_int_equal(rs.r[0].sent, 10);
    assert_int_equal(rs.r[0].first, 'a');
    assert_ptr_equal(rs.r[1].owner, &owner_c);
    assert_int_equal(rs.r[1].sent, 20);
    assert_int_equal(rs.r[2].sent, 5);
    assert_int_equal(read(a[1], buf, sizeof(buf)), 15);
    assert_memory_equal(buf, "aaaaaaaaaabbbbb", 15);
    assert_int_equal(read(c[1], buf, sizeof(buf)), 20);
    /* Empty again: the whole buffer is free. */
    assert_non_null(sendbatch_room(b, SENDBATCH_BYTES));
    assert_int_equal(sendbatch_submit(b, record, &rs), 0);
    close(a[0]), close(a[1]), close(c[0]), close(c[1]);
    sendbatch_free(b);
}

/* A full socket takes nothing (-EAGAIN) or a part; never blocks. */
static void a_full_socket_is_reported_not_waited_for(void **unused)
{
    struct sendbatch *b = new_batch();
    struct reports rs = {0};
    static char junk[65536];
    int s[2], sndbuf = 4096;

    stream_pair(s);
    assert_int_equal(setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    while (write(s[0], junk, sizeof(junk)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    queue(b, s[0], 'x', 100000, NULL);
    assert_int_equal(sendbatch_submit(b, record, &rs), 1);
    assert_int_equal(rs.n, 1);
    assert_true(rs.r[0].sent == -EAGAIN || (rs.r[0].sent >= 0 && rs.r[0].sent < 100000));
    close(s[0]), close(s[1]);
    sendbatch_free(b);
}

/* A closed peer: the error, not a signal (MSG_NOSIGNAL). */
static void a_closed_peer_is_an_error(void **unused)
{
    struct sendbatch *b = new_batch();
    struct reports rs = {0};
    int s[2];

    stream_pair(s);
    close(s[1]);
    queue(b, s[0], 'x', 10, NULL);
    sendbatch_submit(b, record, &rs);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].sent, -EPIPE);
    close(s[0]);
    sendbatch_free(b);
}

struct seen {
    const unsigned char *data;
    ssize_t sent;
    size_t n;
};

static void note(void *owner, const unsigned char *data, size_t len, ssize_t sent, void *arg)
{
    struct seen *sn = arg;

    (void)owner, (void)len;
    sn->data = data;
    sn->sent = sent;
    sn->n++;
}

/* A shared send goes out from the caller's bytes, reported at their own
 * address, interleaved with copied ones in the order added; it takes an
 * entry, and a full batch refuses it. */
static void a_shared_send_is_not_copied(void **unused)
{
    struct sendbatch *b = new_batch();
    struct seen sn = {0};
    static const unsigned char frame[] = "\x81\x05hello";
    int s[2], t[2];
    char buf[64];
    size_t i;

    stream_pair(s);
    stream_pair(t);
    queue(b, t[0], 'q', 3, NULL);
    assert_int_equal(sendbatch_add_shared(b, s[0], frame, 7, NULL), 0);
    assert_int_equal(sendbatch_submit(b, note, &sn), 2);
    assert_int_equal(sn.n, 2);
    assert_ptr_equal(sn.data, frame);
    assert_int_equal(sn.sent, 7);
    assert_int_equal(read(s[1], buf, sizeof(buf)), 7);
    assert_memory_equal(buf, frame, 7);
    assert_int_equal(read(t[1], buf, sizeof(buf)), 3);
    for (i = 0; i < SENDBATCH_ENTRIES; i++)
        assert_int_equal(sendbatch_add_shared(b, t[0], frame, 1, NULL), 0);
    assert_int_equal(sendbatch_add_shared(b, s[0], frame, 7, NULL), -1);
    assert_null(sendbatch_room(b, 1));
    sn.n = 0;
    assert_int_equal(sendbatch_submit(b, note, &sn), SENDBATCH_ENTRIES);
    assert_int_equal(sn.n, SENDBATCH_ENTRIES);
    close(s[0]), close(s[1]), close(t[0]), close(t[1]);
    sendbatch_free(b);
}

struct tally {
    size_t reported, bytes;
};

static void count(void *owner, const unsigned char *data, size_t len, ssize_t sent, void *arg)
{
    struct tally *t = arg;

    /* Many tiny sends can fill a socketpair's buffer: -EAGAIN then. */
    assert_true(sent == (ssize_t)len || sent == -EAGAIN);
    assert_int_equal(data[0], 'y');
    t->reported++;
    t->bytes += sent > 0 ? (size_t)sent : 0;
}

/* Room is bounded by bytes and by entries; a full batch is all reported. */
static void room_runs_out_by_bytes_and_by_entries(void **unused)
{
    struct sendbatch *b = new_batch();
    struct tally t = {0};
    char buf[SENDBATCH_ENTRIES];
    size_t i;
    int s[2];

    stream_pair(s);
    assert_null(sendbatch_room(b, SENDBATCH_BYTES + 1));
    for (i = 0; i < SENDBATCH_ENTRIES; i++)
        queue(b, s[0], 'y', 1, NULL);
    assert_null(sendbatch_room(b, 1));
    assert_int_equal(sendbatch_submit(b, count, &t), SENDBATCH_ENTRIES);
    assert_int_equal(t.reported, SENDBATCH_ENTRIES);
    assert_true(t.bytes > 0);
    assert_int_equal(read(s[1], buf, sizeof(buf)), (ssize_t)t.bytes);
    close(s[1]);
    close(s[0]);
    sendbatch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sends_go_out_whole_and_in_order),
        cmocka_unit_test(a_full_socket_is_reported_not_waited_for),
        cmocka_unit_test(a_closed_peer_is_an_error),
        cmocka_unit_test(room_runs_out_by_bytes_and_by_entries),
        cmocka_unit_test(a_shared_send_is_not_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
