FROM scratch
ONBUILD ADD . /app/src
ONBUILD   RUN   make  
onbuild run ["echo", "json"]
ONBUILD ENV A=1 B=2
ONBUILD WORKDIR /x
ONBUILD UNKNOWN is kept as written
