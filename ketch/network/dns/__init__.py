"""Docker's embedded DNS (127.0.0.11) for containers on user-defined networks.

names     what a container sees: the Names protocol the engine provides, and Directory,
          an in-memory one (networks -> endpoints -> names) with Docker's rules
answer    the server's own answers (A, AAAA, PTR, MX), pure
upstream  asking the host's nameservers (UDP, TCP)
server    DNSServer: the sockets of every container, on the event loop
"""
