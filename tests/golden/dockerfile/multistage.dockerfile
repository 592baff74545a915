ARG GO=1.22
ARG ALPINE
FROM golang:${GO} AS Builder
ARG GO
RUN go build -o /out/app .
FROM alpine:${ALPINE:-3.19} as runtime
COPY --from=builder /out/app /usr/bin/app
FROM runtime
FROM scratch AS scratch
FROM builder AS runtime
CMD app
ENTRYPOINT app
CMD ["app"]
ENTRYPOINT ["app"]
HEALTHCHECK NONE
healthcheck NONE
EXPOSE 80/TCP 127.0.0.1:8080:80 $PORT
