# Multi-stage build: a static binary on a distroless base (~15 MB image).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/switchboard ./gateway \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
# The embedded default keeps its store under ./data: make it writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/switchboard/data
WORKDIR /var/lib/switchboard
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchboard"]
# Mount a config and pass: -config /etc/switchboard/switchboard.yaml
