#   Syntax = docker/dockerfile:1.7
# check=skip=JSONArgsRecommended,MaintainerDeprecated
#escape=\
# a plain comment ends the directives
# escape=`
FROM scratch
# syntax=not/a-directive
MAINTAINER someone
CMD run me
RUN a `
RUN b
