/* sendbatch.h -- the socket writes of one loop turn, submitted together.
 *
 * Under load the gateway's CPU is mostly its writes, one per connection
 * and loop turn, each a system call. A send batch gathers them in one
 * buffer and hands them to the kernel with one io_uring_enter(): the same
 * sends, without a system call each (docs/BENCHMARKS.md measures what that
 * saves on the kernel's floor). Each send is non-blocking (MSG_DONTWAIT):
 * it completes at once, whole, in part or not at all, and the caller is
 * told which for each one.
 *
 * Not here: what is written (client_write.c frames it) and what happens
 * to bytes a socket did not take (client_write.c gives them to lws, which
 * sends them first when the socket is writable again). */

#ifndef IFMON_GATEWAY_SENDBATCH_H
#define IFMON_GATEWAY_SENDBATCH_H

#include <stddef.h>
#include <sys/types.h>

/* Bytes gathered per submission; sends that do not fit wait for the next. */
#define SENDBATCH_BYTES (1u << 20)
/* Sends per submission (the ring's size). */
#define SENDBATCH_ENTRIES 1024u

struct sendbatch;

/* A batch, or NULL when io_uring is not available here (an old kernel,
 * kernel.io_uring_disabled, a seccomp profile that refuses it); then
 * *why is set to the error. */
struct sendbatch *sendbatch_new(int *why);
void sendbatch_free(struct sendbatch *b);
/* 1 while b is used (not NULL, no submission failed). */
int sendbatch_usable(const struct sendbatch *b);

/* Room for `len` bytes of the next send, or NULL when the batch has not
 * that much room or entries left (submit it first), or can no longer be
 * used (a submission failed; logged): then write without it. */
unsigned char *sendbatch_room(struct sendbatch *b, size_t len);

/* Queue a send to fd of the `len` bytes just written at sendbatch_room(),
 * for `owner`. At most one per descriptor and submission: a send refused
 * by a full socket would be overtaken by the next one. */
void sendbatch_add(struct sendbatch *b, int fd, size_t len, void *owner);

/* Queue a send to fd of the `len` bytes at `data`, without copying them:
 * a frame many connections get. They must stay where they are until
 * done() has been told about this send. At most one per descriptor and
 * submission, as sendbatch_add(). Returns 0, or -1 when the batch has no
 * entry left (submit it first) or can no longer be used (a submission
 * failed; then write without it). */
int sendbatch_add_shared(struct sendbatch *b, int fd, const unsigned char *data, size_t len,
                         void *owner);

/* What became of one send: `sent` bytes of `len` (-errno when none could
 * be sent: -EAGAIN for a full socket). */
typedef void (*sendbatch_done_fn)(void *owner, const unsigned char *data, size_t len,
                                  ssize_t sent, void *arg);

/* Submit what was queued, wait for it (non-blocking sends: at once), tell
 * done() about each send in the order they were added, and empty the
 * batch. Returns how many sends there were. */
size_t sendbatch_submit(struct sendbatch *b, sendbatch_done_fn done, void *arg);

#endif
