/* test_rxstamp.c -- collector/rxstamp.c: an answer is timed when the
 * kernel received it, not when it was read, on real loopback sockets. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <uv.h>

#include "../../collector/rxstamp.h"

#define HELD_NS 60000000ull      /* how long the datagram waits before it is read */
#define PROBE_HELD_NS 2000000ull /* the same for a probe */

/* Read one datagram on rx as the collector does, with room for a stamp
 * (or none when control is NULL). */
static void receive(int rx, struct msghdr *m, struct iovec *iov, char *buf, size_t size,
                    void *control)
{
    iov->iov_base = buf;
    iov->iov_len = size;
    memset(m, 0, sizeof(*m));
    m->msg_iov = iov;
    m->msg_iovlen = 1;
    m->msg_control = control;
    m->msg_controllen = control ? RXSTAMP_CONTROL_LEN : 0;
    assert_int_equal(recvmsg(rx, m, 0), 4);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A receiving and a sending UDP socket on 127.0.0.1, the first stamped.
 * The kernel turns stamping on for the whole host a moment after the
 * first socket asks (a deferred static key); until then it stamps at the
 * read. Probes go until one is stamped before it was read. */
static void socket_pair(int *rx, int *tx, struct sockaddr_in *to)
{
    union {
        struct cmsghdr align;
        char buf[RXSTAMP_CONTROL_LEN];
    } control;
    socklen_t len = sizeof(*to);
    struct rxstamp_clock now;
    struct msghdr m;
    struct iovec iov;
    char buf[16];
    int tries;

    *rx = socket(AF_INET, SOCK_DGRAM, 0);
    *tx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(*rx >= 0 && *tx >= 0);
    memset(to, 0, sizeof(*to));
    to->sin_family = AF_INET;
    to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*rx, (struct sockaddr *)to, sizeof(*to)), 0);
    assert_int_equal(getsockname(*rx, (struct sockaddr *)to, &len), 0);
    assert_int_equal(rxstamp_enable(*rx), 0);
    for (tries = 0; tries < 1000; tries++) {
        assert_int_equal(sendto(*tx, "ping", 4, 0, (struct sockaddr *)to, sizeof(*to)), 4);
        sleep_ns(PROBE_HELD_NS);
        receive(*rx, &m, &iov, buf, sizeof(buf), control.buf);
        rxstamp_clock_now(&now);
        if (rxstamp_arrival(&m, &now, NULL) + PROBE_HELD_NS / 2 <= now.mono_ns)
            return;
    }
    fail_msg("the kernel never stamped a datagram before it was read");
}

static void an_answer_read_late_is_timed_when_it_arrived(void **state)
{
    union {
        struct cmsghdr align;
        char buf[RXSTAMP_CONTROL_LEN];
    } control;
    struct sockaddr_in to;
    struct rxstamp_clock now;
    struct msghdr m;
    struct iovec iov;
    char buf[16];
    uint64_t before, after, at;
    double wall, wall_before;
    int rx, tx;

    (void)state;
    socket_pair(&rx, &tx, &to);
    wall_before = (double)time(NULL);
    before = uv_hrtime();
    assert_int_equal(sendto(tx, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
    after = uv_hrtime();
    /* The loop is busy elsewhere: the answer waits in the socket. */
    sleep_ns(HELD_NS);
    receive(rx, &m, &iov, buf, sizeof(buf), control.buf);
    rxstamp_clock_now(&now);
    assert_true(now.mono_ns >= after + HELD_NS);
    at = rxstamp_arrival(&m, &now, &wall);
    /* Loopback queues the datagram within sendto(); 1 ms for the clocks
     * read one after the other. */
    assert_true(at + 1000000 >= before);
    assert_true(at <= after + 1000000);
    assert_true(wall >= wall_before && wall < wall_before + 2);
    close(rx);
    close(tx);
}

static void without_a_stamp_the_read_is_the_arrival(void **state)
{
    struct sockaddr_in to;
    struct rxstamp_clock now;
    struct msghdr m;
    struct iovec iov;
    char buf[16];
    double wall;
    int rx, tx;

    (void)state;
    socket_pair(&rx, &tx, &to);
    assert_int_equal(sendto(tx, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
    receive(rx, &m, &iov, buf, sizeof(buf), NULL);
    rxstamp_clock_now(&now);
    assert_int_equal(rxstamp_arrival(&m, &now, &wall), now.mono_ns);
    assert_true(wall * 1e9 > (double)now.real_ns - 1e3 && wall * 1e9 < (double)now.real_ns + 1e3);
    close(rx);
    close(tx);
}

/* A wall clock stepped between the stamp and the read, either way: the
 * stamp is not believed. */
static void a_stamp_from_a_stepped_clock_is_not_believed(void **state)
{
    union {
        struct cmsghdr align;
        char buf[RXSTAMP_CONTROL_LEN];
    } control;
    struct sockaddr_in to;
    struct rxstamp_clock now, stepped;
    struct msghdr m;
    struct iovec iov;
    char buf[16];
    int rx, tx;

    (void)state;
    socket_pair(&rx, &tx, &to);
    assert_int_equal(sendto(tx, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
    receive(rx, &m, &iov, buf, sizeof(buf), control.buf);
    rxstamp_clock_now(&now);
    assert_true(rxstamp_arrival(&m, &now, NULL) < now.mono_ns); /* a stamp is there */
    stepped = now;
    stepped.real_ns -= 1000000000; /* back: the stamp is in the future */
    assert_int_equal(rxstamp_arrival(&m, &stepped, NULL), stepped.mono_ns);
    stepped = now;
    stepped.real_ns += (int64_t)RXSTAMP_MAX_AGE_NS + 1000000; /* forward: too old */
    assert_int_equal(rxstamp_arrival(&m, &stepped, NULL), stepped.mono_ns);
    close(rx);
    close(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_answer_read_late_is_timed_when_it_arrived),
        cmocka_unit_test(without_a_stamp_the_read_is_the_arrival),
        cmocka_unit_test(a_stamp_from_a_stepped_clock_is_not_believed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
