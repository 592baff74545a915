"""Container networks: the networks and their endpoints (``registry``), the API's
operations on them (``service``), a container's namespace and attachments at start and
exit (``sandbox``), and ketch's firewall table (``firewall``)."""
