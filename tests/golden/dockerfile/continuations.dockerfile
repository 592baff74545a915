FROM scratch

RUN one\
  two\
    three  \
  four
RUN a  \  
b
RUN x \
 \
 y \
\
 z
RUN keep \
# a comment between the lines

# another, after an empty line
  going
   # indented comment inside
RUN a \\
RUN literal backslash \\ then more
ENV P=c:\\dir Q=a\ b
COPY ["a b", "c", \
      "/dest/"]
RUN the end \
