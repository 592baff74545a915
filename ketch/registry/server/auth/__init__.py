"""Who may do what: access records per request, the htpasswd (Basic) and token (Bearer)
access controllers, and the WWW-Authenticate challenges they answer with.

    access    Access records (distribution's appendAccessRecords), the controller protocol
    htpasswd  Basic auth against an htpasswd file of bcrypt hashes
    token     Bearer auth: JWTs of a token issuer, verified with its key or certificate
"""
