FROM scratch
RUN <<EOF
echo hello
echo $HOME
EOF
RUN <<-'EOT' sh -x
	echo tabs stripped
		echo both
	EOT
RUN 3<<FD cat /proc/self/fd/3
via fd
FD
RUN <<A <<"B"
a $X
A
b $X
B
RUN python3 <<PY
print("done")
PY
RUN echo "<<NOT" '<<NEITHER'
RUN ["sh", "-c", "<<NO"]
COPY <<file1.txt <<file2.txt /dest/
one
file1.txt
two
file2.txt
COPY --chmod=0755 <<-SCRIPT /usr/local/bin/run
	#!/bin/sh
	echo $1
SCRIPT
ADD a.txt <<inline.txt /files/
inline
inline.txt
RUN <<  SPACED
spaced
SPACED
RUN <<E"O"F
$NOT_EXPANDED
EOF
ONBUILD RUN <<EOF
echo trigger
EOF
