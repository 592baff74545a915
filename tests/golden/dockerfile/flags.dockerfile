FROM --platform=linux/arm64 busybox AS build
RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1000,gid=1000 pip install x
RUN --mount=type=bind,source=.,target=/src,from=ctx --mount=type=tmpfs,target=/tmp,size=64m make
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc,required=true --mount=type=secret,id=tok,env=TOKEN npm ci
RUN --mount=type=ssh --mount=target=/a,rw --mount=type=bind,ro=false,target=/b true
RUN --mount="type=bind,target=/x y,source=a" --network=none --security=sandbox true
COPY --from=build --chown=1:2 --chmod=644 --link /out /out
COPY --parents --exclude=*.tmp --exclude=.git ./a/ ./b/ /dst/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar /
ADD --keep-git-dir=true --link=false --unpack git@github.com:moby/buildkit.git /bk
COPY --link=true a b
COPY --chown= a b
COPY -- --not-a-flag /x
