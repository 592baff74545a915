FROM scratch
RUN crlf \
  continued
CMD ["x"]
