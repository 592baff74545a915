/* netsink: the TCP server of bench/network.py, run as a container's only process.

   Port 80 ("hello"): each connection is sent one byte, "k", then read like a sink's: a
   client that reads the byte knows the connection reached this process (not a proxy in
   front of it). The client of the connection-rate test then resets the connection
   (SO_LINGER 0), so that no side keeps it in TIME_WAIT: tens of thousands of connections
   in a few seconds would otherwise collide with TIME_WAIT sockets of the same addresses
   and ports, and wait a second for a SYN to be sent again.
   Port 81 ("sink"): each connection is read until the client's end of stream, the data
   thrown away, then closed: the client's read of that close says every byte arrived.

   One thread, epoll, non-blocking sockets: many clients at once cost nothing extra.
   Built with `gcc -static -O2` by bench/network.py. */

#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELLO_PORT 80
#define SINK_PORT 81

static char buf[1 << 20];

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
        perror("netsink: listen");
        exit(1);
    }
    return fd;
}

int main(void) {
    int hello = listen_on(HELLO_PORT), sink = listen_on(SINK_PORT);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, events[256];
    ev.data.fd = hello;
    epoll_ctl(ep, EPOLL_CTL_ADD, hello, &ev);
    ev.data.fd = sink;
    epoll_ctl(ep, EPOLL_CTL_ADD, sink, &ev);
    fprintf(stderr, "netsink: listening on %d and %d\n", HELLO_PORT, SINK_PORT);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno != EINTR) {
            perror("netsink: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == hello || fd == sink) {
                int c;
                while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (fd == hello && write(c, "k", 1) != 1) {
                        close(c);
                        continue;
                    }
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
            } else {
                ssize_t r;
                while ((r = read(fd, buf, sizeof buf)) > 0)
                    ;
                if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                    close(fd); /* also leaves the epoll set */
            }
        }
    }
}
