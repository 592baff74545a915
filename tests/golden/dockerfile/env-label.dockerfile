FROM scratch
ENV A=1
ENV B="two words" C='single $quoted' D=escaped\ space E=
ENV F=$A G=${A:-default} H="${B}" I=\$literal
ENV legacy value "with quotes" and $VAR
ENV J="multi \
line"
LABEL "com.example.vendor"="ACME Inc" com.example.version=0.0.1-beta
LABEL description="This text illustrates \
that label-values can span multiple lines."
LABEL single legacy label
ARG A B=2 C="3 4" D=
ARG E=$A
