"""ketch's own registry server (``ketch registry serve``): the OCI distribution API and
Docker's registry API v2, with Basic (htpasswd) and token auth, TLS, and a v1 search.

    main        entry point: serve (foreground, signals) and gc
    config      registry.yaml (distribution's format) and flags -> Config
    app         routes, the auth guard, errors -> distribution's error body, access log
    context     what handlers share: the store, options, Location URLs
    handlers/   blobs, uploads, manifests, listings (tags, catalog, search)
    manifests   parse a PUT manifest, refuse ambiguous ones, what it references
    pagination  n/last and Link
    errcodes    distribution's error-code table
    names       repository names, tags, digests
    auth/       access records, htpasswd, token (JWT)
    store       distribution's on-disk layout on a storage driver
    drivers/    StorageDriver protocol: filesystem, inmemory
    gc          mark and sweep of unreferenced blobs
"""
