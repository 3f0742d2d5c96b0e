/* acceptpace.h -- the accept() that libwebsockets calls on its listening
 * sockets: paced, and for the gateway's own ports, accepting into the
 * lobby (lobby.h) rather than into lws.
 *
 *  - Paced: at most ACCEPTPACE_PER_ITERATION connections per listening
 *    socket and loop iteration. lws 4.1.6 otherwise accepts the whole
 *    backlog in one callback (lib/roles/listen/ops-listen.c loops while
 *    poll() says the socket is readable: up to SOMAXCONN, 4096 here), and
 *    each accepted socket costs more the more are open (lws inserts its
 *    timeout into a sorted list): 4,096 connections in one burst held the
 *    loop, and every other client, for 150 ms under ASan. Past the budget
 *    accept() says EAGAIN, lws stops, and the rest waits in the kernel's
 *    backlog for the next iteration (the socket is still readable: libuv
 *    polls it again at once).
 *  - Into the lobby: on a listening socket of a vhost given to
 *    acceptpace_serve(), accept() itself accepts up to the budget, asks
 *    admit.c about each connection (a refused one is answered 503 and
 *    closed here), puts the others in the lobby, and says EAGAIN: lws
 *    gets them from the lobby, with their request head in. Any other
 *    listening socket's connection goes to lws, which asks admit.c in
 *    LWS_CALLBACK_FILTER_NETWORK_CONNECTION. */

#ifndef IFMON_GATEWAY_ACCEPTPACE_H
#define IFMON_GATEWAY_ACCEPTPACE_H

#include <uv.h>

struct lws_vhost;

/* Connections accepted per listening socket and loop iteration. */
#define ACCEPTPACE_PER_ITERATION 32

/* Count loop iterations on loop (an unreferenced uv_check handle): until
 * then, and after acceptpace_stop(), accept() is not paced and every
 * connection goes to lws. */
void acceptpace_start(uv_loop_t *loop);
/* Connections to vh's listening port go through the lobby; proxy_port:
 * it is the port a balancer uses (admit_accept()). */
void acceptpace_serve(struct lws_vhost *vh, int proxy_port);
/* Close the handle (the loop must run once more to finish closing it).
 * Harmless when not started or already stopped. */
void acceptpace_stop(void);

#endif
