"""The registry's routes, one module per resource: blobs, uploads, manifests, listings
(tags, catalog, search). Each install() adds its routes through the app's guard, which
checks the repository name and the caller's access first."""
