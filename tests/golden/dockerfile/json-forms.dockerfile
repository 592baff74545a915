FROM scratch
CMD ["echo", "hello world"]
CMD [ "spaces" ,  "around" ]
CMD ["single", 'quotes']
CMD ["unterminated", "bracket"
CMD ["unterminated string]
CMD "[\"a string\", \"holding JSON\"]"
CMD []
ENTRYPOINT []
RUN ["\u00e9t\u00e9", "tab\tand\nnewline"]
SHELL ["cmd", "/S", "/C"]
VOLUME ["/a", "/b"]
VOLUME [/not, json]
ADD ["with space.txt", "/dest dir/"]
COPY ["x"] /y
HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
