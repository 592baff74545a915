# A plain file: every instruction once, in upper and lower case.
ARG BASE_TAG=1.36
FROM busybox:${BASE_TAG} AS base
MAINTAINER Jane Doe <jane@example.com>
LABEL org.example.name="a b" version=1 "quoted key"=v
ENV PATH=/opt/bin:$PATH HOME=/root
ENV LEGACY some value with  spaces
ARG WITH_DEFAULT=x NO_DEFAULT
WORKDIR /app
USER 1000:1000
VOLUME /data /cache
VOLUME ["/json volume"]
EXPOSE 8080/udp 80 443
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-eux", "-c"]
run echo "$HOME" && ls \
    -la
copy --chown=app:app src/ ./src/
add https://example.com/x.tar.gz /tmp/
Cmd ["serve", "--port", "80"]
ENTRYPOINT ["/entry.sh"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 CMD wget -q -O- localhost
ONBUILD COPY . /src
