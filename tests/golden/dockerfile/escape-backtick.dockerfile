# escape=`
# a comment after the directive
FROM mcr.example.com/windows/servercore
ENV TEMP=C:\Temp WIN="C:\Program Files"
COPY app\bin C:\app\
RUN dir C:\ `
    && echo done
RUN ["powershell", "-Command", "Write-Host 'a\\b'"]
LABEL a=b` c
