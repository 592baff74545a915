FROM scratch
HEALTHCHECK NONE
healthcheck none
HEALTHCHECK --interval=1m30s --timeout=10s --start-period=0s --start-interval=500ms --retries=0 CMD true
HEALTHCHECK cmd ["/bin/check", "--fast"]
HEALTHCHECK --foo=bar NONE
HEALTHCHECK --retries=5 CMD   exit  0  
