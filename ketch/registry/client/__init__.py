"""The registry client: Docker's distribution API v2 over httpx, blocking, thread-safe.

    endpoints   where a registry is reached: docker.io -> registry-1.docker.io, mirrors,
                insecure registries, certs.d CAs and client certificates (pure)
    challenge   WWW-Authenticate parsing (pure)
    auth        AuthConfig (X-Registry-Auth), Bearer tokens cached per scope, Basic
    apierror    the registry's error bodies and failed connections as Docker words them
    transport   a Session: one httpx client per endpoint, ping, retries, auth, redirects
    manifest    manifests and indexes parsed and validated (limits, CVE-2021-41190)
    platforms   containerd's platform matcher (arm variants) and selection from an index
    remote      one repository: manifests, uploads, tags, and opening it (mirror fallback)
    blobstream  a blob download verified while it streams, resumed with Range when cut
    search      the v1 search endpoint
    login       docker login's check of credentials (identity tokens)
    singleflight  one download per blob however many threads ask

The engine's pull/push/login/search sit on top of this package; nothing here knows
about the image store except the verifying reader it shares with it.
"""
