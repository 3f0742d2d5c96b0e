/* rxcheck.h -- the bytes libwebsockets reads from a client, checked
 * before lws parses them (rxscan.h says which checks and why lws 4.1.6
 * needs them).
 *
 * How: lws reads every connection it accepted with recv(), and nothing
 * else in the gateway calls recv() (hiredis 0.14 and libuv use read() and
 * recvmsg()). rxcheck.c defines recv(); the dynamic linker binds lws'
 * calls to the executable's definition before libc's (ordinary symbol
 * interposition, as a malloc replacement is bound), and it reads with
 * recvfrom(), which is what recv() is. It also defines close(), which
 * closes with the system call close(2) is, so as to know when lws lets
 * an accepted socket go (lws' callbacks say it after the descriptor is
 * gone, without its number). A socket is watched from rxcheck_accept()
 * until it is closed; any other recv() or close() passes through
 * untouched.
 *
 * A connection from a trusted balancer starts with a PROXY protocol
 * header (proxyproto.h): it is read here, taken out of what lws sees, and
 * the client it names handed to the `proxied` hook; a connection whose
 * header is not valid, or that the hook refuses, is ended (lws reads the
 * end of the connection and closes it).
 *
 * A head over its limits is answered there and then (414 or 431 written
 * on the socket, then shutdown(SHUT_WR)) and lws sees nothing more of the
 * connection: what follows is read and dropped until the client closes or
 * lws' own timeout closes it. After an unmasked frame, lws is asked for a
 * WRITEABLE callback, where http.c fails the connection (close 1002);
 * until then http.c ignores what lws hands over. An unmasked close frame
 * is answered by lws as any close is. */

#ifndef IFMON_GATEWAY_RXCHECK_H
#define IFMON_GATEWAY_RXCHECK_H

struct lws;
struct sockaddr;

/* Who is told of a watched socket's client and end (admit.c). */
struct rxcheck_hooks {
    /* A balancer's PROXY header on fd named its client (NULL: its own
     * connection, LOCAL or UNKNOWN). 0 to go on; -1 to end the
     * connection (the hook has answered on fd if it wanted to). */
    int (*proxied)(int fd, const struct sockaddr *client);
    /* A watched socket is being closed (fd is still open). */
    void (*closed)(int fd);
};

/* Set the hooks (copied) before lws accepts anything. */
void rxcheck_start(const struct rxcheck_hooks *hooks);

/* lws accepted fd (LWS_CALLBACK_FILTER_NETWORK_CONNECTION): watch it from
 * its first byte, forgetting whatever an earlier socket with the same
 * number left; with `proxied`, that first byte starts a PROXY protocol
 * header (from a trusted balancer). */
void rxcheck_accept(int fd, int proxied);

/* The upgrade request just read on fd was accepted (LWS_CALLBACK_ESTABLISHED):
 * what follows its head are frames of the WebSocket wsi. */
void rxcheck_websocket(int fd, struct lws *wsi);

/* The upgrade request just read on fd was answered as HTTP (refused): the
 * connection may carry another request. */
void rxcheck_http(int fd);

/* 1 when the client of fd sent a frame without the mask bit. */
int rxcheck_unmasked(int fd);

/* Forget every socket (the lws context is gone). */
void rxcheck_free(void);

#endif
