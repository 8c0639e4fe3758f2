# portenv as a scratch image holding one static binary at /portenv.
#
#   docker build --build-arg VERSION=1.2.3 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd) -t portenv .
#   docker run --rm -p 9092 -v /var/run/docker.sock:/var/run/docker.sock portenv
#
# Other images take the binary with:
#   COPY --from=portenv /portenv /usr/local/bin/portenv

ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Module downloads stay cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Declared after the download so a new version does not refetch modules.
# `portenv version` prints them; the release stamps the same three.
ARG VERSION=dev
ARG REVISION=
ARG BUILD_DATE=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${REVISION} -X main.date=${BUILD_DATE}" \
      -o /portenv ./cmd/portenv

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
# The same labels and layout as the release images (.goreleaser.yaml).
LABEL org.opencontainers.image.title="portenv" \
      org.opencontainers.image.description="Exports a container's published host ports (HOST_PORT_9092=32769) as environment variables, read through the Docker Engine API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/portenv/portenv" \
      org.opencontainers.image.url="https://github.com/portenv/portenv" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /portenv /portenv
ENTRYPOINT ["/portenv"]
